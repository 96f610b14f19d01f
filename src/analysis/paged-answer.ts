// One paged answer, whichever tool gives it: the tool's own header lines, then the line that says
// which items are shown out of how many ("Packets shown", "Rows shown", "Chunks shown"), the exact
// call that gets the next page, the warnings, the lines that lead into the body, and the body. It
// also keeps room for all that in the call's maxChars, so the body gets only what is left.
// analyze_pcap_file, stop_capture_session and get_packet_details page packets, inspect_protocol
// rows, follow_stream chunks; all of them answer through here.
import { MAX_CHARS, MAX_OFFSET } from '../limits.js';
import { plural } from '../util/text.js';
import type { EmptyReason } from './analyze-capture.js';
import { JSON_FRAME } from './page.js';
import type { Page } from './page.js';

/** A tool call: the one that asked for a page, or the one that gets another. */
export interface PagedCall {
  readonly tool: string;
  readonly args: Readonly<Record<string, unknown>>;
}

/** The arguments as the caller gave them, without the ones left out: the base of a "next page" call. */
export function givenArgs(args: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(args).filter(([, v]) => v !== undefined));
}

/** `call` with some arguments changed (the offset of the next page, a larger maxChars). */
export function callWith(call: PagedCall, changes: Readonly<Record<string, unknown>>): PagedCall {
  return { tool: call.tool, args: { ...call.args, ...changes } };
}

/** A call as answers print it, ready to be sent as it is: `tool {"arg":"value"}`. */
export function callText(call: PagedCall): string {
  return `${call.tool} ${JSON.stringify(call.args)}`;
}

/** What every paged call gives besides what to read: where the page starts, its size, the call. */
export interface PageRequest {
  readonly offset?: number | undefined;
  readonly limit?: number | undefined;
  readonly maxChars?: number | undefined;
  /** The call that asks for this page: the next page repeats it with another offset. */
  readonly call: PagedCall;
}

/** What a tool pages. */
export type PageUnit = 'packets' | 'rows' | 'chunks';

/** Where a page of rows or chunks sits among all of them (their total is known before paging). */
export interface Span {
  readonly offset: number;
  readonly shown: number;
  readonly total: number;
}

/** "Rows shown: 11-20 of 57 rows, and more follow.", or why none are. */
export function rowsShown(span: Span): string {
  const noun = plural(span.total, 'row');
  if (span.shown === 0) return `Rows shown: none; offset ${span.offset} is past the end (${noun}).`;
  const end = span.offset + span.shown;
  return `Rows shown: ${span.offset + 1}-${end} of ${noun}${end < span.total ? ', and more follow.' : '.'}`;
}

/** "Chunks shown: 1-50 of 57, and more follow.", or why none are. */
export function chunksShown(span: Span): string {
  if (span.shown === 0)
    return `Chunks shown: none; offset ${span.offset} is past the last chunk (${span.total}).`;
  const end = span.offset + span.shown;
  return `Chunks shown: ${span.offset + 1}-${end} of ${span.total}${end < span.total ? ', and more follow.' : '.'}`;
}

/** A page of packets as the "shown" line tells it (their total is not known: tshark stops early). */
export interface PacketSpan {
  readonly offset: number;
  readonly shown: number;
  readonly more: boolean;
  /** A display filter chose the packets: "of those that match" rather than "of the capture". */
  readonly filtered: boolean;
  readonly cutBy: Page['cutBy'];
  readonly cutLine: boolean;
}

/**
 * "Packets shown: 1-100 of the capture (100 packets; at least 101 in all), and more match.", "...
 * (40 packets): all of them." and their kin: the page and the total, exact or a lower bound.
 */
export function packetsShown(span: PacketSpan): string {
  const end = span.offset + span.shown;
  const range = `${span.offset + 1}-${end}`;
  const which = span.filtered ? 'of those that match' : 'of the capture';
  // tshark is stopped once the page is full and one more packet matched: the total is known only
  // when it read to the end; otherwise it is at least the packets up to that one.
  const total = span.more
    ? `at least ${(end + 1).toLocaleString('en-US')} ${span.filtered ? 'match' : 'in all'}`
    : `${end.toLocaleString('en-US')} ${span.filtered ? 'match' : 'in all'}`;
  const more = span.more
    ? span.cutBy === 'maxChars'
      ? ', cut there by maxChars; more match.'
      : ', and more match.'
    : span.offset === 0
      ? ': all of them.'
      : ': the last ones.';
  const count =
    span.more || span.offset > 0 ? `${plural(span.shown, 'packet')}; ${total}` : plural(span.shown, 'packet');
  const line = `Packets shown: ${range} ${which} (${count})${more}`;
  return span.cutLine ? `${line} A line longer than maxChars was cut.` : line;
}

/** Why a page of packets is empty, in the "shown" line. */
export function noPacketsShown(empty: EmptyReason, offset: number, filtered: boolean): string {
  switch (empty.kind) {
    case 'emptyCapture':
      return 'Packets shown: none. The capture file holds 0 packets.';
    case 'noMatch': {
      const total =
        empty.totalPackets === undefined
          ? ''
          : ` (the capture holds ${plural(empty.totalPackets, 'packet')})`;
      return filtered
        ? `Packets shown: none. No packet matches the display filter${total}.`
        : `Packets shown: none${total}.`;
    }
    case 'pastEnd':
      return `Packets shown: none. offset ${offset} is past the end: ${plural(empty.matching, 'packet')} match. Use an offset below ${empty.matching}.`;
  }
}

/** Characters kept for packet warnings found while reading, so the answer stays within maxChars. */
const LATE_WARNING_ROOM = 600;

/**
 * For the room a header is given: the longest "shown" line and next-page offset a page of `limit`
 * items from `offset` can have, and the characters kept besides. The figures for rows and chunks
 * are those their tools always used, so pages end where they did.
 */
const ROOM: Record<
  PageUnit,
  { worst(offset: number, limit: number): { shown: string; next: number }; spare: number }
> = {
  packets: {
    worst: (offset, limit) => ({
      shown: packetsShown({
        offset,
        shown: limit,
        more: true,
        filtered: true,
        cutBy: 'limit',
        cutLine: false,
      }),
      next: offset + limit,
    }),
    // The line break before the body, and the warnings tshark gives while reading.
    spare: 1 + LATE_WARNING_ROOM,
  },
  rows: {
    worst: () => ({ shown: 'Rows shown: 1000000-1000000 of 1000000, and more follow.', next: MAX_OFFSET }),
    spare: 10,
  },
  chunks: {
    worst: () => ({ shown: 'Chunks shown: 1000000-1000000 of 1000000, and more follow.', next: 99_999_999 }),
    spare: 100,
  },
};

/** However long the header, the body gets at least this much, so a page shows something. */
const MIN_BODY_CHARS = 200;

export interface PagedAnswerParts {
  /** The call that asked for this page, with its arguments as given: the next page repeats it. */
  readonly call: PagedCall;
  /** The lines above the "shown" line: a title, the filter, facts about the source. */
  readonly head: readonly string[];
  /** Warnings known before the page is read, each printed as "Warning: ...". */
  readonly warnings: readonly string[];
  /** The lines between the header and the body: a blank line, a heading, column names. */
  readonly lead: readonly string[];
}

export class PagedAnswer {
  constructor(
    private readonly unit: PageUnit,
    private readonly parts: PagedAnswerParts,
  ) {}

  /** The same call with some arguments changed. */
  callWith(changes: Readonly<Record<string, unknown>>): PagedCall {
    return callWith(this.parts.call, changes);
  }

  /** The most characters the header (and lead) of a page of `limit` items from `offset` can take. */
  reserve(offset: number, limit: number): number {
    const room = ROOM[this.unit];
    const worst = room.worst(offset, limit);
    return this.lines(worst.shown, worst.next, this.parts.warnings).join('\n').length + room.spare;
  }

  /** The characters left of `maxChars` for the body of a page of `limit` items from `offset`. */
  bodyBudget(maxChars: number, offset: number, limit: number): number {
    return Math.max(MIN_BODY_CHARS, maxChars - this.reserve(offset, limit));
  }

  /**
   * The answer: the header with `shown` and, when `nextOffset` is given, the next page's call; the
   * warnings (those found while reading, `late`, cut to the room kept for them); the lead; the body.
   */
  render(page: {
    readonly shown: string;
    readonly nextOffset: number | undefined;
    readonly body: readonly string[];
    readonly late?: readonly string[];
  }): { text: string; warnings: string[] } {
    const warnings = [...this.parts.warnings, ...fitWarnings(page.late ?? [], LATE_WARNING_ROOM)];
    const text = [...this.lines(page.shown, page.nextOffset, warnings), ...page.body].join('\n');
    return { text, warnings };
  }

  /**
   * The "shown" line of a page whose first packet alone is more JSON than maxChars leaves room
   * for: the calls that show it (a larger maxChars, when one is allowed) and that skip it.
   */
  oversizedShown(
    page: Page & { oversized: NonNullable<Page['oversized']> },
    maxChars: number,
    limit: number,
  ): string {
    const { index, chars } = page.oversized;
    // The page's brackets count too: without them a packet within a few characters of a round
    // thousand was named with a maxChars it still did not fit in.
    const needed = Math.ceil((chars + JSON_FRAME + this.reserve(page.offset, limit)) / 1000) * 1000;
    const see =
      needed <= MAX_CHARS.max
        ? `To see it: ${callText(this.callWith({ offset: page.offset, maxChars: needed }))}.`
        : `That is more than the largest maxChars (${MAX_CHARS.max.toLocaleString('en-US')}) allows.`;
    const skip = callText(this.callWith({ offset: page.offset + 1 }));
    return `Packets shown: none. Matching packet ${index + 1} alone is ${chars.toLocaleString('en-US')} characters of JSON, more than this answer's maxChars (${maxChars.toLocaleString('en-US')}) leaves room for, and JSON is never cut inside a packet. ${see} To skip it: ${skip}. Or use outputFormat "fields" with customFields for just the values you need.`;
  }

  private lines(shown: string, nextOffset: number | undefined, warnings: readonly string[]): string[] {
    return [
      ...this.parts.head,
      shown,
      ...(nextOffset === undefined ? [] : [`Next page: ${callText(this.callWith({ offset: nextOffset }))}`]),
      ...warnings.map((w) => `Warning: ${w}`),
      ...this.parts.lead,
    ];
  }
}

/** Warnings cut to `room` characters in all (each line counted with its "Warning: " prefix). */
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
