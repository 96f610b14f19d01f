// summarize_capture: "what is in here?" in a page: capinfos facts, protocol hierarchy, top
// conversations and endpoints, expert info.
import * as z from 'zod';
import { decodeHintLines } from '../../analysis/decode-hints.js';
import { captureSummarySchema, renderSummary } from '../../analysis/summary/index.js';
import { ANALYSIS_TIMEOUT_MS, MAX_CHARS, SUMMARY_TOP_N } from '../../limits.js';
import { captureLink } from '../resources.js';
import { UserError } from '../../errors.js';
import { defineTool, progressSink, textResult } from '../tool.js';
import type { ServerDeps } from '../tool.js';
import { hostFilter, hostParam } from './process-param.js';
import {
  cutAtLine,
  givenArgs,
  dissectionParams,
  keylogParam,
  maxCharsParam,
  sourceParam,
  sourceAndKeylog,
} from './analysis-params.js';

const inputSchema = z.object({
  source: sourceParam,
  topN: z
    .number()
    .int()
    .min(SUMMARY_TOP_N.min)
    .max(SUMMARY_TOP_N.max)
    .optional()
    .meta({ default: SUMMARY_TOP_N.default, brief: 'Rows of each kind.' })
    .describe('Conversations, endpoints and expert messages to show, of each kind.'),
  host: hostParam,
  sslKeylogFile: keylogParam,
  ...dissectionParams,
  maxChars: maxCharsParam,
});

const outputSchema = z.object({
  source: z.string(),
  host: z.string().optional().describe('The host the summary is narrowed to, when the call named one.'),
  ...captureSummarySchema.shape,
});

export const summarizeCaptureTool = defineTool({
  name: 'summarize_capture',
  title: 'Summarize a capture',
  brief:
    'What is in a capture, in one page: facts, limits, protocols, top conversations and endpoints, expert messages.',
  description:
    'What is in a capture, in one page: packets, size, duration, time span, interfaces and file type; one "Capture limits" line with counts of what limits the conclusions (packets the capture dropped, segments ACKed but never captured, packets cut by the snapshot length, bad checksums and whether the capture host sent them, time going backwards, duplicated packets); the protocol hierarchy; the top TCP, UDP and IP conversations and endpoints by bytes; expert-info counts by severity with the most frequent messages; ports whose payload tshark did not identify but decodes with a decode-as rule (e.g. HTTP/2 cleartext, as gRPC speaks it, on port 50051), with the exact decodeAs rule to add. For a capture session of this server on Linux (and a copy saved with its process sidecar), or a capture whose packets carry Wireshark\'s own process information (frame.process.*, Wireshark 4.7 and later, read instead of the sidecar), also the local processes behind the conversations: conversations and bytes per process (pid, program, user, command line), and the processes at the ends of each top conversation. In a capture of several interfaces (a capture of several hosts, start_capture_session with remote, has one per host, named after it), each conversation says which interfaces saw it ("on db-1 + db-2"), and host narrows the whole summary to the packets one host captured. Works on a capture file or a capture session (running or finished).',
  inputSchema,
  outputSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  handler: async (args, deps, ctx) => {
    const { source, keylog } = await sourceAndKeylog(deps, args, ctx.mcpReq.signal);
    const { keylogFile, dissection, warnings: keylogWarnings } = keylog;
    const summarize = async (file: string) =>
      deps.summarizer.summarize(
        {
          file,
          topN: args.topN ?? SUMMARY_TOP_N.default,
          keylogFile,
          dissection,
          timeoutMs: ANALYSIS_TIMEOUT_MS,
          live: source.live,
          droppedByDumpcap: source.droppedByDumpcap,
          // A session captured here: every address of this machine is the capture host's.
          hostAddresses:
            source.sessionId === undefined || source.remote === true
              ? undefined
              : (await deps.listInterfaces(ctx.mcpReq.signal)).local.flatMap((i) => i.addresses),
          decodeHints: true,
        },
        ctx.mcpReq.signal,
        progressSink(ctx),
      );
    const summary =
      args.host === undefined
        ? await summarize(source.file)
        : await onHost(deps, source.file, args.host, ctx.mcpReq.signal, summarize);
    const warnings = [...keylogWarnings, ...summary.warnings];
    // The facts and the File line are then of the host's packets, copied out of the capture.
    const label =
      args.host === undefined
        ? source.label
        : `${source.label}: only the packets captured on host ${args.host} (the File line is of them alone)`;
    const maxChars = args.maxChars ?? MAX_CHARS.default;
    const smaller = {
      ...givenArgs(args),
      topN: Math.max(1, Math.floor((args.topN ?? SUMMARY_TOP_N.default) / 2)),
    };
    // The call that shows a cut list whole, or as much of it as topN allows.
    const moreCall = (n: number): string => {
      const topN = Math.min(n, SUMMARY_TOP_N.max);
      const call = `summarize_capture ${JSON.stringify({ ...givenArgs(args), topN })}`;
      return topN < n ? `${call} shows ${topN}, the most topN allows` : call;
    };
    const hints = decodeHintLines(
      { hints: summary.decodeHints ?? [], cutShort: summary.decodeHintsCutShort },
      dissection?.decodeAs ?? [],
      (decodeAs) => `summarize_capture ${JSON.stringify({ ...givenArgs(args), decodeAs })}`,
    );
    const text = cutAtLine(
      renderSummary(label, summary, warnings, moreCall, hints),
      maxChars,
      `[cut at maxChars ${maxChars}: for a shorter answer call summarize_capture ${JSON.stringify(smaller)}]`,
    );
    return textResult(
      text,
      { source: source.label, ...(args.host !== undefined && { host: args.host }), ...summary, warnings },
      [captureLink(deps, source)],
    );
  },
});

/**
 * The summary of one host's packets (one capture interface's) of a capture of several hosts: the
 * packets captured there are copied out and summarized as a capture of their own.
 */
async function onHost<T>(
  deps: Pick<ServerDeps, 'exporter'>,
  file: string,
  host: string,
  signal: AbortSignal,
  summarize: (file: string) => Promise<T>,
): Promise<T> {
  const filter = hostFilter(host);
  return deps.exporter.withPacketsOf(file, filter, signal, async (selected, packets) => {
    if (packets === 0) {
      const names = await deps.exporter.interfaceNames(file, signal);
      throw new UserError(
        `No packet of this capture was captured on ${JSON.stringify(host)}. Its interfaces (hosts) are: ${names.length > 0 ? names.map((n) => JSON.stringify(n)).join(', ') : 'unnamed'}; give one of them as host, or leave host out for them all.`,
      );
    }
    return summarize(selected);
  });
}
