// inspect_protocol: digests with one row per transaction or object, paged like every answer.
import * as z from 'zod';
import { columnsOf, inspect, INSPECT_KINDS, KIND_DESCRIPTION } from '../../analysis/inspect.js';
import type { Row } from '../../analysis/inspect.js';
import { PageBuilder } from '../../analysis/page.js';
import { ANALYSIS_TIMEOUT_MS, DEFAULT_PAGE, MAX_CHARS, MAX_FILTER_LENGTH, MAX_OFFSET } from '../../limits.js';
import { plural } from '../../util/text.js';
import { captureLink } from '../resources.js';
import { defineTool, textResult } from '../tool.js';
import { givenArgs, keylogParam, sourceParam, sourceAndKeylog } from './analysis-params.js';
import { pagingParams } from './paging-params.js';

const inputSchema = z.object({
  source: sourceParam,
  kind: z.enum(INSPECT_KINDS).describe(KIND_DESCRIPTION),
  displayFilter: z
    .string()
    .max(MAX_FILTER_LENGTH)
    .optional()
    .describe('Narrow the packets read, e.g. "ip.addr == 10.0.0.5" (a Wireshark display filter).'),
  sslKeylogFile: keylogParam,
  reveal: z
    .boolean()
    .optional()
    .meta({ default: false })
    .describe('For credentials: show the secrets instead of redacting them.'),
  ...pagingParams({ limit: 'Rows per page.', limitDefault: DEFAULT_PAGE.rows, offset: 'Rows to skip.' }),
});

const outputSchema = z.object({
  source: z.string(),
  kind: z.enum(INSPECT_KINDS),
  columns: z.array(z.string()),
  rows: z
    .array(z.record(z.string(), z.union([z.string(), z.number(), z.null()])))
    .describe('The rows of this page.'),
  total: z.number().int(),
  offset: z.number().int(),
  nextOffset: z.number().int().nullable(),
  warnings: z.array(z.string()),
});

export const inspectProtocolTool = defineTool({
  name: 'inspect_protocol',
  title: 'Inspect a protocol',
  description:
    'Digests of a capture, one row per transaction or object: HTTP requests, DNS queries, TLS handshakes, TCP conversation health, cleartext credentials (redacted unless reveal), SIP calls and RTP streams, DHCP exchanges, ICMP. Tab-separated rows with a header, paged; the answer names the next call. Decrypts TLS with sslKeylogFile.',
  inputSchema,
  outputSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  handler: async (args, deps, ctx) => {
    const { source, keylog: resolved } = await sourceAndKeylog(deps, args.source, args.sslKeylogFile);
    await deps.analyzer.checkDisplayFilter(args.displayFilter, ctx.mcpReq.signal);
    const { rows, warnings } = await inspect(
      deps.processes,
      await deps.tools(),
      {
        file: source.file,
        kind: args.kind,
        displayFilter: args.displayFilter,
        keylogFile: resolved.keylogFile,
        reveal: args.reveal ?? false,
        live: source.live,
        timeoutMs: ANALYSIS_TIMEOUT_MS,
      },
      ctx.mcpReq.signal,
    );
    const columns = columnsOf(args.kind);
    const line = (row: Row): string => columns.map((c) => cell(row[c])).join('\t');
    const offset = args.offset ?? 0;
    const maxChars = args.maxChars ?? MAX_CHARS.default;
    const allWarnings = [...resolved.warnings, ...warnings];
    const header = (shown: string, next: string | undefined): string[] => [
      `Inspect ${args.kind} of ${source.label}`,
      `Display Filter: ${args.displayFilter ?? 'none'}`,
      shown,
      ...(next ? [next] : []),
      ...allWarnings.map((w) => `Warning: ${w}`),
      '',
      columns.join('\t'),
    ];
    const reserve =
      header(
        'Rows shown: 1000000-1000000 of 1000000, and more follow.',
        `Next page: inspect_protocol ${JSON.stringify({ ...givenArgs(args), offset: MAX_OFFSET })}`,
      ).join('\n').length + 10;
    const builder = new PageBuilder('fields', {
      offset,
      limit: args.limit ?? DEFAULT_PAGE.rows,
      maxChars: Math.max(200, maxChars - reserve),
    });
    for (const row of rows) {
      const text = line(row);
      if (builder.add({ text, length: text.length }) === 'stop') break;
    }
    const page = builder.finish();
    const nextOffset = page.moreMatch ? offset + page.shown : null;
    const noun = plural(rows.length, 'row');
    const shown =
      rows.length === 0
        ? `Rows: none. No ${args.kind} ${args.kind === 'tcp_health' ? 'conversation' : 'traffic'} found${args.displayFilter ? ' that matches the display filter' : ''}.`
        : page.shown === 0
          ? `Rows shown: none; offset ${offset} is past the end (${noun}).`
          : `Rows shown: ${offset + 1}-${offset + page.shown} of ${noun}${page.moreMatch ? ', and more follow.' : '.'}`;
    const next =
      nextOffset === null
        ? undefined
        : `Next page: inspect_protocol ${JSON.stringify({ ...givenArgs(args), offset: nextOffset })}`;
    const text = [...header(shown, next), page.body].join('\n');
    return textResult(
      text,
      {
        source: source.label,
        kind: args.kind,
        columns: [...columns],
        rows: rows.slice(offset, offset + page.shown),
        total: rows.length,
        offset,
        nextOffset,
        warnings: allWarnings,
      },
      [captureLink(deps, source)],
    );
  },
});

function cell(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '';
  return String(v).replace(/[\t\n]/g, ' ');
}
