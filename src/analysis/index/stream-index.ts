// Which TCP and UDP stream each frame of a capture belongs to, numbered as a whole-file tshark
// pass numbers them (tcp.stream, udp.stream). With it a drill-down can read a cut of the file that
// holds each stream it shows from the stream's first packet (handshakes, relative sequence numbers,
// TLS records in order), and print the whole file's stream numbers where the cut's own differ.
// This module holds the shape every reader codes to; the summary pass fills it.

export type StreamKind = 'tcp' | 'udp';

/** No stream: the frame carries no TCP (or no UDP). */
export const NO_STREAM = -1;

export interface StreamIndex {
  /** Frames 1..frames are covered; frames past it (a file that grew since) are not. */
  readonly frames: number;
  /** Bytes the index holds in memory. */
  readonly bytes: number;
  /** The whole file's stream number of `kind` for frame `frame` (1-based), or NO_STREAM. */
  streamOf(kind: StreamKind, frame: number): number;
  /** How many streams of `kind` the covered frames hold (numbers 0..count-1). */
  count(kind: StreamKind): number;
  /** The first and last frame of stream `stream`, or undefined for a number not in the index. */
  span(kind: StreamKind, stream: number): { readonly first: number; readonly last: number } | undefined;
  /** The frames of stream `stream` from `from` to `to` (inclusive, file frame numbers), in order. */
  framesOf(kind: StreamKind, stream: number, from?: number, to?: number): number[];
  /**
   * The latest TCP stream before `stream` on the same ends, when `stream` began with a SYN on them
   * (tshark flags it "[TCP Port numbers reused]"); absent where the index does not know.
   */
  reusedFrom?(stream: number): number | undefined;
}

/**
 * Bytes an index spends per frame: its TCP and its UDP stream as int32 (a tunnel's frame can have
 * both). Each stream adds 8 more (its first and last frame).
 */
export const STREAM_BYTES_PER_FRAME = 8;

/**
 * A StreamIndex held in typed arrays, not objects: a 2,000,000-frame capture takes 16 MB, plus 8
 * bytes a stream.
 */
export class ArrayStreamIndex implements StreamIndex {
  readonly frames: number;
  /** First and last frame (1-based) of each stream, in pairs. */
  private readonly spans: Record<StreamKind, Int32Array>;

  /**
   * `tcp` and `udp` hold each frame's stream (NO_STREAM for none), frame 1 first; `reused`, the TCP
   * streams that began on the ends of an earlier one, and that one.
   */
  constructor(
    private readonly of: Readonly<Record<StreamKind, Int32Array>>,
    private readonly reused: ReadonlyMap<number, number> = new Map(),
  ) {
    this.frames = of.tcp.length;
    this.spans = { tcp: spansOf(of.tcp), udp: spansOf(of.udp) };
  }

  get bytes(): number {
    return (
      this.of.tcp.byteLength + this.of.udp.byteLength + this.spans.tcp.byteLength + this.spans.udp.byteLength
    );
  }

  streamOf(kind: StreamKind, frame: number): number {
    return frame >= 1 && frame <= this.frames ? (this.of[kind][frame - 1] ?? NO_STREAM) : NO_STREAM;
  }

  count(kind: StreamKind): number {
    return this.spans[kind].length / 2;
  }

  span(kind: StreamKind, stream: number): { readonly first: number; readonly last: number } | undefined {
    const spans = this.spans[kind];
    if (!Number.isInteger(stream) || stream < 0 || 2 * stream >= spans.length) return undefined;
    return { first: spans[2 * stream] ?? 0, last: spans[2 * stream + 1] ?? 0 };
  }

  reusedFrom(stream: number): number | undefined {
    return this.reused.get(stream);
  }

  framesOf(kind: StreamKind, stream: number, from = 1, to = this.frames): number[] {
    const span = this.span(kind, stream);
    if (!span) return [];
    const of = this.of[kind];
    const frames: number[] = [];
    for (let n = Math.max(from, span.first); n <= Math.min(to, span.last); n++)
      if (of[n - 1] === stream) frames.push(n);
    return frames;
  }
}

/** Each stream's first and last frame; streams are numbered from 0 in the order they start. */
function spansOf(of: Int32Array): Int32Array {
  let count = 0;
  for (const s of of) if (s >= count) count = s + 1;
  const spans = new Int32Array(2 * count);
  for (let i = 0; i < of.length; i++) {
    const s = of[i] ?? NO_STREAM;
    if (s < 0) continue;
    if (spans[2 * s] === 0) spans[2 * s] = i + 1;
    spans[2 * s + 1] = i + 1;
  }
  return spans;
}
