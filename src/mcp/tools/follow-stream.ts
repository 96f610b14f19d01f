// follow_stream: one conversation's payload in order, both directions marked, decrypted with a
// keylog, a page of chunks at a time.
import * as z from 'zod';
import { asciiOf, FOLLOW_PROTOCOLS, followArgument, followStream, hexdumpOf } from '../../analysis/follow.js';
import { UserError } from '../../errors.js';
import { ANALYSIS_TIMEOUT_MS, DEFAULT_PAGE, MAX_CHARS } from '../../limits.js';
import { plural } from '../../util/text.js';
import { captureLink } from '../resources.js';
import { defineTool, textResult } from '../tool.js';
import { givenArgs, keylogParam, sourceParam, sourceAndKeylog } from './analysis-params.js';
import { pagingParams } from './paging-params.js';

const inputSchema = z.object({
  source: sourceParam,
  protocol: z
    .enum(FOLLOW_PROTOCOLS)
    .optional()
    .meta({ default: 'tcp' })
    .describe('What to follow: tcp or udp payload, tls (decrypted application data), http, http2 or quic.'),
  stream: z
    .number()
    .int()
    .min(0)
    .max(100_000_000)
    .optional()
    .meta({ default: 0 })
    .describe(
      'Stream index (tcp.stream, udp.stream, or quic.connection.number for quic), as other answers show it.',
    ),
  between: z
    .string()
    .max(200)
    .optional()
    .describe('Instead of stream: the two endpoints, "10.0.0.1:51000,10.0.0.2:443" ([::1]:8080 for IPv6).'),
  substream: z
    .number()
    .int()
    .min(0)
    .max(1_000_000_000)
    .optional()
    .describe('For http2: the HTTP/2 stream id (default 1); for quic: the QUIC stream id (default 0).'),
  format: z
    .enum(['ascii', 'hex'])
    .optional()
    .meta({ default: 'ascii' })
    .describe('ascii: the payload as text (other bytes as "."); hex: a hex dump.'),
  sslKeylogFile: keylogParam,
  ...pagingParams({
    limit: 'Chunks (one per direction change or segment) per page.',
    limitDefault: DEFAULT_PAGE.chunks,
    offset: 'Chunks to skip.',
  }),
});

const outputSchema = z.object({
  source: z.string(),
  filter: z.string(),
  nodes: z.array(z.string()).describe('Node A (spoke first) and node B.'),
  chunks: z.number().int(),
  bytesAToB: z.number().int(),
  bytesBToA: z.number().int(),
  offset: z.number().int(),
  chunksShown: z.number().int(),
  nextOffset: z.number().int().nullable(),
});

export const followStreamTool = defineTool({
  name: 'follow_stream',
  title: 'Follow a stream',
  description:
    "One conversation's payload in order, both directions marked (A spoke first), as text or a hex dump: a TCP or UDP stream, TLS application data (decrypted with sslKeylogFile), HTTP, an HTTP/2 stream or a QUIC stream. Pick it by stream index or by its two endpoints. Pages by chunks; the answer names the next call.",
  inputSchema,
  outputSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  handler: async (args, deps, ctx) => {
    const { source, keylog: resolved } = await sourceAndKeylog(deps, args.source, args.sslKeylogFile);
    const protocol = args.protocol ?? 'tcp';
    const zArg = followArgument(protocol, args.stream, args.between, args.substream);
    const which =
      args.between ?? `stream ${args.stream ?? 0}${args.substream !== undefined ? `/${args.substream}` : ''}`;
    const { follow, warnings } = await followStream(
      deps.processes,
      await deps.tools(),
      {
        file: source.file,
        live: source.live,
        keylogFile: resolved.keylogFile,
        follow: zArg,
        which: `${protocol} ${args.between ?? `stream ${args.stream ?? 0}`}`,
        timeoutMs: ANALYSIS_TIMEOUT_MS,
      },
      ctx.mcpReq.signal,
    );
    if (follow.chunks.length === 0) {
      // A stream lost to damage in the file: the damage is the answer.
      const damage = warnings.length > 0 ? ` ${warnings.join(' ')}` : '';
      throw new UserError(
        `No ${protocol} payload in ${which} of ${source.label}${resolved.keylogFile === undefined && (protocol === 'tls' || protocol === 'http2' || protocol === 'quic') ? ' (it may be encrypted: give sslKeylogFile)' : ''}.${damage} Stream indexes start at 0; to list TCP streams: analyze_pcap_file {"source": ${JSON.stringify(args.source)}, "displayFilter": "tcp.flags.syn == 1 && tcp.flags.ack == 0", "outputFormat": "fields", "customFields": "tcp.stream,ip.src,tcp.srcport,ip.dst,tcp.dstport"}.`,
      );
    }

    const [a, b] = follow.nodes;
    const nodeA = a && a !== ':0' ? a : '(address not reported)';
    const nodeB = b && b !== ':0' ? b : '(address not reported)';
    const bytesAToB = follow.chunks.filter((c) => c.from === 0).reduce((s, c) => s + c.bytes.length, 0);
    const bytesBToA = follow.chunks.filter((c) => c.from === 1).reduce((s, c) => s + c.bytes.length, 0);
    const offset = args.offset ?? 0;
    const limit = args.limit ?? DEFAULT_PAGE.chunks;
    const maxChars = args.maxChars ?? MAX_CHARS.default;
    const format = args.format ?? 'ascii';

    const head = (shownLine: string, next: string | undefined): string[] => [
      `Follow ${protocol} ${which} of ${source.label}`,
      `Filter: ${follow.filter}`,
      `A (spoke first): ${nodeA}   B: ${nodeB}`,
      `Payload: ${plural(follow.chunks.length, 'chunk')}; A→B ${bytesAToB.toLocaleString('en-US')} bytes, B→A ${bytesBToA.toLocaleString('en-US')} bytes${resolved.keylogFile ? ` (TLS keylog ${resolved.keylogFile})` : ''}`,
      shownLine,
      ...(next ? [next] : []),
      ...[...resolved.warnings, ...warnings].map((w) => `Warning: ${w}`),
      '',
    ];
    const reserve =
      head(
        'Chunks shown: 1000000-1000000 of 1000000, and more follow.',
        `Next page: follow_stream ${JSON.stringify({ ...givenArgs(args), offset: 99_999_999 })}`,
      ).join('\n').length + 100;
    let budget = Math.max(200, maxChars - reserve);
    const body: string[] = [];
    let index = offset;
    for (; index < follow.chunks.length && body.length < limit; index++) {
      const chunk = follow.chunks[index];
      if (!chunk) break;
      const marker = `── ${chunk.from === 0 ? 'A→B' : 'B→A'} chunk ${index + 1}, ${plural(chunk.bytes.length, 'byte')}`;
      let payload = format === 'hex' ? hexdumpOf(chunk.bytes) : asciiOf(chunk.bytes);
      const cost = marker.length + payload.length + 2;
      if (cost > budget) {
        if (body.length > 0) break;
        const note = `\n[chunk cut at maxChars: ${payload.length.toLocaleString('en-US')} characters in all]`;
        payload = payload.slice(0, Math.max(0, budget - marker.length - note.length - 2)) + note;
        body.push(`${marker}\n${payload}`);
        index++;
        break;
      }
      body.push(`${marker}\n${payload}`);
      budget -= cost;
    }
    const more = index < follow.chunks.length;
    const shownLine =
      body.length === 0
        ? `Chunks shown: none; offset ${offset} is past the last chunk (${follow.chunks.length}).`
        : `Chunks shown: ${offset + 1}-${index} of ${follow.chunks.length}${more ? ', and more follow.' : '.'}`;
    const next = more
      ? `Next page: follow_stream ${JSON.stringify({ ...givenArgs(args), offset: index })}`
      : undefined;
    const text = [...head(shownLine, next), ...body].join('\n');
    return textResult(
      text,
      {
        source: source.label,
        filter: follow.filter,
        nodes: [nodeA, nodeB],
        chunks: follow.chunks.length,
        bytesAToB,
        bytesBToA,
        offset,
        chunksShown: body.length,
        nextOffset: more ? index : null,
      },
      [captureLink(deps, source)],
    );
  },
});
