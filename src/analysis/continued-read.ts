// The next page of a filtered listing, read from where the previous page stopped instead of from
// the file's first packet. A page that filled up learned which frame holds the next page's first
// match, and which frame the match before it (listing-checkpoints.ts). The next page's tshark reads
// a cut fed through a FIFO: the file's first frame (times), the frames the match before needs (its
// TCP/UDP streams from their start, a warm-up, itself: its time is what frame.time_delta_displayed
// of the first match counts from), every stream still open at the tail from its first frame (so
// relative sequence numbers, reassembly and TLS records are the whole file's), then the file from a
// short warm-up (the sparse cuts' one, for state no stream carries) before the first match to its end, at the pace tshark reads it. The filter gains
// "frame.number >= the match before", and the read checks that its first two matches are the two
// frames expected: if the cut matched otherwise, the whole file is read instead.
import { randomUUID } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import path from 'node:path';
import { feedFifoPieces, makeFifo } from '../wireshark/fifo.js';
import type { FifoFeed } from '../wireshark/fifo.js';
import { cutPieces, framesToRuns } from './index/cut-pieces.js';
import type { FrameIndex } from './index/frame-index.js';
import type { SparseLimits } from './index/sparse-cut.js';
import { DEFAULT_SPARSE_LIMITS, planDetailsFrames } from './index/sparse-cut.js';
import type { StreamIndex, StreamKind } from './index/stream-index.js';
import { NO_STREAM } from './index/stream-index.js';
import { ListingCheckpoints } from './listing-checkpoints.js';
import type { Checkpoint, ListingKey } from './listing-checkpoints.js';
import type { FrameIndexes } from './index/frame-indexes.js';
import { SPARSE_MIN_FRAMES } from './sparse-read.js';
import type { StreamsOf } from './sparse-read.js';

export interface ContinuationPlan {
  /** File frames before the tail, ascending (frame 1 first). */
  readonly prefix: readonly number[];
  /** The first file frame of the run read to the end. */
  readonly tail: number;
  /** The last file frame indexed (the run's end). */
  readonly last: number;
  readonly checkpoint: Checkpoint;
}

const KINDS: readonly StreamKind[] = ['tcp', 'udp'];

/** The cut that continues a listing at `checkpoint`, or why none can. */
export function planContinuation(
  index: FrameIndex,
  streams: StreamIndex,
  checkpoint: Checkpoint,
  limits: SparseLimits = DEFAULT_SPARSE_LIMITS,
): ContinuationPlan | { readonly refused: string } {
  const { frame, previous } = checkpoint;
  if (frame > index.count) return { refused: `frame ${frame} is not indexed` };
  if (streams.frames < index.count) return { refused: 'the stream index does not cover the whole file' };
  const tail = Math.max(2, frame - limits.warmup);
  const chosen = new Set<number>([1]);
  if (previous < tail) {
    const before = planDetailsFrames(index, streams, [previous], limits);
    if ('refused' in before) return before;
    for (const n of before) chosen.add(n);
  }
  // Every stream open at the tail, from its first frame.
  for (const kind of KINDS) {
    for (let s = 0; s < streams.count(kind); s++) {
      const span = streams.span(kind, s);
      if (!span || span.first >= tail || span.last < tail) continue;
      for (const n of streams.framesOf(kind, s, span.first, tail - 1)) chosen.add(n);
      if (chosen.size > limits.maxFrames)
        return {
          refused: `the streams open at frame ${tail} need more than ${limits.maxFrames} earlier frames`,
        };
    }
  }
  const prefix = [...chosen].filter((n) => n < tail).sort((a, b) => a - b);
  return { prefix, tail, last: index.count, checkpoint };
}

/**
 * The number a continuation's cut gives each file stream: streams met in the prefix in the order
 * met, then those that start in the tail in their file order (tshark numbers a stream at its first
 * packet, so the file's numbers of the streams starting at or after the tail run on from the
 * lowest of them).
 */
export function expectedCutStreams(
  plan: ContinuationPlan,
  streams: StreamIndex,
): (kind: StreamKind, fileStream: number) => number | undefined {
  const order = { tcp: new Map<number, number>(), udp: new Map<number, number>() };
  for (const f of plan.prefix) {
    for (const kind of KINDS) {
      const s = streams.streamOf(kind, f);
      if (s !== NO_STREAM && !order[kind].has(s)) order[kind].set(s, order[kind].size);
    }
  }
  // The lowest stream number starting at or after the tail: spans' first frames rise with numbers.
  const firstInTail = (kind: StreamKind): number => {
    let lo = 0;
    let hi = streams.count(kind);
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((streams.span(kind, mid)?.first ?? 0) >= plan.tail) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  const lowest = { tcp: firstInTail('tcp'), udp: firstInTail('udp') };
  return (kind, s) => {
    const met = order[kind].get(s);
    if (met !== undefined) return met;
    return s >= lowest[kind] ? order[kind].size + (s - lowest[kind]) : undefined;
  };
}

/** A continuation's cut being fed to tshark through a FIFO. */
export interface ContinuationCut {
  /** The FIFO tshark reads. */
  readonly file: string;
  readonly plan: ContinuationPlan;
  /** The file frame of the cut's frame `n`. */
  fileFrame(n: number): number;
  /** The cut's number of file frame `f` (f is in the tail or the prefix). */
  cutFrame(f: number): number;
  /** Stops feeding (tshark is done) and removes the FIFO. */
  close(): Promise<void>;
}

/** Makes the FIFO under `dir` and starts feeding it the cut `plan` of `file`. */
export async function openContinuation(
  index: FrameIndex,
  file: string,
  plan: ContinuationPlan,
  dir: string,
): Promise<ContinuationCut> {
  const fifo = path.join(dir, `continue-${randomUUID()}`);
  await makeFifo(fifo);
  const handle = await open(file, 'r').catch(async (err: unknown) => {
    await rm(fifo, { force: true });
    throw err;
  });
  let feed: FifoFeed | undefined;
  try {
    const runs = [...framesToRuns(plan.prefix), { first: plan.tail, last: plan.last }];
    feed = feedFifoPieces(fifo, cutPieces(index, runs), handle);
  } catch (err) {
    await handle.close();
    await rm(fifo, { force: true });
    throw err;
  }
  const started = feed;
  const before = plan.prefix.length;
  const position = new Map(plan.prefix.map((f, i) => [f, i + 1]));
  return {
    file: fifo,
    plan,
    fileFrame: (n) => (n <= before ? (plan.prefix[n - 1] ?? n) : plan.tail + (n - before - 1)),
    cutFrame: (f) => (f >= plan.tail ? before + 1 + (f - plan.tail) : (position.get(f) ?? 0)),
    close: async () => {
      started.stop();
      await started.done;
      await handle.close();
      await rm(fifo, { force: true });
    },
  };
}

/** What a read of a filtered listing is told of each match, in order. */
export interface ListingHooks {
  /** The number of the first match the read prints (0 from the file's start). */
  readonly base: number;
  /** Fields a fields page prints for the listing's own use (default frame.number), taken off after. */
  readonly fields?: readonly string[] | undefined;
  /** Match `match` is file frame `frame` (undefined when its line does not show it). */
  onMatch(match: number, frame: number | undefined): void;
}

/** A filtered listing: what makes its pages the same listing, and its file as it is now. */
export interface Listing {
  readonly key: ListingKey;
  readonly version: { readonly size: number; readonly mtimeMs: number };
}

/** What a listing's next pages need: the indexes of its file, and where its matches lie. */
export interface ContinuationSources {
  readonly indexes: FrameIndexes;
  readonly streamsOf: StreamsOf;
  /** Frames a capture must have before a listing continues from a cut (smaller ones read whole). */
  readonly minFrames?: number | undefined;
  readonly limits?: SparseLimits | undefined;
}

/** A continuation ready to read, or why the whole file is read (undefined: nothing is known). */
export type Continuation =
  | { readonly cut: ContinuationCut; readonly checkpoint: Checkpoint; readonly streams: StreamIndex }
  | { readonly whole: string }
  | undefined;

export class Continuations {
  private readonly checkpoints = new ListingCheckpoints();

  constructor(private readonly sources: ContinuationSources) {}

  /**
   * Hooks that remember the matches from `from` on (a page and the one match past it) of a read
   * whose first printed match is `base`; with `expect` (a continuation's check), the read's first
   * two matches must be those frames, `mismatch` says whether they were not, and a fields page
   * prints `expect.fields` too.
   */
  recorder(
    { key, version }: Listing,
    from: number,
    base = 0,
    expect?: { readonly frames: readonly [number, number]; readonly fields: readonly string[] },
  ): ListingHooks & { mismatch(): boolean } {
    let previous: number | undefined;
    let wrong = false;
    return {
      base,
      fields: expect?.fields,
      onMatch: (match, frame) => {
        if (expect && match - base < 2 && frame !== expect.frames[match - base]) wrong = true;
        if (!wrong && frame !== undefined && previous !== undefined && match >= from)
          this.checkpoints.record(key, version.size, version.mtimeMs, { match, frame, previous });
        previous = frame;
      },
      mismatch: () => wrong,
    };
  }

  /** The continuation of `listing` at match `offset` of `file`, its FIFO made under `dir`. */
  async open(
    listing: Listing,
    file: string,
    offset: number,
    dir: string,
    signal?: AbortSignal,
  ): Promise<Continuation> {
    const { key, version } = listing;
    const checkpoint = this.checkpoints.nearest(key, version.size, version.mtimeMs, offset);
    if (!checkpoint) return undefined;
    const index = await this.sources.indexes.get(file, signal);
    if (!index) return { whole: 'the file is neither pcap nor pcapng' };
    if (index.count < (this.sources.minFrames ?? SPARSE_MIN_FRAMES)) return undefined;
    // Without a cut, the page's read would stop about where its first match is.
    const streams = await this.sources.streamsOf(
      file,
      { frames: index.count, readsTo: checkpoint.frame },
      signal,
    );
    if (!streams) return undefined;
    if (index.sections !== 1 || index.metadataOverflow)
      return { whole: 'the file cannot be cut (several pcapng sections, or too much metadata)' };
    const plan = planContinuation(index, streams, checkpoint, this.sources.limits);
    if ('refused' in plan) return { whole: plan.refused };
    return { cut: await openContinuation(index, file, plan, dir), checkpoint, streams };
  }
}
