// The paging parameters of every paged tool, declared once: limit (items per page, with the tool's
// own default and words), offset (items to skip) and maxChars (the whole answer's budget). The
// answer's paging lines come from one place too (analysis/paged-answer.ts).
import * as z from 'zod';
import { MAX_CHARS, MAX_OFFSET, PAGE_LIMIT } from '../../limits.js';

/** The answer's budget, also taken by tools that cut rather than page (summaries, comparisons). */
export const maxCharsParam = z
  .number()
  .int()
  .min(MAX_CHARS.min)
  .max(MAX_CHARS.max)
  .optional()
  .meta({ default: MAX_CHARS.default, brief: 'Characters of the answer at most.' })
  .describe('Characters of the whole answer at most. The page ends at a packet boundary before this.');

export interface PagingWords {
  /** What limit counts, e.g. "Rows per page.". */
  readonly limit: string;
  /** limit's default, when one number fits every call (packets' depends on the output format). */
  readonly limitDefault?: number;
  /** The largest limit, when lower than PAGE_LIMIT.max. */
  readonly limitMax?: number;
  /** What offset skips, e.g. "Rows to skip.". */
  readonly offset: string;
}

/** limit, offset and maxChars, in that order, as a tool's input schema spreads them. */
export function pagingParams(words: PagingWords): {
  limit: z.ZodOptional<z.ZodNumber>;
  offset: z.ZodOptional<z.ZodNumber>;
  maxChars: typeof maxCharsParam;
} {
  const limit = z
    .number()
    .int()
    .min(PAGE_LIMIT.min)
    .max(words.limitMax ?? PAGE_LIMIT.max)
    .optional();
  return {
    limit: (words.limitDefault === undefined ? limit : limit.meta({ default: words.limitDefault })).describe(
      words.limit,
    ),
    offset: z.number().int().min(0).max(MAX_OFFSET).optional().meta({ default: 0 }).describe(words.offset),
    maxChars: maxCharsParam,
  };
}
