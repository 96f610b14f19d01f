// The whole file's stream numbers from the ranges of a summary pass. Each range's tshark numbers
// TCP and UDP streams from its warm-up (the packets before the range it reads for context), so a
// range's stream 0 is whatever stream its first packet belongs to. The ranges are taken in order:
// a range's streams seen in its warm-up are the streams those frames have in the range before; a
// stream a range meets first is a new stream of the whole file, or one started before its warm-up
// with the same ends (UDP streams never end; TCP ones end where tshark's own rule says: a SYN
// without ACK whose sequence number is not the base the stream set for that direction). Where a
// range's tshark could have decided otherwise than a whole-file pass (a frame with two TCP or UDP
// headers, a stream whose ends change, a SYN the range kept in its stream that the whole file
// would start a new one with), the answer says the index would not be exact, and there is none.
import { ArrayStreamIndex, NO_STREAM } from './stream-index.js';
import type { StreamIndex, StreamKind } from './stream-index.js';

/** Where tshark set one direction's base sequence number of a TCP stream. */
export interface BaseSeq {
  /** The end the direction comes from ("10.0.0.1:80", "[::1]:53"). */
  readonly from: string;
  /** The range's frame (1-based, its warm-up first) whose packet set it. */
  readonly at: number;
  readonly base: number;
}

/** One stream of a range, as its tshark numbered it. */
export interface RangeStream {
  /** Both ends, the lower (as text) first: the same for every range that meets the stream. */
  readonly ends: string;
  /** TCP: the base sequence numbers its counted packets set. */
  readonly bases: readonly BaseSeq[];
  /**
   * Its conversation was set up before its first packet, by another dissector (SDP for RTP, FTP for
   * its data): a new stream, though earlier streams had the same ends.
   */
  readonly external: boolean;
}

/** What one range's pass says of its frames' streams. */
export interface RangeStreams {
  /** Each frame's TCP stream then UDP stream (NO_STREAM: none), the warm-up's frames first. */
  readonly frames: Int32Array;
  readonly warmup: number;
  readonly streams: Readonly<Record<StreamKind, ReadonlyMap<number, RangeStream>>>;
  /** Counted SYNs without ACK, by the range's frame number. */
  readonly syns: ReadonlyMap<number, { readonly from: string; readonly seq: number }>;
  /** Why this range's numbering cannot be mapped exactly, if it cannot. */
  readonly inexact: string | undefined;
}

/** A range whose streams are not known ends the index there. */
export type Assembled =
  { readonly index: StreamIndex } | { readonly index: undefined; readonly reason: string };

/** Ends of a stream, as both a pass in C and one from per-packet lines write them. */
export function endsOf(a: string, b: string): string {
  return a < b ? `${a} ${b}` : `${b} ${a}`;
}

const KINDS: readonly StreamKind[] = ['tcp', 'udp'];

/** The whole file's streams of `ranges`, consecutive and in order (the first has no warm-up). */
export function assembleStreams(ranges: readonly RangeStreams[]): Assembled {
  let total = 0;
  for (const r of ranges) {
    if (r.inexact !== undefined) return { index: undefined, reason: r.inexact };
    total += r.frames.length / 2 - r.warmup;
  }
  const out = { tcp: new Int32Array(total).fill(NO_STREAM), udp: new Int32Array(total).fill(NO_STREAM) };
  const state = { tcp: new KindState(), udp: new KindState() };
  let start = 0; // frames before the range's first counted one
  for (const [index, r] of ranges.entries()) {
    if (r.warmup > start)
      return { index: undefined, reason: `range ${index}'s warm-up starts before the file` };
    for (const [k, kind] of KINDS.entries()) {
      const problem = mapRange(r, k, start, out[kind], state[kind]);
      if (problem !== undefined) return { index: undefined, reason: `range ${index}: ${problem}` };
    }
    start += r.frames.length / 2 - r.warmup;
  }
  return { index: new ArrayStreamIndex(out) };
}

/** The whole file's streams of one kind so far. */
class KindState {
  count = 0;
  /** The latest stream with these ends: the one tshark finds for a packet between them. */
  readonly latest = new Map<string, number>();
  /** TCP: each stream's base sequence numbers, by the end each direction comes from. */
  readonly bases: Map<string, { at: number; base: number }>[] = [];

  /** Frame `at` (1-based, whole file)'s view of `stream`'s base from `from`. */
  baseBefore(stream: number, from: string, at: number): number | undefined {
    const b = this.bases[stream]?.get(from);
    return b && b.at < at ? b.base : undefined;
  }

  /** The bases a range's stream set, kept where they came first. */
  merge(stream: number, bases: readonly BaseSeq[], offset: number): void {
    const held = (this.bases[stream] ??= new Map());
    for (const b of bases) {
      const at = offset + b.at;
      const now = held.get(b.from);
      if (!now || at < now.at) held.set(b.from, { at, base: b.base });
    }
  }
}

/** Maps one range's streams of one kind into `out`; a reason when they cannot be mapped exactly. */
function mapRange(
  r: RangeStreams,
  k: number,
  start: number,
  out: Int32Array,
  state: KindState,
): string | undefined {
  const tcp = k === 0;
  const frames = r.frames.length / 2;
  const offset = start - r.warmup; // the range's frame i (1-based) is the file's frame offset + i
  const map = new Map<number, number>();
  for (let i = 0; i < r.warmup; i++) {
    const local = r.frames[2 * i + k] ?? NO_STREAM;
    const whole = out[offset + i] ?? NO_STREAM;
    if (local < 0 !== whole < 0) return `frame ${offset + i + 1} has a stream in one pass only`;
    if (local < 0) continue;
    const held = map.get(local);
    if (held === undefined) map.set(local, whole);
    else if (held !== whole) return `two streams of frames before it are one in its warm-up`;
  }
  const merged = new Set<number>();
  // The file's first range has no warm-up: its numbers are the whole file's.
  const first = start === 0 && r.warmup === 0;
  for (let i = r.warmup; i < frames; i++) {
    const local = r.frames[2 * i + k] ?? NO_STREAM;
    if (local < 0) continue;
    const frame = offset + i + 1;
    const syn = tcp ? r.syns.get(i + 1) : undefined;
    let whole = map.get(local);
    if (whole === undefined && first) {
      whole = local;
      const stream = r.streams[tcp ? 'tcp' : 'udp'].get(local);
      if (stream) state.latest.set(stream.ends, local);
      state.count = Math.max(state.count, local + 1);
      map.set(local, whole);
    } else if (whole === undefined) {
      const stream = r.streams[tcp ? 'tcp' : 'udp'].get(local);
      if (!stream) return `stream ${local} has no ends`;
      const before = state.latest.get(stream.ends);
      // Another dissector made its conversation (SDP for RTP): whether the whole file has one
      // more stream there depends on packets before the warm-up.
      if (before !== undefined && stream.external)
        return `stream ${stream.ends} may or may not be new at frame ${frame}`;
      let fresh = before === undefined;
      if (!fresh && before !== undefined && syn) {
        const base = state.baseBefore(before, syn.from, frame);
        fresh = base !== undefined && base !== syn.seq;
      }
      whole = before ?? -1;
      if (fresh) {
        whole = state.count++;
        state.latest.set(stream.ends, whole);
      }
      map.set(local, whole);
    } else if (syn && !first) {
      // The range kept the SYN in its stream: so must the whole file.
      const base = state.baseBefore(whole, syn.from, frame);
      if (base !== undefined && base !== syn.seq)
        return `the SYN of frame ${frame} starts a stream in the whole file only`;
    }
    if (tcp && !merged.has(local)) {
      merged.add(local);
      state.merge(whole, r.streams.tcp.get(local)?.bases ?? [], offset);
    }
    out[frame - 1] = whole;
  }
  return undefined;
}
