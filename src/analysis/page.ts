// The output budget: takes packets in order and keeps those of one page, by packet count and by
// characters. Once the page is full it waits for one more packet only to learn whether more match,
// then asks the caller to stop reading. Pure and synchronous, so it is tested without tshark.
import type { PageFormat, Packet } from './packet-stream.js';

export interface PageLimits {
  /** Matching packets to skip before the page starts. */
  readonly offset: number;
  /** Packets on the page at most. */
  readonly limit: number;
  /** Characters of the page's body at most. */
  readonly maxChars: number;
}

export type PageCut = 'limit' | 'maxChars';

export interface Page {
  readonly format: PageFormat;
  /** The body: lines for text and fields, one JSON array (one packet a line) for json. */
  readonly body: string;
  readonly offset: number;
  readonly shown: number;
  /** Matching packets seen, the skipped ones included. */
  readonly matchedSeen: number;
  /** At least one more matching packet follows the page. */
  readonly moreMatch: boolean;
  /** What ended the page early, when something did. */
  readonly cutBy: PageCut | undefined;
  /** A text line longer than the whole budget was cut to fit. */
  readonly cutLine: boolean;
  /** The first packet of the page alone is larger than the budget and JSON cannot be cut. */
  readonly oversized: { readonly index: number; readonly chars: number } | undefined;
}

/** The characters a JSON page spends on its brackets, whatever it holds. */
export const JSON_FRAME = '[\n\n]'.length;

export class PageBuilder {
  private readonly packets: string[] = [];
  private chars: number;
  private matched = 0;
  private full = false;
  private more = false;
  private cut: PageCut | undefined;
  private lineCut = false;
  private tooBig: { index: number; chars: number } | undefined;

  constructor(
    private readonly format: PageFormat,
    private readonly limits: PageLimits,
  ) {
    this.chars = format === 'json' ? JSON_FRAME : 0;
  }

  /** Offers the next matching packet. 'stop' means the page is settled: stop reading. */
  add(packet: Packet): 'continue' | 'stop' {
    const index = this.matched++;
    if (this.full) {
      this.more = true;
      return 'stop';
    }
    if (index < this.limits.offset) return 'continue';

    const separator =
      this.packets.length === 0 ? 0 : this.format === 'text' || this.format === 'fields' ? 1 : 2;
    const cost = separator + packet.length;
    if (this.chars + cost <= this.limits.maxChars) {
      this.packets.push(packet.text);
      this.chars += cost;
      if (this.packets.length >= this.limits.limit) {
        this.full = true;
        this.cut = 'limit';
      }
      return 'continue';
    }

    this.cut = 'maxChars';
    if (this.packets.length > 0) {
      // This packet is the first of the next page.
      this.more = true;
      return 'stop';
    }
    if (this.format === 'json') {
      this.tooBig = { index, chars: packet.length };
      this.more = true;
      return 'stop';
    }
    // One text line larger than the whole budget: show its head rather than nothing.
    const note = ` … [line cut: ${packet.length} characters]`;
    const room = Math.max(0, this.limits.maxChars - this.chars - note.length);
    this.packets.push(packet.text.slice(0, room) + note);
    this.chars += room + note.length;
    this.lineCut = true;
    this.full = true;
    return 'continue';
  }

  /** The page as it stands; call once reading has stopped. */
  finish(): Page {
    const body =
      this.format === 'json'
        ? this.packets.length === 0
          ? '[]'
          : `[\n${this.packets.join(',\n')}\n]`
        : this.packets.join(this.format === 'details' ? '\n\n' : '\n');
    return {
      format: this.format,
      body,
      offset: this.limits.offset,
      shown: this.packets.length,
      matchedSeen: this.matched,
      moreMatch: this.more,
      cutBy: this.more ? this.cut : undefined,
      cutLine: this.lineCut,
      oversized: this.tooBig,
    };
  }
}
