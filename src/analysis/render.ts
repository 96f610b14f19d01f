// The text of an analysis answer in the seed's layout (header lines, then "Packet Analysis
// Results:" and tshark's output), with the paging facts in the header: which packets are shown,
// whether more match, and the exact arguments of the call that gets the next page.
import { MAX_CHARS } from '../limits.js';
import { plural } from '../util/text.js';
import type { AnalysisResult, Analyzer } from './analyze-capture.js';
import type { ProgressSink } from '../util/progress.js';
import type { ResolvedAnalysis } from './options.js';

export interface NextCall {
  readonly tool: string;
  readonly args: Readonly<Record<string, unknown>>;
}

export interface RenderContext {
  /** The first header line, e.g. "Analysis of '/tmp/x.pcap' complete!". */
  readonly title: string;
  /** Lines about the source that follow the title (a session's interface and duration). */
  readonly details?: readonly string[];
  /** For the `details` format: what tshark expands. */
  readonly detail?: { readonly protocols: readonly string[]; readonly bytes: boolean };
  /** The highest frame number the filter can select, when it selects frames by number. */
  readonly lastFrame?: number;
  readonly resolved: ResolvedAnalysis;
  /** The same call with some arguments changed (the offset of the next page, a larger maxChars). */
  readonly callWith: (changes: Readonly<Record<string, unknown>>) => NextCall;
}

/** Paging facts as structured content. */
export interface PagingFacts {
  readonly outputFormat: string;
  readonly displayFilter: string | null;
  readonly decryption: boolean;
  readonly offset: number;
  readonly packetsShown: number;
  readonly moreMatch: boolean;
  readonly nextOffset: number | null;
  readonly warnings: string[];
}

/** Characters kept for warnings found during the run, so the answer stays within maxChars. */
const RUNTIME_WARNING_ROOM = 600;

/** Characters the header may take; what is left of maxChars is the body's budget. */
export function headerReserve(ctx: RenderContext): number {
  const { resolved } = ctx;
  const worst = headerLines(ctx, {
    shownLine: `Packets shown: ${resolved.offset + 1}-${resolved.offset + resolved.limit} of those that match (${plural(resolved.limit, 'packet')}), and more match.`,
    next: resolved.offset + resolved.limit,
    warnings: resolved.warnings,
  });
  return worst.join('\n').length + '\n\nPacket Analysis Results:\n'.length + RUNTIME_WARNING_ROOM;
}

export function renderAnalysis(
  ctx: RenderContext,
  result: AnalysisResult,
): { text: string; facts: PagingFacts } {
  const { page, empty } = result;
  const { resolved } = ctx;
  const nextOffset = page.moreMatch && page.oversized === undefined ? page.offset + page.shown : undefined;
  let shownLine: string;
  if (page.oversized) {
    const { index, chars } = page.oversized;
    const needed = Math.ceil((chars + headerReserve(ctx)) / 1000) * 1000;
    const skip = ctx.callWith({ offset: page.offset + 1 });
    const see =
      needed <= MAX_CHARS.max
        ? (() => {
            const retry = ctx.callWith({ offset: page.offset, maxChars: needed });
            return `To see it: ${retry.tool} ${JSON.stringify(retry.args)}.`;
          })()
        : `That is more than the largest maxChars (${MAX_CHARS.max.toLocaleString('en-US')}) allows.`;
    shownLine = `Packets shown: none. Matching packet ${index + 1} alone is ${chars.toLocaleString('en-US')} characters of JSON, more than this answer's maxChars (${resolved.maxChars.toLocaleString('en-US')}) leaves room for, and JSON is never cut inside a packet. ${see} To skip it: ${skip.tool} ${JSON.stringify(skip.args)}. Or use outputFormat "fields" with customFields for just the values you need.`;
  } else if (empty?.kind === 'emptyCapture') {
    shownLine = 'Packets shown: none. The capture file holds 0 packets.';
  } else if (empty?.kind === 'noMatch') {
    const total =
      empty.totalPackets === undefined ? '' : ` (the capture holds ${plural(empty.totalPackets, 'packet')})`;
    shownLine = resolved.displayFilter
      ? `Packets shown: none. No packet matches the display filter${total}.`
      : `Packets shown: none${total}.`;
  } else if (empty?.kind === 'pastEnd') {
    shownLine = `Packets shown: none. offset ${page.offset} is past the end: ${plural(empty.matching, 'packet')} match. Use an offset below ${empty.matching}.`;
  } else {
    const range = `${page.offset + 1}-${page.offset + page.shown}`;
    const which = resolved.displayFilter ? 'of those that match' : 'of the capture';
    const more = page.moreMatch
      ? page.cutBy === 'maxChars'
        ? ', cut there by maxChars; more match.'
        : ', and more match.'
      : page.offset === 0
        ? ': all of them.'
        : ': the last ones.';
    shownLine = `Packets shown: ${range} ${which} (${plural(page.shown, 'packet')})${more}`;
    if (page.cutLine) shownLine += ' A line longer than maxChars was cut.';
  }

  const runtime = fitWarnings(result.warnings, RUNTIME_WARNING_ROOM);
  const warnings = [...resolved.warnings, ...runtime];
  const lines = headerLines(ctx, { shownLine, next: nextOffset, warnings });
  const text = `${lines.join('\n')}\n\nPacket Analysis Results:\n${page.body}`;
  return {
    text,
    facts: {
      outputFormat: resolved.outputFormat,
      displayFilter: resolved.displayFilter ?? null,
      decryption: resolved.keylogFile !== undefined,
      offset: page.offset,
      packetsShown: page.shown,
      moreMatch: page.moreMatch,
      nextOffset: nextOffset ?? null,
      warnings,
    },
  };
}

function headerLines(
  ctx: RenderContext,
  parts: { shownLine: string; next: number | undefined; warnings: readonly string[] },
): string[] {
  const { resolved } = ctx;
  const lines = [ctx.title];
  if (resolved.config) lines.push(`Using saved config: ${resolved.config.name}`);
  lines.push(...(ctx.details ?? []));
  lines.push(`Display Filter: ${resolved.displayFilter ?? 'none'}`);
  lines.push(`Output Format: ${resolved.outputFormat}`);
  if (resolved.outputFormat === 'fields')
    lines.push(`Fields (tab-separated columns): ${resolved.fields.join(', ')}`);
  lines.push(
    resolved.keylogWithoutSecrets !== undefined
      ? 'SSL Decryption: Disabled: the keylog holds no TLS secrets, so nothing is decrypted'
      : resolved.keylogFile === undefined
        ? 'SSL Decryption: Disabled'
        : `SSL Decryption: Enabled (keylog ${resolved.keylogFile}${resolved.keylogSource === 'SSLKEYLOGFILE' ? ', from SSLKEYLOGFILE' : ''})`,
  );
  lines.push(parts.shownLine);
  if (parts.next !== undefined) {
    const call = ctx.callWith({ offset: parts.next });
    lines.push(`Next page: ${call.tool} ${JSON.stringify(call.args)}`);
  }
  for (const w of parts.warnings) lines.push(`Warning: ${w}`);
  return lines;
}

function fitWarnings(warnings: readonly string[], room: number): string[] {
  const out: string[] = [];
  let left = room;
  for (const w of warnings) {
    const line = w.length + 10 > left ? `${w.slice(0, Math.max(0, left - 12))}…` : w;
    if (left - line.length - 10 < 0) break;
    out.push(line);
    left -= line.length + 10;
  }
  return out;
}

/** Reads one page of `file` as `ctx` describes it and renders the answer, header included. */
export async function answerPage(
  analyzer: Analyzer,
  source: { readonly file: string; readonly live: boolean },
  ctx: RenderContext,
  signal?: AbortSignal,
  progress?: ProgressSink,
): Promise<{ text: string; facts: PagingFacts }> {
  const { file, live } = source;
  const { resolved } = ctx;
  const result = await analyzer.analyze(
    {
      file,
      displayFilter: resolved.displayFilter,
      outputFormat: resolved.outputFormat,
      detail: ctx.detail,
      fields: resolved.fields,
      keylogFile: resolved.keylogFile,
      offset: resolved.offset,
      limit: resolved.limit,
      maxChars: Math.max(200, resolved.maxChars - headerReserve(ctx)),
      live,
      lastFrame: ctx.lastFrame,
    },
    signal,
    progress,
  );
  return renderAnalysis(ctx, result);
}
