// compare_captures: what differs between a capture that works and one that does not.
import * as z from 'zod';
import { compareDigests } from '../../analysis/compare.js';
import type { CaptureDigest, Comparison, Difference } from '../../analysis/compare.js';
import { inspect } from '../../analysis/inspect.js';
import type { InspectKind } from '../../analysis/inspect.js';
import { resolveAnalysis } from '../../analysis/options.js';
import { resolveSource } from '../../analysis/source.js';
import type { ResolvedSource } from '../../analysis/source.js';
import { ANALYSIS_TIMEOUT_MS, MAX_CHARS } from '../../limits.js';
import { captureLink } from '../resources.js';
import { defineTool, textResult } from '../tool.js';
import type { ServerDeps } from '../tool.js';
import { cutAtLine, givenArgs, keylogParam, maxCharsParam, sourceParam } from './analysis-params.js';

const inputSchema = z.object({
  baseline: sourceParam.describe('The capture that works (a file path or a capture session ID).'),
  candidate: sourceParam.describe('The capture that does not (a file path or a capture session ID).'),
  sslKeylogFile: keylogParam,
  limit: z
    .number()
    .int()
    .min(1)
    .max(1_000)
    .optional()
    .meta({ default: 20 })
    .describe('Entries shown per section.'),
  maxChars: maxCharsParam,
});

const difference = z.object({ what: z.string(), baseline: z.string(), candidate: z.string() });
const onlyIn = z.object({
  endpoints: z.array(z.string()),
  serverPorts: z.array(z.string()),
  protocols: z.array(z.string()),
});
const outputSchema = z.object({
  baseline: z.string(),
  candidate: z.string(),
  packets: z.object({ baseline: z.number().nullable(), candidate: z.number().nullable() }),
  onlyInBaseline: onlyIn,
  onlyInCandidate: onlyIn,
  tls: z.array(difference),
  http: z.array(difference),
  dns: z.array(difference),
  expert: z.array(difference),
  warnings: z
    .array(z.string())
    .describe('What to know about either capture (cut short, damaged and where), named by its side.'),
});

export const compareCapturesTool = defineTool({
  name: 'compare_captures',
  title: 'Compare two captures',
  description:
    'What differs between two captures, for "it works with curl but fails from my app": endpoints, server ports and protocols seen in only one; TLS handshake outcomes, HTTP statuses and DNS answers that differ; expert-info counts that changed. Each source is a capture file or a capture session ID.',
  inputSchema,
  outputSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  handler: async (args, deps, ctx) => {
    const [baseline, candidate] = await Promise.all([
      resolveSource(args.baseline, 'baseline', deps.sessions, deps.sandbox),
      resolveSource(args.candidate, 'candidate', deps.sessions, deps.sandbox),
    ]);
    const { keylogFile } = await resolveAnalysis(
      { sslKeylogFile: args.sslKeylogFile },
      deps.configs,
      deps.env,
      deps.sandbox,
    );
    const [a, b] = await Promise.all([
      digest(deps, baseline, keylogFile, ctx.mcpReq.signal),
      digest(deps, candidate, keylogFile, ctx.mcpReq.signal),
    ]);
    const comparison = compareDigests(a.digest, b.digest);
    const sided = [
      ...a.warnings.map((w) => ['baseline', w] as const),
      ...b.warnings.map((w) => ['candidate', w] as const),
    ];
    const warnings = sided.map(([side, w]) => `${side}: ${w}`);
    const maxChars = args.maxChars ?? MAX_CHARS.default;
    const limit = args.limit ?? 20;
    const shorter = { ...givenArgs(args), limit: Math.max(1, Math.floor(limit / 2)) };
    const text = cutAtLine(
      render(baseline.label, candidate.label, comparison, sided, limit),
      maxChars,
      `[cut at maxChars ${maxChars}: for a shorter answer call compare_captures ${JSON.stringify(shorter)}]`,
    );
    return textResult(
      text,
      { baseline: baseline.label, candidate: candidate.label, ...comparison, warnings },
      [captureLink(deps, baseline), captureLink(deps, candidate)],
    );
  },
});

async function digest(
  deps: ServerDeps,
  source: ResolvedSource,
  keylogFile: string | undefined,
  signal: AbortSignal,
): Promise<{ digest: CaptureDigest; warnings: string[] }> {
  const tools = await deps.tools();
  const summary = await deps.summarizer.summarize(
    { file: source.file, topN: 1_000_000, keylogFile, timeoutMs: ANALYSIS_TIMEOUT_MS, live: source.live },
    signal,
  );
  const warnings = new Set(summary.warnings);
  const rows = async (kind: InspectKind): Promise<CaptureDigest['tls']> => {
    const digest = await inspect(
      deps.processes,
      tools,
      {
        file: source.file,
        kind,
        displayFilter: undefined,
        keylogFile,
        reveal: false,
        live: source.live,
        timeoutMs: ANALYSIS_TIMEOUT_MS,
      },
      signal,
    );
    for (const w of digest.warnings) warnings.add(w);
    return digest.rows;
  };
  const [tls, http, dns] = [await rows('tls'), await rows('http'), await rows('dns')];
  return { digest: { summary, tls, http, dns }, warnings: [...warnings] };
}

function render(
  a: string,
  b: string,
  c: Comparison,
  warnings: readonly (readonly [string, string])[],
  limit: number,
): string {
  const lines = [
    `Compare baseline ${a}`,
    `   with candidate ${b}`,
    `Packets: ${c.packets.baseline ?? '?'} vs ${c.packets.candidate ?? '?'}`,
  ];
  const head = lines.length;
  lines.push(...warnings.map(([side, w]) => `Warning (${side}): ${w}`));
  const list = (title: string, items: string[]): void => {
    if (items.length === 0) return;
    const shown = items.slice(0, limit);
    lines.push(
      `  ${title}: ${shown.join(', ')}${items.length > shown.length ? ` (+${items.length - shown.length} more)` : ''}`,
    );
  };
  for (const [title, only] of [
    ['Only in baseline', c.onlyInBaseline],
    ['Only in candidate', c.onlyInCandidate],
  ] as const) {
    if (only.endpoints.length + only.serverPorts.length + only.protocols.length === 0) continue;
    lines.push('', `${title}:`);
    list('protocols', only.protocols);
    list('server ports', only.serverPorts);
    list('endpoints', only.endpoints);
  }
  const section = (title: string, diffs: Difference[]): void => {
    if (diffs.length === 0) return;
    lines.push('', `${title} (${diffs.length}):`);
    for (const d of diffs.slice(0, limit))
      lines.push(`  ${d.what}: baseline ${d.baseline}; candidate ${d.candidate}`);
    if (diffs.length > limit)
      lines.push(`  (+${diffs.length - limit} more: raise limit, or read structuredContent)`);
  };
  section('TLS handshakes that differ', c.tls);
  section('HTTP statuses that differ', c.http);
  section('DNS answers that differ', c.dns);
  section('Expert info that changed', c.expert);
  if (lines.length === head + warnings.length)
    lines.push('', 'No difference found in endpoints, ports, protocols, TLS, HTTP, DNS or expert info.');
  return lines.join('\n');
}
