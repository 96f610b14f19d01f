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

/**
 * A range whose streams are not known ends the index there. An index carries the assembler that made
 * it, which the ranges of a file that grew since extend.
 */
export type Assembled =
  | { readonly index: StreamIndex; readonly assembler?: StreamAssembler | undefined }
  | { readonly index: undefined; readonly reason: string };

/**
 * The streams a summary's ranges recorded, made into the index only when a drill-down first needs
 * one (a summary that is all an agent asks for spends nothing on it).
 */
export interface PendingStreams {
  /** Bytes held until then, about. */
  readonly bytes: number;
  readonly assemble: () => Promise<Assembled>;
}

/** Ends of a stream, as both a pass in C and one from per-packet lines write them. */
export function endsOf(a: string, b: string): string {
  return a < b ? `${a} ${b}` : `${b} ${a}`;
}

const KINDS: readonly StreamKind[] = ['tcp', 'udp'];

/**
 * The whole file's streams of `ranges`, consecutive and in order (the first has no warm-up), a
 * range at a time, letting other work run between them: the ranges of a million frames of short
 * connections take a second to map, which would otherwise hold up every call.
 */
export async function assembleStreamsSoon(ranges: readonly RangeStreams[]): Promise<Assembled> {
  const assembler = new StreamAssembler();
  for (const [index, r] of ranges.entries()) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    const problem = assembler.append(r, `range ${index}`);
    if (problem !== undefined) return { index: undefined, reason: problem };
  }
  return { index: assembler.index(), assembler };
}

/**
 * The whole file's streams, range after range: what it has seen of each stream (the latest with
 * each pair of ends, TCP base sequence numbers) stays, so a range read later (a running capture's
 * file grew) continues the numbering of those before without reading them again.
 */
export class StreamAssembler {
  private out = { tcp: new Int32Array(0), udp: new Int32Array(0) };
  private readonly state = { tcp: new KindState(), udp: new KindState() };
  private covered = 0;
  private broken: string | undefined;

  /** Frames 1..frames have their streams. */
  get frames(): number {
    return this.covered;
  }

  /** Bytes what it keeps of the streams holds beyond the index, about. */
  get stateBytes(): number {
    // A map entry with its ends as text, and a TCP stream's two base sequence numbers.
    return 120 * (this.state.tcp.count + this.state.udp.count);
  }

  /**
   * Takes the next range, whose warm-up is the frames before it; why it cannot be mapped exactly,
   * if it cannot (then this assembler takes no more, and its index stays as it was).
   */
  append(r: RangeStreams, label = 'the range'): string | undefined {
    if (this.broken !== undefined) return this.broken;
    if (r.inexact !== undefined) return (this.broken = r.inexact);
    if (r.warmup > this.covered) return (this.broken = `${label}'s warm-up starts before the file`);
    const total = this.covered + r.frames.length / 2 - r.warmup;
    this.reserve(total);
    for (const [k, kind] of KINDS.entries()) {
      const problem = mapRange(r, k, this.covered, this.out[kind], this.state[kind]);
      if (problem !== undefined) return (this.broken = `${label}: ${problem}`);
    }
    this.covered = total;
    return undefined;
  }

  /** The index of the frames taken so far (views: later ranges write past its end only). */
  index(): StreamIndex {
    return new ArrayStreamIndex(
      { tcp: this.out.tcp.subarray(0, this.covered), udp: this.out.udp.subarray(0, this.covered) },
      this.state.tcp.reused,
    );
  }

  /** Room for `frames` frames, doubling so that a file growing a little at a time costs little. */
  private reserve(frames: number): void {
    if (frames <= this.out.tcp.length) return;
    const size = this.covered === 0 ? frames : Math.max(frames, 2 * this.out.tcp.length);
    for (const kind of KINDS) {
      const grown = new Int32Array(size).fill(NO_STREAM);
      grown.set(this.out[kind].subarray(0, this.covered));
      this.out[kind] = grown;
    }
  }
}

/** The whole file's streams of one kind so far. */
class KindState {
  count = 0;
  /** The latest stream with these ends: the one tshark finds for a packet between them. */
  readonly latest = new Map<string, number>();
  /** TCP: each stream's base sequence numbers, by the end each direction comes from. */
  readonly bases: Map<string, { at: number; base: number }>[] = [];
  /** Streams that began on the ends of an earlier one (a SYN on reused ports), and that one. */
  readonly reused = new Map<number, number>();

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

/**
 * A range's stream numbers mapped to the whole file's, by the range's number: dense from 0, so an
 * array rather than a map (a lookup a frame).
 */
class LocalMap {
  private to = new Int32Array(1024).fill(UNMAPPED);
  private done = new Uint8Array(1024);

  get(local: number): number | undefined {
    const v = local < this.to.length ? (this.to[local] as number) : UNMAPPED;
    return v === UNMAPPED ? undefined : v;
  }

  set(local: number, whole: number): void {
    this.room(local);
    this.to[local] = whole;
  }

  /** Whether `local` was marked before; marks it. */
  mark(local: number): boolean {
    this.room(local);
    const was = this.done[local] === 1;
    this.done[local] = 1;
    return was;
  }

  private room(local: number): void {
    if (local < this.to.length) return;
    let size = this.to.length;
    while (size <= local) size *= 2;
    const to = new Int32Array(size).fill(UNMAPPED);
    to.set(this.to);
    const done = new Uint8Array(size);
    done.set(this.done);
    [this.to, this.done] = [to, done];
  }
}

/** Not mapped yet (NO_STREAM, -1, is a whole-file number: a stream the whole file does not have). */
const UNMAPPED = -2;

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
  const map = new LocalMap();
  for (let i = 0; i < r.warmup; i++) {
    const local = r.frames[2 * i + k] ?? NO_STREAM;
    const whole = out[offset + i] ?? NO_STREAM;
    if (local < 0 !== whole < 0) return `frame ${offset + i + 1} has a stream in one pass only`;
    if (local < 0) continue;
    const held = map.get(local);
    if (held === undefined) map.set(local, whole);
    else if (held !== whole) return `two streams of frames before it are one in its warm-up`;
  }
  // The range's SYNs in frame order, met with a cursor rather than looked up at each frame.
  const synFrames = tcp ? [...r.syns.keys()].sort((x, y) => x - y) : [];
  let nextSyn = 0;
  while (nextSyn < synFrames.length && (synFrames[nextSyn] as number) <= r.warmup) nextSyn++;
  const streams = r.streams[tcp ? 'tcp' : 'udp'];
  // The file's first range has no warm-up: its numbers are the whole file's.
  const first = start === 0 && r.warmup === 0;
  for (let i = r.warmup; i < frames; i++) {
    const local = r.frames[2 * i + k] ?? NO_STREAM;
    if (local < 0) continue;
    const frame = offset + i + 1;
    while (nextSyn < synFrames.length && (synFrames[nextSyn] as number) < i + 1) nextSyn++;
    const syn = synFrames[nextSyn] === i + 1 ? r.syns.get(i + 1) : undefined;
    let whole = map.get(local);
    if (whole === undefined && first) {
      whole = local;
      const stream = streams.get(local);
      const earlier = stream && state.latest.get(stream.ends);
      if (earlier !== undefined) state.reused.set(local, earlier);
      if (stream) state.latest.set(stream.ends, local);
      state.count = Math.max(state.count, local + 1);
      map.set(local, whole);
    } else if (whole === undefined) {
      const stream = streams.get(local);
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
        if (before !== undefined) state.reused.set(whole, before);
        state.latest.set(stream.ends, whole);
      }
      map.set(local, whole);
    } else if (syn && !first) {
      // The range kept the SYN in its stream: so must the whole file.
      const base = state.baseBefore(whole, syn.from, frame);
      if (base !== undefined && base !== syn.seq)
        return `the SYN of frame ${frame} starts a stream in the whole file only`;
    }
    if (tcp && !map.mark(local)) state.merge(whole, streams.get(local)?.bases ?? [], offset);
    out[frame - 1] = whole;
  }
  return undefined;
}
