// export_packets: a new pcapng with just the packets a display filter or one stream selects, for a
// minimal reproduction to attach to a bug report. Written only inside the roots, never over a file.
import * as z from 'zod';
import { packetExportSchema, sizeText, STREAM_PROTOCOLS } from '../../analysis/exports.js';
import { UserError } from '../../errors.js';
import { EXPORT_DEFAULTS, MAX_FILTER_LENGTH, MAX_PATH_LENGTH } from '../../limits.js';
import { hasControlChars, plural } from '../../util/text.js';
import { captureLink } from '../resources.js';
import { defineTool, textResult } from '../tool.js';
import {
  dissectionParams,
  keylogParam,
  streamIndex,
  sourceAndKeylog,
  sourceParam,
} from './analysis-params.js';
import { hostParam, narrowToProcess, processParam } from './process-param.js';

const inputSchema = z.object({
  source: sourceParam,
  displayFilter: z
    .string()
    .max(MAX_FILTER_LENGTH)
    .optional()
    .meta({ brief: '' })
    .describe('The packets to keep, as a Wireshark display filter (e.g. "dns || tcp.port == 8080").'),
  stream: streamIndex
    .optional()
    .meta({ brief: 'A tcp or udp (protocol) stream index.' })
    .describe(
      'Instead of (or besides) displayFilter: one stream index (tcp.stream or udp.stream), as other answers show it.',
    ),
  protocol: z
    .enum(STREAM_PROTOCOLS)
    .optional()
    .meta({ default: EXPORT_DEFAULTS.protocol, brief: '' })
    .describe('Which kind of stream `stream` counts: tcp or udp.'),
  process: processParam,
  host: hostParam,
  saveTo: z
    .string()
    .min(1)
    .max(MAX_PATH_LENGTH)
    .meta({ brief: '' })
    .describe('The pcapng file to write: a new file (never overwritten) inside the allowed directories.'),
  sslKeylogFile: keylogParam,
  ...dissectionParams,
  embedKeylog: z
    .boolean()
    .optional()
    .meta({ default: false, brief: 'Embed the TLS keylog.' })
    .describe(
      'Embed the TLS keylog in the new file (pcapng Decryption Secrets Block), so it opens decrypted anywhere. The file then holds secrets.',
    ),
});

export const exportPacketsTool = defineTool({
  name: 'export_packets',
  title: 'Export packets to a new capture',
  brief: 'Write a new pcapng of the packets a filter or stream selects (a minimal reproduction).',
  description:
    'Write a new pcapng holding only the packets a display filter or one TCP/UDP stream selects (a minimal reproduction for a bug report), optionally with the TLS keylog embedded. Answers with the file, its packet count and size, and a link to it. Writes only inside the allowed directories and never over an existing file.',
  inputSchema,
  outputSchema: packetExportSchema,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  handler: async (args, deps, ctx) => {
    if (hasControlChars(args.saveTo))
      throw new UserError('saveTo contains a control character; give a plain path.');
    const target = await deps.sandbox.checkTarget(args.saveTo, 'saveTo');
    const { source, keylog } = await sourceAndKeylog(deps, args, ctx.mcpReq.signal);
    const narrowed = await narrowToProcess(deps, source.file, args, ctx.mcpReq.signal);
    const done = await deps.exporter.exportPackets(
      { ...args, displayFilter: narrowed.displayFilter, source, keylog, target },
      ctx.mcpReq.signal,
    );
    const text = [
      `Exported ${plural(done.packets, 'packet')} of ${done.source} to ${done.file}`,
      ...(narrowed.label === undefined ? [] : [`Process: ${narrowed.label}`]),
      `Filter: ${cutFilter(done.filter)}`,
      `Size: ${sizeText(done.bytes)}${done.keylogEmbedded ? '; the TLS keylog is embedded (the file holds secrets)' : ''}`,
      ...done.warnings.map((w) => `Warning: ${w}`),
    ].join('\n');
    return textResult(text, done, [
      captureLink(deps, { file: done.file, label: done.file, sessionId: undefined, live: false }),
    ]);
  },
});

/** A filter as the answer shows it: a process's sockets can make thousands of characters. */
function cutFilter(filter: string): string {
  const MAX_SHOWN = 300;
  return filter.length <= MAX_SHOWN
    ? filter
    : `${filter.slice(0, MAX_SHOWN)}… (${filter.length.toLocaleString('en-US')} characters in all)`;
}
