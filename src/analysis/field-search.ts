// Finding tshark field names (list_fields's service): by protocol ("dhcp"), by words of their name
// and description ("your ip address" finds dhcp.ip.your, "Your (client) IP address"), or both. Every
// word must appear (as the start of a word) in the field's name, display name or description; the
// fields whose display name holds the words, and those of the exact protocol, come first. Reads the
// server's one copy of tshark's field list (wireshark/glossary.ts), so an answer takes milliseconds
// once it is loaded.
import * as z from 'zod';
import { UserError } from '../errors.js';
import { MAX_CHARS } from '../limits.js';
import { boundedEditDistance } from '../util/text.js';
import type { Glossary, GlossarySource } from '../wireshark/glossary.js';
import { words } from '../wireshark/field-suggestions.js';
import { PageBuilder } from './page.js';
import { PagedAnswer, rowsShown } from './paged-answer.js';
import type { PageRequest } from './paged-answer.js';

export const FIELD_PAGE_DEFAULT = 50;

/** One found field, as list_fields's structured content lists it. */
export const fieldEntrySchema = z.object({
  field: z.string().describe('The name display filters and customFields use.'),
  type: z
    .string()
    .describe('tshark\'s type, e.g. FT_IPv4, FT_UINT16, FT_STRING, FT_FRAMENUM, or "protocol".'),
  protocol: z.string(),
  name: z.string().describe('The display name.'),
  description: z.string(),
});

export const fieldSearchFactsSchema = z.object({
  protocol: z.string().nullable(),
  search: z.string().nullable(),
  total: z.number().int().describe('Fields that match, on every page.'),
  offset: z.number().int(),
  nextOffset: z.number().int().nullable(),
  fields: z.array(fieldEntrySchema).describe('The fields of this page, best match first.'),
});

export type FieldSearchFacts = z.infer<typeof fieldSearchFactsSchema>;

export interface FieldSearchRequest extends PageRequest {
  readonly protocol?: string | undefined;
  readonly search?: string | undefined;
}

/**
 * The indexes of the fields that match, best first. Pure (on a built glossary).
 * Scores per search word: in the display name 3, in the field name 2, in the description 1.
 */
export function searchFields(
  glossary: Glossary,
  protocol: string | undefined,
  search: string | undefined,
): number[] {
  const p = protocol?.trim().toLowerCase() || undefined;
  const wanted = words(search ?? '');
  const found: { i: number; score: number; length: number }[] = [];
  glossary.forEach((i, field, name, description, fieldProtocol) => {
    const f = field.toLowerCase();
    const exactProtocol = p !== undefined && (fieldProtocol === p || f === p);
    if (p !== undefined && !exactProtocol && !f.startsWith(`${p}.`)) return;
    if (wanted.length === 0) {
      found.push({ i, score: 0, length: 0 });
      return;
    }
    // A cheap test first: every word somewhere in the text.
    const text = `${f} ${name.toLowerCase()} ${description.toLowerCase()}`;
    if (!wanted.every((w) => text.includes(w))) return;
    const nameWords = words(name);
    const fieldWords = words(field);
    const descriptionWords = words(description);
    let score = 0;
    for (const w of wanted) {
      const starts = (list: readonly string[]): boolean => list.some((x) => x.startsWith(w));
      if (starts(nameWords)) score += nameWords.includes(w) ? 3.5 : 3;
      else if (starts(fieldWords)) score += 2;
      else if (starts(descriptionWords)) score += 1;
      else return;
    }
    // The protocol named among the words ("dhcp lease time"), or the one asked for.
    if (exactProtocol || wanted.includes(fieldProtocol)) score += 2;
    found.push({ i, score, length: field.length });
  });
  found.sort((a, b) => b.score - a.score || a.length - b.length);
  return found.map((f) => f.i);
}

/** Protocol names close to `protocol`, for the "no such protocol" answer. */
function closeProtocols(glossary: Glossary, protocol: string): string[] {
  const close: { p: string; d: number }[] = [];
  glossary.forEach((_i, field, _name, _description, fieldProtocol) => {
    if (field !== fieldProtocol) return;
    const d = boundedEditDistance(protocol, field, 2);
    if (d <= 2 || field.startsWith(protocol)) close.push({ p: field, d });
  });
  return close
    .sort((a, b) => a.d - b.d || a.p.length - b.p.length)
    .slice(0, 8)
    .map((c) => c.p);
}

/** list_fields's service. */
export class FieldFinder {
  constructor(private readonly glossary: GlossarySource) {}

  async page(
    req: FieldSearchRequest,
    signal?: AbortSignal,
  ): Promise<{ text: string; facts: FieldSearchFacts }> {
    const protocol = req.protocol?.trim() || undefined;
    const search = req.search?.trim() || undefined;
    if (protocol === undefined && search === undefined) {
      throw new UserError(
        'Give protocol (e.g. "dhcp"), search (words of the field\'s description, e.g. "your ip address"), or both.',
      );
    }
    if (protocol !== undefined && !/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(protocol)) {
      throw new UserError(
        `protocol: ${JSON.stringify(protocol)} is not a protocol name. Give one as display filters write it, e.g. "dhcp", "http" or "tcp".`,
      );
    }
    let glossary: Glossary;
    try {
      glossary = await this.glossary.get(signal);
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new UserError(
        `tshark's field list could not be read: ${(err as Error).message}. Try again shortly; the machine may be busy.`,
      );
    }
    const ranked = searchFields(glossary, protocol, search);
    if (protocol !== undefined && ranked.length === 0 && !glossary.hasProtocol(protocol.toLowerCase())) {
      const close = closeProtocols(glossary, protocol.toLowerCase());
      throw new UserError(
        `tshark knows no protocol "${protocol}".${close.length > 0 ? ` Close names: ${close.join(', ')}.` : ''} Give one of those, or leave protocol out and give search to look through every protocol's fields by words.`,
      );
    }
    const offset = req.offset ?? 0;
    const limit = req.limit ?? FIELD_PAGE_DEFAULT;
    const what = [protocol ? `of ${protocol}` : '', search ? `matching "${search}"` : '']
      .filter((s) => s !== '')
      .join(' ');
    const answer = new PagedAnswer('rows', {
      call: req.call,
      head: [
        `Fields ${what}: ${ranked.length.toLocaleString('en-US')} in all${search ? ', best match first' : ''}.`,
      ],
      warnings: [],
      lead: ['', 'field\ttype\tname\tdescription'],
    });
    const builder = new PageBuilder('fields', {
      offset: 0,
      limit,
      maxChars: answer.bodyBudget(req.maxChars ?? MAX_CHARS.default, offset, limit),
    });
    for (const i of ranked.slice(offset, offset + limit + 1)) {
      const e = glossary.entry(i);
      const text = [e.field, e.type, e.name, e.description]
        .map((c) => (c === '' ? '-' : c.replace(/[\t\n]/g, ' ')))
        .join('\t');
      if (builder.add({ text, length: text.length }) === 'stop') break;
    }
    // The builder sees only this page's share (and one more), so it counts from the offset on.
    const page = builder.finish();
    const nextOffset = offset + page.shown < ranked.length && page.shown > 0 ? offset + page.shown : null;
    const shown =
      ranked.length === 0
        ? `Rows: none. No field ${what}. Try fewer or other words${protocol ? ', or leave protocol out' : ''}.`
        : rowsShown({ offset, shown: page.shown, total: ranked.length });
    const { text } = answer.render({ shown, nextOffset: nextOffset ?? undefined, body: [page.body] });
    return {
      text,
      facts: {
        protocol: protocol ?? null,
        search: search ?? null,
        total: ranked.length,
        offset,
        nextOffset,
        fields: ranked.slice(offset, offset + page.shown).map((i) => glossary.entry(i)),
      },
    };
  }
}
