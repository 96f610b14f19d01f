// The frame indexes of the captures in use, built on first need and kept in a cache bounded by
// count and bytes (the least recently used goes first). A file that changed is indexed again; a
// file that only grew (same inode, larger) has its index extended from where its scan stopped.
// Beside each, the file's stream index (./stream-index.ts) when a summary pass made one: counted
// against the same bounds, dropped with it, and kept while the file only grows (it covers the
// frames the pass read, and a grown file numbers those the same); the first drill-down that needs
// it past its end extends it with a pass over the new frames and a warm-up before them.
import { stat } from 'node:fs/promises';
import { abortError } from '../../errors.js';
import { BYTES_PER_FRAME, FrameIndex, scanInto } from './frame-index.js';
import type { FileVersion } from './frame-index.js';
import type { Assembled, PendingStreams, StreamAssembler } from './stream-assembly.js';
import type { StreamIndex } from './stream-index.js';

/** Runs a summary pass over `file` that keeps its stream index here (Summarizer.indexStreams). */
export type StreamBuilder = (file: string, options: StreamBuildOptions) => Promise<void>;

export interface StreamBuildOptions {
  readonly signal: AbortSignal;
  /** The pass's time limit; the builder's own (the summary's) when not given. */
  readonly timeoutMs?: number | undefined;
  /** The file grew past the index held: read only its new frames, and extend the index. */
  readonly extend?: StreamExtension | undefined;
}

/** An index to extend to the frames a grown file holds now. */
export interface StreamExtension {
  /** The assembler of the index held, which the new frames' range continues. */
  readonly assembler: StreamAssembler;
  /** The file's frame index as it is now: where each frame is, how many there are. */
  readonly frames: FrameIndex;
  /** The index held, and the file's version it covers. */
  readonly index: StreamIndex;
  readonly version: FileVersion;
}

/** A file's stream index, or why a pass could not make an exact one. */
interface StreamEntry {
  readonly version: FileVersion;
  readonly index: StreamIndex | undefined;
  readonly reason: string | undefined;
  /** What extends the index when the file grows; none: it cannot be extended. */
  readonly assembler: StreamAssembler | undefined;
  /** A summary's recorded streams, not made into the index yet (then index is undefined). */
  readonly pending?: PendingStreams | undefined;
}

/** One build shared by its callers: stopped when the last of them has gone. */
interface StreamBuild {
  readonly done: Promise<void>;
  readonly stop: AbortController;
  waiting: number;
  finished: boolean;
}

export interface FrameIndexLimits {
  /** Indexes kept at most. */
  readonly maxEntries: number;
  /** Bytes all kept indexes may hold together. */
  readonly maxBytes: number;
}

/** 8 captures and 256 MB: the benchmark's 2,000,000-packet capture takes 32 MB. */
export const DEFAULT_INDEX_LIMITS: FrameIndexLimits = { maxEntries: 8, maxBytes: 256 * 1024 * 1024 };

/** A new index was built: what it holds and cost, for the server's log (which `npm run bench` reads). */
export type IndexBuilt = (
  file: string,
  facts: {
    readonly kind: 'frame' | 'stream';
    readonly frames: number;
    readonly bytes: number;
    readonly ms: number;
    readonly heldBytes: number;
    /** Where a stream index came from. */
    readonly from?: string | undefined;
  },
) => void;

export class FrameIndexes {
  /** In use order: the first key is the least recently used. */
  private readonly entries = new Map<string, Promise<FrameIndex | undefined>>();
  private readonly streamEntries = new Map<string, StreamEntry>();
  private readonly builds = new Map<string, StreamBuild>();
  private streamBuilder: StreamBuilder | undefined;
  /** When each file's indexes were last used: the least recently used file goes first. */
  private readonly used = new Map<string, number>();
  private tick = 0;

  constructor(
    private readonly limits: FrameIndexLimits = DEFAULT_INDEX_LIMITS,
    private readonly onBuilt?: IndexBuilt,
  ) {}

  /**
   * The index of `file` as it is now; undefined when it is neither pcap nor pcapng. Concurrent
   * calls for one file share one scan.
   */
  async get(file: string, signal?: AbortSignal): Promise<FrameIndex | undefined> {
    const now = await stat(file);
    const held = this.entries.get(file);
    if (held) {
      this.entries.delete(file);
      const index = await held.catch(() => undefined);
      if (index) {
        const v = index.version;
        const same = v.dev === now.dev && v.ino === now.ino;
        if (same && v.size === now.size && v.mtimeMs === now.mtimeMs) return this.keep(file, held);
        // Grown in place: a running capture appends records. A damaged index cannot grow.
        if (same && now.size > v.size && !index.damaged && !index.full)
          return this.keep(file, this.scan(file, index, signal));
      }
    }
    const capacity = Math.ceil(now.size / 64); // a first guess; the arrays grow as needed
    const t0 = performance.now();
    const built = await this.keep(
      file,
      this.scan(
        file,
        (version) => new FrameIndex(version, Math.min(capacity, 1 << 20), this.maxFrames()),
        signal,
      ),
    );
    if (built && this.onBuilt) {
      const facts = {
        kind: 'frame' as const,
        frames: built.count,
        bytes: built.bytes,
        ms: performance.now() - t0,
      };
      this.onBuilt(file, { ...facts, heldBytes: await this.bytes() });
    }
    return built;
  }

  /** Bytes the kept indexes hold (those still being built count as nothing). */
  async bytes(): Promise<number> {
    let total = 0;
    for (const e of this.streamEntries.values())
      total += e.index ? e.index.bytes + (e.assembler?.stateBytes ?? 0) : (e.pending?.bytes ?? 0);
    for (const p of this.entries.values()) total += (await p.catch(() => undefined))?.bytes ?? 0;
    return total;
  }

  /** One index may take all the bytes allowed, and no more. */
  private maxFrames(): number {
    return Math.floor(this.limits.maxBytes / BYTES_PER_FRAME);
  }

  /** Drops every index. */
  clear(): void {
    this.entries.clear();
    this.streamEntries.clear();
    this.used.clear();
  }

  /** The stream index of `file` as it is now (the same file, or grown), or undefined. */
  async streams(file: string): Promise<StreamIndex | undefined> {
    return (await this.streamEntry(file))?.index;
  }

  /** Why the stream index of `file` as it is now is not held, when a pass found it would not be exact. */
  async streamsNotExact(file: string): Promise<string | undefined> {
    return (await this.streamEntry(file))?.reason;
  }

  /**
   * Keeps what a summary pass over `version` of `file` made of its streams: the index, or the
   * streams it recorded, made into the index when it is first asked for.
   */
  async keepStreams(file: string, version: FileVersion, made: Assembled | PendingStreams): Promise<void> {
    if ('assemble' in made) {
      this.streamEntries.set(file, {
        version,
        index: undefined,
        reason: undefined,
        assembler: undefined,
        pending: made,
      });
      this.touch(file);
      await this.evict();
      return;
    }
    const assembled = made;
    // One index may take all the bytes allowed, and no more (a file of tiny records).
    const tooBig = assembled.index !== undefined && assembled.index.bytes > this.limits.maxBytes;
    const index = tooBig ? undefined : assembled.index;
    const reason = assembled.index
      ? tooBig
        ? `it would take ${assembled.index.bytes} bytes, more than the ${this.limits.maxBytes} all indexes may`
        : undefined
      : assembled.reason;
    const assembler = index && 'assembler' in assembled ? assembled.assembler : undefined;
    this.streamEntries.set(file, { version, index, reason, assembler });
    this.touch(file);
    await this.evict();
  }

  /** Logs the stream index of `file` made since `t0`, if one is held. */
  private async told(file: string, t0: number, from: string): Promise<void> {
    const index = this.streamEntries.get(file)?.index;
    if (!index || !this.onBuilt) return;
    const facts = { kind: 'stream' as const, frames: index.frames, bytes: index.bytes, from };
    this.onBuilt(file, { ...facts, ms: performance.now() - t0, heldBytes: await this.bytes() });
  }

  /** Where ensureStreams gets a stream index from (the Summarizer registers itself). */
  useStreamBuilder(builder: StreamBuilder): void {
    this.streamBuilder = builder;
  }

  /**
   * The stream index of `file`, running the summary's pass for it when none is held, or over the
   * new frames of a file that grew past the one held: one pass for all concurrent callers, stopped
   * when every one of them has been cancelled. Undefined when the pass cannot make an exact one
   * (streamsNotExact says why) or no builder is registered. An extension that fails leaves the
   * index as it was (covering the frames it did).
   */
  async ensureStreams(
    file: string,
    options: { signal?: AbortSignal | undefined; timeoutMs?: number | undefined } = {},
  ): Promise<StreamIndex | undefined> {
    const held = await this.streamEntry(file);
    const extend = held && (await this.extension(file, held, options.signal));
    if (held && !extend) return held.index;
    const builder = this.streamBuilder;
    if (!builder) return held?.index;
    let build = this.builds.get(file);
    if (!build) {
      const stop = new AbortController();
      const done = builder(file, { signal: stop.signal, timeoutMs: options.timeoutMs, extend });
      const b: StreamBuild = { done, stop, waiting: 0, finished: false };
      const forget = (): void => {
        b.finished = true;
        if (this.builds.get(file) === b) this.builds.delete(file);
      };
      done.then(forget, forget);
      this.builds.set(file, (build = b));
    }
    const shared = build;
    shared.waiting++;
    if (shared.waiting === 1) {
      const t0 = performance.now();
      const from = extend ? 'by a pass over the frames the file grew by' : 'by a pass of its own';
      shared.done.then(() => this.told(file, t0, from)).catch(() => undefined);
    }
    try {
      await untilAborted(shared.done, options.signal);
    } finally {
      if (--shared.waiting === 0 && !shared.finished) shared.stop.abort();
    }
    return this.streams(file);
  }

  /** What extends `held` to the frames the file has now, when it grew past them and can be. */
  private async extension(
    file: string,
    held: StreamEntry,
    signal: AbortSignal | undefined,
  ): Promise<StreamExtension | undefined> {
    const { index, assembler } = held;
    if (!index || !assembler || assembler.frames !== index.frames) return undefined;
    // Only a file that grew since: an index a pass left short (damage) is not read again each call.
    const frames = await this.get(file, signal).catch(() => undefined);
    if (!frames || frames.version.size <= held.version.size || frames.count <= index.frames) return undefined;
    return { assembler, frames, index, version: held.version };
  }

  private async streamEntry(file: string): Promise<StreamEntry | undefined> {
    const entry = this.streamEntries.get(file);
    if (!entry) return undefined;
    const now = await stat(file).catch(() => undefined);
    const v = entry.version;
    const same = now !== undefined && v.dev === now.dev && v.ino === now.ino;
    if (same && (now.size > v.size || (now.size === v.size && now.mtimeMs === v.mtimeMs))) {
      if (entry.pending) {
        // The first that asks makes the index of what the summary recorded (a tenth of a second for
        // a million frames), and it is kept in place of the recording.
        const t0 = performance.now();
        const assembled = await entry.pending.assemble();
        // Kept unless the entry changed meanwhile (the file did, or another summary kept its own).
        if (this.streamEntries.get(file) === entry) {
          await this.keepStreams(file, v, assembled);
          await this.told(file, t0, "from the streams a summary's pass recorded");
        }
        return this.streamEntries.get(file);
      }
      this.touch(file);
      return entry;
    }
    if (this.streamEntries.get(file) === entry) this.streamEntries.delete(file);
    if (!this.entries.has(file)) this.used.delete(file);
    return undefined;
  }

  private touch(file: string): void {
    this.used.set(file, ++this.tick);
  }

  private async scan(
    file: string,
    index: FrameIndex | ((v: FrameIndex['version']) => FrameIndex),
    signal?: AbortSignal,
  ): Promise<FrameIndex | undefined> {
    const built = await scanInto(file, index, signal);
    if (signal?.aborted) throw abortError();
    return built;
  }

  private async keep(file: string, index: Promise<FrameIndex | undefined>): Promise<FrameIndex | undefined> {
    this.entries.set(file, index);
    this.touch(file);
    // A failed or aborted scan is not kept.
    const built = await index.catch((err: unknown) => {
      if (this.entries.get(file) === index) this.entries.delete(file);
      if (!this.entries.has(file) && !this.streamEntries.has(file)) this.used.delete(file);
      throw err;
    });
    if (!built) return undefined;
    await this.evict();
    return built;
  }

  private async evict(): Promise<void> {
    while (this.used.size > this.limits.maxEntries) this.dropOldest();
    while (this.used.size > 1 && (await this.bytes()) > this.limits.maxBytes) this.dropOldest();
  }

  /** Drops the least recently used file's indexes, both of them. */
  private dropOldest(): void {
    let oldest: string | undefined;
    let when = Number.POSITIVE_INFINITY;
    for (const [file, t] of this.used) if (t < when) [oldest, when] = [file, t];
    if (oldest === undefined) return;
    this.entries.delete(oldest);
    this.streamEntries.delete(oldest);
    this.used.delete(oldest);
  }
}

export { BYTES_PER_FRAME };

/** Waits for `done`, or until `signal` aborts. */
async function untilAborted(done: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return done;
  if (signal.aborted) throw abortError();
  let onAbort: (() => void) | undefined;
  try {
    await Promise.race([
      done,
      new Promise<never>((_, reject) => {
        onAbort = () => reject(abortError());
        signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}
