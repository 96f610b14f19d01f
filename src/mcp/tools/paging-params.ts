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
  .meta({ default: MAX_CHARS.default, brief: '', listed: { default: null } })
  .describe('Characters of the whole answer at most. The page ends at a packet boundary before this.');

export interface PagingWords {
  /** What limit counts, e.g. "Rows per page.". */
  readonly limit: string;
  /** What tools/list says of limit, when shorter than `limit`. */
  readonly brief?: string;
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
    limit: limit
      .meta({
        ...(words.limitDefault === undefined ? {} : { default: words.limitDefault }),
        ...(words.brief === undefined ? {} : { brief: words.brief }),
      })
      .describe(words.limit),
    // Listed bare: offset is the same on every tool, and every cut answer gives the next one.
    offset: z.number().int().min(0).max(MAX_OFFSET).optional().meta({ brief: '' }).describe(words.offset),
    maxChars: maxCharsParam,
  };
}
