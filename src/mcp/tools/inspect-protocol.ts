// inspect_protocol: digests with one row per transaction or object, paged like every answer.
import * as z from 'zod';
import { INSPECT_KINDS, inspectFactsSchema, KIND_DESCRIPTION } from '../../analysis/inspect.js';
import { givenArgs } from '../../analysis/paged-answer.js';
import { DEFAULT_PAGE, MAX_FILTER_LENGTH } from '../../limits.js';
import { captureLink } from '../resources.js';
import { defineTool, textResult } from '../tool.js';
import { dissectionParams, keylogParam, sourceParam, sourceAndKeylog } from './analysis-params.js';
import { pagingParams } from './paging-params.js';
import { hostParam, narrowToProcess, processParam } from './process-param.js';

const inputSchema = z.object({
  source: sourceParam,
  kind: z.enum(INSPECT_KINDS).meta({ brief: '' }).describe(KIND_DESCRIPTION),
  displayFilter: z
    .string()
    .max(MAX_FILTER_LENGTH)
    .optional()
    .meta({ brief: '' })
    .describe('Narrow the packets read, e.g. "ip.addr == 10.0.0.5" (a Wireshark display filter).'),
  process: processParam,
  host: hostParam,
  sslKeylogFile: keylogParam,
  ...dissectionParams,
  reveal: z
    .boolean()
    .optional()
    .meta({ default: false, brief: '' })
    .describe('For credentials: show the secrets instead of redacting them.'),
  ...pagingParams({
    brief: '',
    limit: 'Rows per page.',
    limitDefault: DEFAULT_PAGE.rows,
    offset: 'Rows to skip.',
  }),
});

export const inspectProtocolTool = defineTool({
  name: 'inspect_protocol',
  title: 'Inspect a protocol',
  brief:
    'Digests of a capture: a row per request, query, handshake, call or connection, with failure counts.',
  description:
    'Digests of a capture, one row per transaction or object: HTTP requests, DNS queries, TLS handshakes, TCP conversation health, cleartext credentials (redacted unless reveal), SIP calls and RTP streams, DHCP exchanges, ICMP, SMTP mail attempts, FTP logins and transfers, SMB2/3 file operations, QUIC connections. Tab-separated rows with a header ("-" where a value does not apply), opening with one line over all rows; paged, the answer names the next call. Decrypts TLS with sslKeylogFile.',
  inputSchema,
  outputSchema: inspectFactsSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  handler: async (args, deps, ctx) => {
    const { source, keylog } = await sourceAndKeylog(deps, args, ctx.mcpReq.signal);
    const narrowed = await narrowToProcess(deps, source.file, args, ctx.mcpReq.signal);
    const { text, facts } = await deps.inspector.page(
      {
        ...args,
        displayFilter: narrowed.displayFilter,
        source,
        keylog,
        call: { tool: 'inspect_protocol', args: givenArgs(args) },
      },
      ctx.mcpReq.signal,
    );
    return textResult(narrowed.relabel(text), facts, [captureLink(deps, source)]);
  },
});
