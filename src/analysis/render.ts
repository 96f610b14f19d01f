// The text of an analysis answer in the seed's layout (header lines, then "Packet Analysis
// Results:" and tshark's output), paged through the one paged answer (./paged-answer.ts): which
// packets are shown, whether more match, and the exact call that gets the next page.
import * as z from 'zod';
import { OUTPUT_FORMATS } from '../limits.js';
import type { AnalysisResult, Analyzer } from './analyze-capture.js';
import type { ProgressSink } from '../util/progress.js';
import type { ResolvedAnalysis } from './options.js';
import { noPacketsShown, PagedAnswer, packetsShown } from './paged-answer.js';
import type { PagedCall } from './paged-answer.js';
import type { FrameRange } from './frames.js';

export interface RenderContext {
  /** The first header line, e.g. "Analysis of '/tmp/x.pcap' complete!". */
  readonly title: string;
  /** Lines about the source that follow the title (a session's interface and duration). */
  readonly details?: readonly string[];
  /** For the `details` format: what tshark expands. */
  readonly detail?: { readonly protocols: readonly string[]; readonly bytes: boolean };
  /** The highest frame number the filter can select, when it selects frames by number. */
  readonly lastFrame?: number;
  /** The frames the filter selects, as ranges (get_packet_details): trees may come from a cut. */
  readonly frames?: readonly FrameRange[];
  readonly resolved: ResolvedAnalysis;
  /** The call that asked for this page, its arguments as given: the next page repeats it. */
  readonly call: PagedCall;
}

/** Paging facts as structured content: the output schema of the tools that list packets. */
export const pagingFactsSchema = z.object({
  outputFormat: z.enum(OUTPUT_FORMATS),
  displayFilter: z.string().nullable(),
  decryption: z.boolean().describe('A TLS keylog was applied.'),
  offset: z.number().int(),
  packetsShown: z.number().int(),
  moreMatch: z.boolean(),
  nextOffset: z.number().int().nullable().describe('The offset of the next page, or null on the last page.'),
  warnings: z.array(z.string()),
});

/** get_packet_details's paging facts: the same, in the `details` format. */
export const detailsFactsSchema = pagingFactsSchema.extend({ outputFormat: z.literal('details') });

export type PagingFacts = z.infer<typeof pagingFactsSchema> | z.infer<typeof detailsFactsSchema>;

/** The answer's frame: its header lines, the warnings known before reading, its lead-in. */
function pagedAnswerOf(ctx: RenderContext): PagedAnswer {
  const { resolved } = ctx;
  const head = [ctx.title];
  if (resolved.config) head.push(`Using saved config: ${resolved.config.name}`);
  head.push(...(ctx.details ?? []));
  head.push(`Display Filter: ${resolved.displayFilter ?? 'none'}`);
  head.push(`Output Format: ${resolved.outputFormat}`);
  if (resolved.outputFormat === 'fields')
    head.push(`Fields (tab-separated columns): ${resolved.fields.join(', ')}`);
  head.push(
    resolved.keylogWithoutSecrets !== undefined
      ? 'SSL Decryption: Disabled: the keylog holds no TLS secrets, so nothing is decrypted'
      : resolved.keylogFile === undefined
        ? 'SSL Decryption: Disabled'
        : `SSL Decryption: Enabled (keylog ${resolved.keylogFile}${resolved.keylogSource === 'SSLKEYLOGFILE' ? ', from SSLKEYLOGFILE' : ''})`,
  );
  if (resolved.dissection.decodeAs.length > 0)
    head.push(`Decode As: ${resolved.dissection.decodeAs.join('; ')}`);
  if (resolved.dissection.preferences.length > 0)
    head.push(`Preferences: ${resolved.dissection.preferences.join('; ')}`);
  return new PagedAnswer('packets', {
    call: ctx.call,
    head,
    warnings: resolved.warnings,
    lead: ['', 'Packet Analysis Results:'],
  });
}

export function renderAnalysis(
  ctx: RenderContext,
  result: AnalysisResult,
): { text: string; facts: PagingFacts } {
  const { page, empty } = result;
  const { resolved } = ctx;
  const answer = pagedAnswerOf(ctx);
  const filtered = Boolean(resolved.displayFilter);
  const nextOffset = page.moreMatch && page.oversized === undefined ? page.offset + page.shown : undefined;
  const shown = page.oversized
    ? answer.oversizedShown({ ...page, oversized: page.oversized }, resolved.maxChars, resolved.limit)
    : empty
      ? noPacketsShown(empty, page.offset, filtered)
      : packetsShown({
          offset: page.offset,
          shown: page.shown,
          more: page.moreMatch,
          filtered,
          cutBy: page.cutBy,
          cutLine: page.cutLine,
        });
  const { text, warnings } = answer.render({ shown, nextOffset, body: [page.body], late: result.warnings });
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
      dissection: resolved.dissection,
      offset: resolved.offset,
      limit: resolved.limit,
      maxChars: pagedAnswerOf(ctx).bodyBudget(resolved.maxChars, resolved.offset, resolved.limit),
      live,
      lastFrame: ctx.lastFrame,
      frames: ctx.frames,
      reveal: resolved.reveal,
    },
    signal,
    progress,
  );
  return renderAnalysis(ctx, result);
}
