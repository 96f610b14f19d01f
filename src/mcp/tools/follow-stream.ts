// follow_stream: one conversation's payload in order, both directions marked, decrypted with a
// keylog, a page of chunks at a time.
import * as z from 'zod';
import { FOLLOW_FORMATS, FOLLOW_PROTOCOLS, followFactsSchema } from '../../analysis/follow.js';
import { givenArgs } from '../../analysis/paged-answer.js';
import { DEFAULT_PAGE, FOLLOW_DEFAULTS } from '../../limits.js';
import { captureLink } from '../resources.js';
import { defineTool, textResult } from '../tool.js';
import {
  dissectionParams,
  keylogParam,
  streamIndex,
  revealParam,
  sourceParam,
  sourceAndKeylog,
} from './analysis-params.js';
import { pagingParams } from './paging-params.js';
import { processParam } from './process-param.js';

const inputSchema = z.object({
  source: sourceParam,
  protocol: z
    .enum(FOLLOW_PROTOCOLS)
    .optional()
    .meta({ default: FOLLOW_DEFAULTS.protocol, brief: '' })
    .describe('What to follow: tcp or udp payload, tls (decrypted application data), http, http2 or quic.'),
  stream: streamIndex
    .optional()
    .meta({ default: FOLLOW_DEFAULTS.stream, brief: 'Stream index (quic: connection number).' })
    .describe(
      'Stream index (tcp.stream, udp.stream, or quic.connection.number for quic), as other answers show it.',
    ),
  between: z
    .string()
    .max(200)
    .optional()
    .meta({ brief: 'Instead of stream: "ip:port,ip:port".' })
    .describe('Instead of stream: the two endpoints, "10.0.0.1:51000,10.0.0.2:443" ([::1]:8080 for IPv6).'),
  substream: z
    .number()
    .int()
    .min(0)
    .max(1_000_000_000)
    .optional()
    .meta({ brief: 'The HTTP/2 or QUIC stream id.' })
    .describe('For http2: the HTTP/2 stream id (default 1); for quic: the QUIC stream id (default 0).'),
  format: z
    .enum(FOLLOW_FORMATS)
    .optional()
    .meta({ default: FOLLOW_DEFAULTS.format, brief: '' })
    .describe('ascii: the payload as text (other bytes as "."); hex: a hex dump.'),
  process: processParam.describe(
    'Only a stream of this local process: a pid (1234) or a command name ("curl"). A stream it did not own an end of is refused with the processes that did. Works on capture sessions of this server on Linux (and copies saved with saveTo), and on captures whose packets carry Wireshark\'s own process information (frame.process.*, Wireshark 4.7 and later); without it the header still names the processes at both ends.',
  ),
  sslKeylogFile: keylogParam,
  ...dissectionParams,
  reveal: revealParam,
  ...pagingParams({
    brief: '',
    limit: 'Chunks (one per direction change or segment) per page.',
    limitDefault: DEFAULT_PAGE.chunks,
    offset: 'Chunks to skip.',
  }),
});

export const followStreamTool = defineTool({
  name: 'follow_stream',
  title: 'Follow a stream',
  brief:
    "One conversation's payload in order, both directions, as text or hex: TCP, UDP, TLS (decrypted), HTTP, HTTP/2, QUIC.",
  description:
    "One conversation's payload in order, both directions marked (A spoke first), as text or a hex dump: a TCP or UDP stream, TLS application data (decrypted with sslKeylogFile), HTTP, an HTTP/2 stream or a QUIC stream. Pick it by stream index or by its two endpoints. Pages by chunks; the answer names the next call.",
  inputSchema,
  outputSchema: followFactsSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  handler: async (args, deps, ctx) => {
    const { source, keylog } = await sourceAndKeylog(deps, args, ctx.mcpReq.signal);
    const { text, facts } = await deps.follower.page(
      {
        ...args,
        source,
        sourceArg: args.source,
        keylog,
        call: { tool: 'follow_stream', args: givenArgs(args) },
      },
      ctx.mcpReq.signal,
    );
    return textResult(text, facts, [captureLink(deps, source)]);
  },
});
