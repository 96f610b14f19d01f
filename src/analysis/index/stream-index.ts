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
}
