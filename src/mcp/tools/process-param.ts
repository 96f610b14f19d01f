// The `process` parameter, declared once for the tools that read a capture's packets: a pid or a
// command name, narrowed through the capture's process record (analysis/process-scope.ts). The
// answer's header then names the process and shows the caller's own display filter, not the
// process filter joined to it (up to thousands of characters the caller never wrote).
import * as z from 'zod';
import { processScope } from '../../analysis/process-scope.js';
import type { ServerDeps } from '../tool.js';
import { UserError } from '../../errors.js';

export const processParam = z
  .union([z.number().int().positive().max(4_194_304), z.string().min(1).max(256)])
  .optional()
  .meta({ brief: '', listed: { type: 'string', anyOf: null } })
  .describe(
    'Only the conversations of this local process: a pid (1234) or a command name ("curl"; every pid of that name). Works on capture sessions of this server on Linux (and copies saved with saveTo), which record which process owned each connection, and on captures whose packets carry Wireshark\'s own process information (dumpcap --process-info, Wireshark 4.7 and later; then read from frame.process.*); other captures are refused.',
  );

/** A call's display filter with the process's joined to it, and its answer's header fixed after. */
export interface ProcessNarrowing {
  readonly displayFilter: string | undefined;
  /** "curl (pids 123, 456)", when the call names a process. */
  readonly label?: string | undefined;
  /** The answer's text with the header naming the process and the caller's own filter. */
  relabel(text: string): string;
}

/** Interface names as a remote capture gives them: a host name or address, maybe with :port and /interface. */
const HOST_LABEL = /^[A-Za-z0-9_.:@/[\]-]{1,300}$/;

export const hostParam = z
  .string()
  .min(1)
  .max(300)
  .optional()
  .meta({ brief: '' })
  .describe(
    "Only the packets captured on this host: in a capture of several hosts (start_capture_session with remote), each host's packets have the host as their interface name (summarize_capture's Interfaces line and the session's hosts list them); any capture's interface name works. capture_statistics can also group by it (groupBy [\"frame.interface_name\"]).",
  );

/** The display filter that keeps one host's packets (its capture interface's name). */
export function hostFilter(host: string): string {
  if (!HOST_LABEL.test(host))
    throw new UserError(
      `host ${JSON.stringify(host)} is not an interface name of a capture: give the host as summarize_capture's Interfaces line names it (e.g. "db-1" or "10.0.0.5").`,
    );
  return `frame.interface_name == "${host}"`;
}

/**
 * Narrows a call to `host` and `process` (when given) in `file`: the caller's filter is checked
 * first, so an error in it is reported as written rather than inside the joined filter.
 */
export async function narrowToProcess(
  deps: Pick<ServerDeps, 'analyzer'>,
  file: string,
  args: {
    readonly process?: string | number | undefined;
    readonly host?: string | undefined;
    readonly displayFilter?: string | undefined;
  },
  signal: AbortSignal | undefined,
): Promise<ProcessNarrowing> {
  const onHost = args.host === undefined ? undefined : hostFilter(args.host);
  if (onHost !== undefined) await deps.analyzer.checkDisplayFilter(args.displayFilter, signal);
  const filter =
    onHost === undefined
      ? args.displayFilter
      : args.displayFilter === undefined || args.displayFilter.trim() === ''
        ? onHost
        : `(${args.displayFilter}) && ${onHost}`;
  const hostLine = args.host === undefined ? '' : `Host: ${args.host}\n`;
  if (args.process === undefined)
    return {
      displayFilter: filter,
      relabel: (text) =>
        onHost === undefined
          ? text
          : text.replace(
              `Display Filter: ${filter}\n`,
              () => `${hostLine}Display Filter: ${args.displayFilter ?? 'none'}\n`,
            ),
    };
  await deps.analyzer.checkDisplayFilter(args.displayFilter, signal);
  const scope = await processScope(
    await deps.analyzer.processRecord(file, signal),
    args.process,
    filter,
    (f) => deps.analyzer.packetEnds(file, f, signal),
    signal,
  );
  return {
    displayFilter: scope.displayFilter,
    label: scope.label,
    relabel: (text) => {
      // Said once: a digest with a process column names the record itself.
      const record = text.includes(`\nProcess record: ${scope.origin}\n`)
        ? ''
        : `Process record: ${scope.origin}\n`;
      // A function, so a "$&" in a filter is not read as a replacement pattern.
      return text.replace(
        `Display Filter: ${scope.displayFilter}\n`,
        () =>
          `${hostLine}Process: ${scope.label}\n${record}Display Filter: ${args.displayFilter ?? 'none'}\n`,
      );
    },
  };
}
