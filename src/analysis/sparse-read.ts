// Drill-downs deep in a large capture read a sparse cut of it (index/sparse-cut.ts) instead of the
// whole file: get_packet_details of frames F reads frame 1, F's TCP/UDP streams from their first
// packet up to F, a warm-up before F and F; follow_stream of stream N reads that stream's frames.
// tshark's answer is then told in the whole file's numbers (renumber-tree.ts, and the follow's
// filter line). Only where the capture is large and its stream index is held (from the summary
// pass); anything else, and any cut the planner refuses, reads the whole file as before.
import { randomUUID } from 'node:crypto';
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { FrameRange } from './frames.js';
import type { FrameIndex } from './index/frame-index.js';
import type { FrameIndexes } from './index/frame-indexes.js';
import {
  DEFAULT_SPARSE_LIMITS,
  planDetailsFrames,
  planStreamFrames,
  writeSparseCut,
} from './index/sparse-cut.js';
import type { SparseLimits } from './index/sparse-cut.js';
import type { StreamIndex, StreamKind } from './index/stream-index.js';
import { NO_STREAM } from './index/stream-index.js';
import type { Packet } from './packet-stream.js';
import type { Page } from './page.js';
import { renumberTree } from './renumber-tree.js';
import type { FrameLabels } from './renumber-tree.js';

/**
 * What a drill-down would read without a stream index: the file's frames, and the frame a whole
 * file read would stop at (undefined: the whole file, as a follow reads it).
 */
export interface StreamNeed {
  readonly frames: number;
  readonly readsTo?: number | undefined;
}

/**
 * The seam to the stream indexes: the one held for a capture as it is now, or one built for it
 * where that is worth it (the server builds one with the summary's pass when the read it saves is
 * long enough), or undefined: the drill-down reads the whole file.
 */
export type StreamsOf = (
  file: string,
  need: StreamNeed,
  signal?: AbortSignal,
) => Promise<StreamIndex | undefined>;

/**
 * A stream index costs one summary pass to build (its ranges side by side: about half a plain
 * tshark pass on two cores); a drill-down without one reads the file up to where it stops. Built
 * when that read would cover at least this share of the file: later drill-downs then cost a cut.
 */
export const BUILD_STREAMS_FROM = 0.25;

/** The stream indexes of `indexes`: the one held, or one built with the summary's pass when worth it. */
export function streamsWhenWorth(indexes: FrameIndexes): StreamsOf {
  return async (file, need, signal) => {
    const held = await indexes.streams(file);
    // Held for fewer frames than the file has now (it grew): extended over the new ones.
    if (held) return held.frames < need.frames ? indexes.ensureStreams(file, { signal }) : held;
    // A pass already found it would not be exact: no second try.
    if ((await indexes.streamsNotExact(file)) !== undefined) return undefined;
    if (need.readsTo !== undefined && need.readsTo < need.frames * BUILD_STREAMS_FROM) return undefined;
    return indexes.ensureStreams(file, { signal });
  };
}

export interface SparseReadOptions {
  readonly indexes: FrameIndexes;
  readonly streamsOf: StreamsOf;
  /** Frames a capture must have before drill-downs read cuts of it (smaller ones read whole). */
  readonly minFrames?: number | undefined;
  readonly limits?: SparseLimits | undefined;
}

/**
 * 100,000 frames: below, a whole-file tshark pass takes about a second anyway
 * (see bench/drilldown-cut.ts for the break-even measured).
 */
export const SPARSE_MIN_FRAMES = 100_000;

/** A cut written for one read: tshark reads `file`; `frames` maps its frames to the file's. */
export interface SparseCut {
  readonly file: string;
  readonly frames: readonly number[];
  readonly streams: StreamIndex;
  remove(): Promise<void>;
}

/** A drill-down's cut, or why it reads the whole file (undefined: no cut was considered). */
export type CutOrWhy = { readonly cut: SparseCut } | { readonly whole: string } | undefined;

export class SparseReads {
  constructor(private readonly options: SparseReadOptions) {}

  /** The cut for get_packet_details of `targets` (ascending file frames) of `file`, written under `dir`. */
  async details(
    file: string,
    targets: (count: number) => number[],
    dir: string,
    signal?: AbortSignal,
  ): Promise<CutOrWhy> {
    let wanted: number[] = [];
    const held = await this.held(file, signal, (count) => {
      wanted = targets(count);
      return wanted.at(-1) ?? count;
    });
    if (!held || 'whole' in held) return held;
    if (wanted.length === 0) return { whole: 'no frame of the selection is indexed' };
    const planned = planDetailsFrames(held.index, held.streams, wanted, this.options.limits);
    if ('refused' in planned) return { whole: planned.refused };
    return this.write(file, held.index, held.streams, planned, dir);
  }

  /** The cut holding exactly stream `stream` of `kind`: in it, that stream is stream 0. */
  async stream(
    file: string,
    kind: StreamKind,
    stream: number,
    dir: string,
    signal?: AbortSignal,
  ): Promise<CutOrWhy> {
    const held = await this.held(file, signal);
    if (!held || 'whole' in held) return held;
    const planned = planStreamFrames(held.index, held.streams, kind, stream, this.options.limits);
    if ('refused' in planned) return { whole: planned.refused };
    if (planned.length === 0) return { whole: `${kind} stream ${stream} has no frames` };
    return this.write(file, held.index, held.streams, planned, dir);
  }

  /**
   * The file's frame and stream indexes, when the file is large and both are held (or the stream
   * index is built: `readsTo` says where a whole-file read would stop, from the frame count).
   */
  private async held(
    file: string,
    signal?: AbortSignal,
    readsTo?: (count: number) => number,
  ): Promise<{ index: FrameIndex; streams: StreamIndex } | { whole: string } | undefined> {
    // The frame index first: it is cheap, and says whether the file is large enough to cut.
    const index = await this.options.indexes.get(file, signal);
    if (!index) return { whole: 'the file is neither pcap nor pcapng' };
    if (index.count < (this.options.minFrames ?? SPARSE_MIN_FRAMES)) return undefined;
    const need = { frames: index.count, readsTo: readsTo?.(index.count) };
    const streams = await this.options.streamsOf(file, need, signal);
    if (!streams) return undefined;
    if (streams.frames > index.count) return { whole: 'the stream index is not of this file' };
    return { index, streams };
  }

  private async write(
    file: string,
    index: FrameIndex,
    streams: StreamIndex,
    frames: number[],
    dir: string,
  ): Promise<CutOrWhy> {
    const out = path.join(dir, `sparse-${randomUUID()}.${index.fileHeader ? 'pcap' : 'pcapng'}`);
    const remove = (): Promise<void> => rm(out, { force: true });
    try {
      await writeSparseCut(index, file, frames, out);
      // Replaced or shortened while the cut was written: its offsets were another file's.
      const now = await stat(file);
      const v = index.version;
      if (now.ino !== v.ino || now.dev !== v.dev || now.size < v.size) {
        await remove();
        return { whole: 'the file changed while it was cut' };
      }
    } catch (err) {
      await remove();
      throw err;
    }
    return { cut: { file: out, frames, streams, remove } };
  }
}

/** The frames `ranges` selects after skipping `offset` of them, `take` at most, up to frame `count`. */
export function selectedFrames(
  ranges: readonly FrameRange[],
  offset: number,
  take: number,
  count: number,
): number[] {
  // Ranges may overlap or come in any order: the filter selects frames, each once, ascending.
  const sorted = [...ranges].sort((a, b) => a.from - b.from);
  const out: number[] = [];
  let skipped = 0;
  let last = 0;
  for (const r of sorted) {
    for (let n = Math.max(r.from, last + 1); n <= Math.min(r.to, count); n++) {
      last = n;
      if (skipped < offset) skipped++;
      else out.push(n);
      if (out.length >= take) return out;
    }
  }
  return out;
}

/** A page's packets read from a details cut, told in the file's numbers. */
export interface DetailsCutRead {
  readonly file: string;
  /** The cut's filter: its numbers of the frames asked for. */
  readonly displayFilter: string;
  readonly plan: { readonly skip: number };
  /**
   * Why the cut's trees may differ from the whole file's, once read: a frame whose TCP or UDP
   * stream the cut numbered otherwise than its streams' order in the cut says (tshark split or
   * joined conversations there, e.g. a UDP tuple an earlier stream of the file used too).
   */
  readonly mismatch: () => string | undefined;
  mapPacket(p: Packet): Packet;
  mapPage(page: Page, requestedOffset: number): Page;
}

const QUIC_NUMBER = /^\s+\[Connection Number: \d+\]$/m;

/** How a page of trees is read from `cut` for frames `targets`. */
export function detailsCutRead(
  cut: SparseCut,
  targets: readonly number[],
  labels: FrameLabels,
): DetailsCutRead {
  const position = new Map(cut.frames.map((f, i) => [f, i + 1]));
  const cutNumbers = targets.map((t) => position.get(t) ?? 0);
  const streamMap = new Map<string, number>();
  // What tshark should number each stream in the cut: streams count in order of first frame.
  const expected = { tcp: new Map<number, number>(), udp: new Map<number, number>() };
  for (const f of cut.frames) {
    for (const kind of ['tcp', 'udp'] as const) {
      const s = cut.streams.streamOf(kind, f);
      if (s !== NO_STREAM && !expected[kind].has(s)) expected[kind].set(s, expected[kind].size);
    }
  }
  let mismatch: string | undefined;
  const check = (kind: StreamKind, cutNumber: number, fileStream: number, frame: number): void => {
    if (mismatch === undefined && expected[kind].get(fileStream) !== cutNumber)
      mismatch = `the cut numbered the ${kind} stream of frame ${frame} otherwise than the file`;
  };
  return {
    file: cut.file,
    displayFilter: `frame.number in {${cutNumbers.join(', ')}}`,
    plan: { skip: 0 },
    mismatch: () => mismatch,
    mapPacket(p) {
      // tshark numbers QUIC connections through the file, and no stream index maps them.
      if (mismatch === undefined && /^QUIC IETF/m.test(p.text) && QUIC_NUMBER.test(p.text))
        mismatch = 'QUIC numbers its connections through the whole file';
      const text = renumberTree(
        p.text,
        { frames: cut.frames, streams: cut.streams, check },
        labels,
        streamMap,
      );
      return text === p.text ? p : { text, length: p.length + text.length - p.text.length };
    },
    mapPage(page, requestedOffset) {
      return { ...page, offset: requestedOffset, matchedSeen: page.matchedSeen + requestedOffset };
    },
  };
}

/** A follow's filter line as the whole file names the stream: "tcp.stream eq 0" of the cut is N. */
export function followFilterInFile(filter: string, kind: StreamKind, stream: number): string {
  return filter.replace(new RegExp(`\\b${kind}\\.stream eq 0\\b`), `${kind}.stream eq ${stream}`);
}

export { DEFAULT_SPARSE_LIMITS };
