// The next page of a filtered listing, read from where the previous page stopped instead of from
// the file's first packet. A page that filled up learned which frame holds the next page's first
// match, and which frame the match before it (listing-checkpoints.ts). The next page's tshark reads
// a cut fed through a FIFO: the file's first frame (times), the match before (its time is what
// frame.time_delta_displayed of the first match counts from) with a warm-up, every TCP/UDP stream
// still open at the tail from its first frame (so relative sequence numbers, reassembly and TLS
// records are the whole file's), then the file from a short warm-up (the sparse cuts' one, for
// state no stream carries) before the first match to its end, at the pace tshark reads it.
// Long-lived streams can hold more earlier frames than a cut may: those are kept light (their
// first frame only, so the cut still meets and numbers them as the file does), except the ones
// with packets where the page likely lies (from the frames per match of the page before). After
// the read, a light stream with packets where the page's matches lay (lightStreamsMet) may have
// been dissected otherwise than in the file: the page is read again with its whole history, or
// from the whole file when that is too long. The filter gains "frame.number is the match before
// or at least the first match", and the read checks that its first two matches are the two frames
// expected: if the cut matched otherwise, the whole file is read instead.
import { randomUUID } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import path from 'node:path';
import { feedFifoPieces, makeFifo } from '../wireshark/fifo.js';
import type { FifoFeed } from '../wireshark/fifo.js';
import { cutPieces, framesToRuns } from './index/cut-pieces.js';
import type { FrameIndex } from './index/frame-index.js';
import type { SparseLimits } from './index/sparse-cut.js';
import { DEFAULT_SPARSE_LIMITS } from './index/sparse-cut.js';
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
  /**
   * Streams open at the tail whose history did not fit the cut: the prefix holds only their first
   * frame (so the cut meets and numbers them as the file does), and their packets in the tail are
   * not dissected as in the whole file. A page whose matches lie where one of them has packets is
   * read again with that stream's whole history (lightStreamsMet).
   */
  readonly light: StreamSets;
}

/** Streams by kind (whole-file numbers). */
export type StreamSets = Readonly<Record<StreamKind, ReadonlySet<number>>>;

const KINDS: readonly StreamKind[] = ['tcp', 'udp'];

const NO_STREAMS: StreamSets = { tcp: new Set(), udp: new Set() };

/**
 * Frames of history a cut gives the streams it keeps whole when it cannot keep all (2,000: about a
 * tenth of a second of tshark): the others are light.
 */
const LIGHT_HISTORY = 2_000;

/**
 * The share of the frames before a page that the streams it shows may need for a cut to be read:
 * past it, the whole file (which dissects them all anyway) is read.
 */
const WHOLE_SHARE = 0.25;

/** What a plan knows of the page before it is read. */
export interface PlanNeeds {
  /** Streams a read before found the page needs whole: refused when their history does not fit. */
  readonly whole?: StreamSets | undefined;
  /** The file frame the page likely reaches: streams with packets up to it are kept whole where they fit. */
  readonly reach?: number | undefined;
}

/** A stream whose history before the tail the prefix may hold: its frames first..to. */
interface Candidate {
  readonly kind: StreamKind;
  readonly stream: number;
  readonly first: number;
  to: number;
  /** Its frames in first..to. */
  count: number;
  /** Kept whole (else light: its first frame only). */
  whole: boolean;
  /** Where it first has a packet at or after the page's first match (Infinity: not before the reach). */
  met: number;
}

/** Candidates by kind and stream number, in typed arrays: the walks below look one up per frame. */
class Candidates {
  readonly all: Candidate[] = [];
  private readonly slots: Record<StreamKind, Int32Array>;

  constructor(private readonly streams: StreamIndex) {
    this.slots = {
      tcp: new Int32Array(streams.count('tcp')).fill(-1),
      udp: new Int32Array(streams.count('udp')).fill(-1),
    };
  }

  /** Adds stream `s` (read up to frame `to`) unless it starts at or after `tail`. */
  add(kind: StreamKind, s: number, to: number, tail: number): void {
    const span = this.streams.span(kind, s);
    if (!span || span.first >= tail) return;
    const known = this.of(kind, s);
    if (known) known.to = Math.max(known.to, to);
    else {
      this.slots[kind][s] = this.all.length;
      this.all.push({ kind, stream: s, first: span.first, to, count: 0, whole: true, met: Infinity });
    }
  }

  of(kind: StreamKind, s: number): Candidate | undefined {
    const i = s < 0 ? -1 : (this.slots[kind][s] ?? -1);
    return i < 0 ? undefined : this.all[i];
  }

  /** Calls `f` for each frame from..to-1 of a candidate, within its first..to. */
  visit(from: number, to: number, f: (c: Candidate, n: number) => void): void {
    for (let n = from; n < to; n++)
      for (const kind of KINDS) {
        const c = this.of(kind, this.streams.streamOf(kind, n));
        if (c && n <= c.to) f(c, n);
      }
  }
}

/**
 * The cut that continues a listing at `checkpoint`, or why none can. Streams open at the tail (and
 * those of the match before the page) are read from their first frame. When their histories
 * together pass `limits.maxFrames`, some are kept light (their first frame only): the streams a
 * read before found the page needs (`whole`) are kept whole or the plan is refused; then those
 * with packets where the page likely lies (up to `reach`), the nearest first; then the shortest
 * histories, LIGHT_HISTORY frames of them.
 */
export function planContinuation(
  index: FrameIndex,
  streams: StreamIndex,
  checkpoint: Checkpoint,
  limits: SparseLimits = DEFAULT_SPARSE_LIMITS,
  { whole = NO_STREAMS, reach }: PlanNeeds = {},
): ContinuationPlan | { readonly refused: string } {
  const { frame, previous } = checkpoint;
  if (frame > index.count) return { refused: `frame ${frame} is not indexed` };
  if (streams.frames < index.count) return { refused: 'the stream index does not cover the whole file' };
  const tail = Math.max(2, frame - limits.warmup);
  const chosen = new Set<number>([1]);
  // The match before the page (its time is what the first one's time_delta_displayed counts
  // from) and a warm-up before it, for state no stream carries.
  if (previous < tail) for (let n = Math.max(1, previous - limits.warmup); n <= previous; n++) chosen.add(n);
  const candidates = new Candidates(streams);
  for (const kind of KINDS) {
    for (let s = 0; s < streams.count(kind); s++) {
      const span = streams.span(kind, s);
      if (span && span.last >= tail) candidates.add(kind, s, tail - 1, tail);
    }
    if (previous < tail) candidates.add(kind, streams.streamOf(kind, previous), previous, tail);
  }
  const all = candidates.all;
  const from = all.reduce((lowest, c) => Math.min(lowest, c.first), tail);
  // One walk over the frames before the tail counts each candidate's history, a second lists
  // what is kept: a stream's frames are not stored apart, and 600 long streams each walked alone
  // would cost 600 walks of the file.
  candidates.visit(from, tail, (c) => c.count++);
  const history = all.reduce((sum, c) => sum + c.count, 0);
  if (chosen.size + history > limits.maxFrames) {
    const why = chooseWhole(candidates, { fixed: chosen.size, maxFrames: limits.maxFrames, tail }, whole, {
      frame,
      reach,
      streams,
    });
    if (why) return { refused: why };
  }
  const wholeFrom = all.reduce((lowest, c) => (c.whole ? Math.min(lowest, c.first) : lowest), tail);
  candidates.visit(wholeFrom, tail, (c, n) => {
    if (c.whole) chosen.add(n);
  });
  const light = { tcp: new Set<number>(), udp: new Set<number>() };
  for (const c of all) {
    if (c.whole) continue;
    light[c.kind].add(c.stream);
    chosen.add(c.first);
  }
  const prefix = [...chosen].filter((n) => n < tail).sort((a, b) => a - b);
  return { prefix, tail, last: index.count, checkpoint, light };
}

/**
 * Marks which candidates are kept whole (each costs its first frame at least; `fixed` frames are
 * taken already), or says why the page cannot be read from a cut. The streams a read before found
 * the page needs may take up to WHOLE_SHARE of the frames before the tail (a whole-file read
 * dissects them all), at least `maxFrames`; the others share `maxFrames`.
 */
function chooseWhole(
  candidates: Candidates,
  { fixed, maxFrames, tail }: { readonly fixed: number; readonly maxFrames: number; readonly tail: number },
  whole: StreamSets,
  page: { readonly frame: number; readonly reach: number | undefined; readonly streams: StreamIndex },
): string | undefined {
  const all = candidates.all;
  const stubs = fixed + all.length;
  if (stubs > maxFrames) return `more than ${maxFrames} streams are open before the page`;
  const needed = (c: Candidate): boolean => whole[c.kind].has(c.stream);
  const neededCost = all.reduce((sum, c) => (needed(c) ? sum + c.count - 1 : sum), 0);
  const cap = Math.max(maxFrames, Math.floor(tail * WHOLE_SHARE));
  if (stubs + neededCost > cap)
    return `the streams the page shows need ${stubs + neededCost} earlier frames, more than ${cap}`;
  for (let n = page.frame; n <= (page.reach ?? 0) && n <= page.streams.frames; n++)
    for (const kind of KINDS) {
      const c = candidates.of(kind, page.streams.streamOf(kind, n));
      if (c && c.met === Infinity) c.met = n;
    }
  // LIGHT_HISTORY frames are kept for the shortest histories.
  const free = Math.max(0, maxFrames - stubs - neededCost);
  let others = Math.min(free, LIGHT_HISTORY);
  let budget = free - others;
  const order = [...all].sort((a, b) => a.met - b.met || a.count - b.count);
  for (const c of order) {
    const cost = c.count - 1;
    if (needed(c)) continue;
    if (c.met !== Infinity) {
      c.whole = cost <= budget;
      if (c.whole) budget -= cost;
    } else {
      c.whole = cost <= others;
      if (c.whole) others -= cost;
    }
  }
  return undefined;
}

/** Where a continued page's matches lay in the file, as its read found them. */
export interface PageSpan {
  /** The file frame of the page's last row (when it shows none, the frame before the match past it). */
  readonly lastRow: number;
  /** The file frame of the match past the page, or undefined when the listing ended. */
  readonly past: number | undefined;
  /** The read's first two matches were not the frames expected. */
  readonly mismatch: boolean;
}

/**
 * The light streams a continued page needs whole, and whether the match past it may be kept as
 * the next page's checkpoint. The page's rows and the matches skipped before them (from the
 * checkpoint's frame to the last row) must not lie where a light stream has packets. Past the
 * last row, only the match past the page counts: it says more matches follow, which holds when
 * it is not of a light stream itself, whatever lies before it; but a light stream's packet
 * before it may be a match the cut missed, and then it is no checkpoint. When the listing ended,
 * a light stream's packet after the last row may be a match the cut missed.
 */
export function pageNeeds(
  plan: ContinuationPlan,
  streams: StreamIndex,
  span: PageSpan,
): { readonly needs: Record<StreamKind, Set<number>>; readonly keepPast: boolean } {
  const { checkpoint } = plan;
  const needs = lightStreamsMet(
    plan,
    streams,
    checkpoint.frame,
    span.past === undefined ? plan.last : span.lastRow,
  );
  const ownLight = (frame: number): void => {
    for (const kind of KINDS) {
      const s = streams.streamOf(kind, frame);
      if (plan.light[kind].has(s)) needs[kind].add(s);
    }
  };
  if (span.mismatch) ownLight(checkpoint.previous);
  let keepPast = true;
  if (span.past !== undefined) {
    ownLight(span.past);
    const between = lightStreamsMet(plan, streams, span.lastRow + 1, span.past - 1);
    keepPast = between.tcp.size + between.udp.size === 0;
  }
  return { needs, keepPast };
}

/**
 * The first of file frames `frames` (in the tail) that begins a TCP stream on the ports of an
 * earlier one the cut does not hold: tshark flags that SYN "[TCP Port numbers reused]" (and a
 * filter on tcp.analysis.flags matches it) reading the whole file only.
 */
export function reusedPortsUnseen(
  plan: ContinuationPlan,
  streams: StreamIndex,
  frames: Iterable<number>,
): number | undefined {
  if (!streams.reusedFrom) return undefined;
  const prefix = new Set(plan.prefix);
  for (const n of frames) {
    if (n < plan.tail || n > plan.last) continue;
    const s = streams.streamOf('tcp', n);
    if (s === NO_STREAM || streams.span('tcp', s)?.first !== n) continue;
    const earlier = streams.reusedFrom(s);
    const span = earlier === undefined ? undefined : streams.span('tcp', earlier);
    if (span && span.last < plan.tail && !prefix.has(span.first)) return n;
  }
  return undefined;
}

/**
 * The light streams of `plan` (read without their history) that have packets among file frames
 * `from`..`to`: where a page's matches lie, a light stream's packets may have been dissected
 * otherwise than in the whole file (TCP analysis, reassembly, TLS records, relative numbers), and
 * matched or shown otherwise.
 */
export function lightStreamsMet(
  plan: ContinuationPlan,
  streams: StreamIndex,
  from: number,
  to: number,
): Record<StreamKind, Set<number>> {
  const met = { tcp: new Set<number>(), udp: new Set<number>() };
  if (plan.light.tcp.size + plan.light.udp.size === 0) return met;
  for (let n = Math.max(1, from); n <= Math.min(to, plan.last); n++)
    for (const kind of KINDS) {
      const s = streams.streamOf(kind, n);
      if (s !== NO_STREAM && plan.light[kind].has(s)) met[kind].add(s);
    }
  return met;
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
   * two matches must be those frames, `mismatch` says whether they were not, a fields page prints
   * `expect.fields` too, and what the read learned is kept only once `commit` says the page holds.
   */
  recorder(
    { key, version }: Listing,
    from: number,
    base = 0,
    expect?: { readonly frames: readonly [number, number]; readonly fields: readonly string[] },
  ): ListingHooks & {
    mismatch(): boolean;
    frameOf(match: number): number | undefined;
    commit(upTo?: number): void;
  } {
    let previous: number | undefined;
    let wrong = false;
    const learned: Checkpoint[] = [];
    const frames = new Map<number, number>();
    const keep = (point: Checkpoint): void =>
      this.checkpoints.record(key, version.size, version.mtimeMs, point);
    return {
      base,
      fields: expect?.fields,
      onMatch: (match, frame) => {
        if (expect && match - base < 2 && frame !== expect.frames[match - base]) wrong = true;
        if (!wrong && frame !== undefined && previous !== undefined && match >= from) {
          const point = { match, frame, previous };
          if (expect) learned.push(point);
          else keep(point);
        }
        if (frame !== undefined && match >= from) frames.set(match, frame);
        previous = frame;
      },
      mismatch: () => wrong,
      frameOf: (match) => frames.get(match),
      commit: (upTo = Infinity) => {
        if (!wrong) for (const point of learned) if (point.match <= upTo) keep(point);
      },
    };
  }

  /**
   * The continuation of `listing` at match `offset` of `file`, its FIFO made under `dir`; the
   * streams in `whole` are read with their whole history.
   */
  async open(
    listing: Listing,
    file: string,
    offset: number,
    dir: string,
    {
      signal,
      whole,
      pageEnd,
    }: {
      readonly signal?: AbortSignal | undefined;
      readonly whole?: StreamSets | undefined;
      /** The match past the page (its offset plus its limit): a page reads up to it. */
      readonly pageEnd?: number | undefined;
    } = {},
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
    // Where the page likely ends, from the frames per match of the pages before it (a half more).
    const perMatch = this.checkpoints.framesPerMatch(key, version.size, version.mtimeMs, checkpoint);
    const reach =
      perMatch === undefined || pageEnd === undefined
        ? undefined
        : checkpoint.frame + Math.ceil(1.5 * perMatch * (pageEnd - checkpoint.match + 1));
    const plan = planContinuation(index, streams, checkpoint, this.sources.limits, { whole, reach });
    if ('refused' in plan) return { whole: plan.refused };
    return { cut: await openContinuation(index, file, plan, dir), checkpoint, streams };
  }
}
