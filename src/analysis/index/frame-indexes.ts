// The frame indexes of the captures in use, built on first need and kept in a cache bounded by
// count and bytes (the least recently used goes first). A file that changed is indexed again; a
// file that only grew (same inode, larger) has its index extended from where its scan stopped.
import { stat } from 'node:fs/promises';
import { abortError } from '../../errors.js';
import { BYTES_PER_FRAME, FrameIndex, scanInto } from './frame-index.js';

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
  facts: { frames: number; bytes: number; ms: number; heldBytes: number },
) => void;

export class FrameIndexes {
  /** In use order: the first key is the least recently used. */
  private readonly entries = new Map<string, Promise<FrameIndex | undefined>>();

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
      const facts = { frames: built.count, bytes: built.bytes, ms: performance.now() - t0 };
      this.onBuilt(file, { ...facts, heldBytes: await this.bytes() });
    }
    return built;
  }

  /** Bytes the kept indexes hold (those still being built count as nothing). */
  async bytes(): Promise<number> {
    let total = 0;
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
    // A failed or aborted scan is not kept.
    const built = await index.catch((err: unknown) => {
      if (this.entries.get(file) === index) this.entries.delete(file);
      throw err;
    });
    if (!built) return undefined;
    await this.evict();
    return built;
  }

  private async evict(): Promise<void> {
    while (this.entries.size > this.limits.maxEntries) this.dropOldest();
    while (this.entries.size > 1 && (await this.bytes()) > this.limits.maxBytes) this.dropOldest();
  }

  private dropOldest(): void {
    const oldest = this.entries.keys().next().value;
    if (oldest !== undefined) this.entries.delete(oldest);
  }
}

export { BYTES_PER_FRAME };
