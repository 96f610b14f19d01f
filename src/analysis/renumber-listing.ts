// Packet listings (text lines, `-T fields` lines, `-T json` packets) read from a cut of a capture,
// told in the whole file's numbers: the cut numbers its frames from 1 and its TCP and UDP streams
// from 0, where the file has its own. Every value that is a frame number is rewritten (frame.number
// and each field of type FT_FRAMENUM, known from tshark's glossary; frames an expert message names
// in its text; in a text line the number in
// front and the Info column's links "(reply in 12)", "[Reassembled in #12]"), and each tcp.stream
// and udp.stream from the stream index. A stream number the index cannot give (a header quoted in
// an ICMP error, a tunnel's inner stream seen first there) is counted as unmapped: the reader then
// reads the whole file rather than show a number that is the cut's; so too for the other numbers
// tshark gives conversations in file order (QUIC connections).
import type { StreamIndex, StreamKind } from './index/stream-index.js';
import { NO_STREAM } from './index/stream-index.js';

export interface ListingNumbers {
  /** The file frame of cut frame n (1-based). */
  readonly fileFrame: (n: number) => number;
  readonly streams: StreamIndex;
  /** Whether a field (by its filter name) holds a frame number (FT_FRAMENUM). */
  readonly isFrameField: (field: string) => boolean;
  /**
   * The number the cut should give the file's stream (tshark numbers streams in the order it
   * meets them): a cut that numbered it otherwise met the stream otherwise than the whole file did
   * (a conversation another packet set up, left out of the cut), and its values are not the file's.
   */
  readonly expectedCut?: ((kind: StreamKind, fileStream: number) => number | undefined) | undefined;
}

const STREAM_FIELDS: ReadonlyMap<string, StreamKind> = new Map([
  ['tcp.stream', 'tcp'],
  ['udp.stream', 'udp'],
]);

/**
 * Other numbers tshark gives conversations in the order it meets them through the file, which no
 * index here holds: a cut numbers them otherwise, so a page showing one is read from the whole file.
 */
const FILE_ORDER_NUMBERS: ReadonlySet<string> = new Set([
  'quic.connection.number',
  'mptcp.stream',
  'sctp.assoc_index',
]);

/** Rewrites packets of one listing; keeps what it learned of the cut's streams between packets. */
export class ListingRenumberer {
  /** The file's number of each cut stream seen ("tcp:3" -> 17). */
  private readonly streamMap = new Map<string, number>();
  /** Numbers that could not be told in the file's numbers. */
  unmapped = 0;
  /** Why, for the first of them. */
  why: string | undefined;

  constructor(private readonly numbers: ListingNumbers) {}

  /** The file's number of cut stream `cut` of `kind` in file frame `frame`; `first`: the packet's first of that kind. */
  private stream(kind: StreamKind, cut: number, frame: number, first: boolean): number | undefined {
    const key = `${kind}:${cut}`;
    if (first) {
      const file = this.numbers.streams.streamOf(kind, frame);
      if (file !== NO_STREAM) {
        const expected = this.numbers.expectedCut?.(kind, file);
        if (expected !== undefined && expected !== cut) {
          this.why ??= `the cut met ${kind} stream ${file} otherwise than the whole file (a packet left out of the cut set up its conversation)`;
          return undefined;
        }
        const known = this.streamMap.get(key);
        // The cut numbered two of the file's streams alike, or one otherwise: not to be trusted.
        if (known !== undefined && known !== file) return undefined;
        this.streamMap.set(key, file);
        return file;
      }
    }
    return this.streamMap.get(key);
  }

  private value(field: string, value: string, frame: () => number, seen: Set<StreamKind>): string {
    // Expert messages name frames in their text: "Original request in frame 67".
    if (field === '_ws.expert.message')
      return value.replace(
        /\b(frame #?)(\d+)\b/gi,
        (_w, word: string, n: string) => `${word}${this.numbers.fileFrame(Number(n))}`,
      );
    if (!/^\d+$/.test(value)) return value;
    if (FILE_ORDER_NUMBERS.has(field)) {
      this.why ??= `${field} counts through the whole file`;
      this.unmapped++;
      return value;
    }
    const kind = STREAM_FIELDS.get(field);
    if (kind) {
      const file = this.stream(kind, Number(value), frame(), !seen.has(kind));
      seen.add(kind);
      if (file === undefined) {
        this.why ??= `${field} ${value} on the page is not in the stream index`;
        this.unmapped++;
        return value;
      }
      return String(file);
    }
    if (field === 'frame.number' || this.numbers.isFrameField(field))
      return String(this.numbers.fileFrame(Number(value)));
    return value;
  }

  /** A text line: the frame number in front, and frame links in its Info column. */
  text(line: string): string {
    const m = /^( *)(\d+) /.exec(line);
    if (!m?.[2]) return line;
    const n = this.numbers.fileFrame(Number(m[2]));
    const rest = line
      .slice(m[0].length - 1)
      .replace(
        /\((reply|request) in (\d+)\)/g,
        (_w, k: string, v: string) => `(${k} in ${this.numbers.fileFrame(Number(v))})`,
      )
      .replace(
        /\[Reassembled in #(\d+)\]/g,
        (_w, v: string) => `[Reassembled in #${this.numbers.fileFrame(Number(v))}]`,
      );
    // tshark right-aligns the number in at least 5 characters (print_columns).
    return `${String(n).padStart(5)}${rest}`;
  }

  /**
   * A `-T fields` line of `fields` (tab-separated; a field's several values comma-separated).
   * `numberColumn`: where frame.number is, for the frame a stream number belongs to.
   */
  fields(line: string, fields: readonly string[], numberColumn: number | undefined): string {
    const values = line.split('\t');
    const cutFrame = numberColumn === undefined ? undefined : Number(values[numberColumn]);
    const frame = (): number => {
      if (cutFrame === undefined || !Number.isInteger(cutFrame)) {
        this.unmapped++;
        return 0;
      }
      return this.numbers.fileFrame(cutFrame);
    };
    const seen = new Set<StreamKind>();
    for (let i = 0; i < values.length; i++) {
      const field = fields[i];
      const v = values[i];
      if (field === undefined || v === undefined || v === '') continue;
      values[i] = v
        .split(',')
        .map((x) => this.value(field, x, frame, seen))
        .join(',');
    }
    return values.join('\t');
  }

  /**
   * One packet of `-T json` output as the page keeps it (compact JSON, packet-stream.ts): each
   * `"field": "value"`, or `"field": ["value", ...]` for a field that repeats. The frame's own
   * number comes first.
   */
  json(text: string): string {
    if (text === '') return text;
    let frame = 0;
    const seen = new Set<StreamKind>();
    const walk = (node: unknown): unknown => {
      if (Array.isArray(node)) return node.map(walk);
      if (node === null || typeof node !== 'object') return node;
      const out: Record<string, unknown> = {};
      for (const [field, value] of Object.entries(node)) {
        if (field === 'frame.number' && frame === 0 && typeof value === 'string')
          frame = this.numbers.fileFrame(Number(value));
        if (typeof value === 'string') out[field] = this.value(field, value, () => frame, seen);
        else if (Array.isArray(value) && value.every((v) => typeof v === 'string'))
          out[field] = value.map((v: string) => this.value(field, v, () => frame, seen));
        else out[field] = walk(value);
      }
      return out;
    };
    return JSON.stringify(walk(JSON.parse(text)));
  }
}
