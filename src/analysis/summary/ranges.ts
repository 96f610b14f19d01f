// A large pcap or pcapng file read in ranges: cut at record boundaries (./chunks.ts) and read by
// one tshark per core, each through a FIFO with the file's header in front and a warm-up of the
// packets before its range. Each range is read as soon as the scan has found its end.
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { abortError } from '../../errors.js';
import { combineFacts } from '../../wireshark/capinfos.js';
import type { CaptureFacts, RangeFacts } from '../../wireshark/capinfos.js';
import { feedFifo, makeFifo } from '../../wireshark/fifo.js';
import type { FifoFeed } from '../../wireshark/fifo.js';
import { classifyReadProblem } from '../../wireshark/tshark.js';
import { planChunks } from './chunks.js';
import type { Chunk, ChunkPlan, ChunkSizing } from './chunks.js';
import { lightOf, PassFold } from './assembly.js';
import { runPass } from './pass.js';
import type { PassOutput, SummaryCall } from './pass.js';
import type { Chunking } from './types.js';

/**
 * Ranges of at most 240 MB and 350,000 packets, even in bytes and (past the scan's first records)
 * in packets. A worker starts at about 160 MB, and tshark's memory then grows with the packets and
 * bytes it has read (about 0.48 kB a packet on light traffic, 0.6 kB on short connections that are
 * all distinct, up to 1.7 kB on heavy, mostly TCP analysis): 600,000 packets of distinct
 * connections took two workers and the server to 1.19 GB, 350,000 keep them under 1 GB. Fewer,
 * larger ranges save start-ups (0.2 s of CPU each) and warm-ups. The warm-up of 10,000 packets
 * lets a worker see the recent past of its first packets.
 */
export function defaultChunking(workers = os.availableParallelism()): Chunking {
  return {
    workers,
    minFileBytes: 64_000_000,
    sizing: { chunkPackets: 350_000, chunkBytes: 240_000_000, warmupPackets: 10_000 },
  };
}

/** What the passes read, and capinfos's facts of the whole file when the ranges could say them. */
export interface RangesRead {
  readonly outputs: PassOutput[];
  /** Their conversations and statistics, joined as the ranges were read. */
  readonly fold: PassFold;
  readonly facts: CaptureFacts | undefined;
}

/** The ranges being read: where they come from and go to, and how to stop them all. */
interface RangeRun {
  readonly queue: ChunkQueue;
  /** Where the FIFOs are. */
  readonly dir: string;
  readonly file: FileHandle;
  readonly size: number;
  readonly workers: number;
  readonly stopAll: AbortController;
  readonly fold: PassFold;
}

/**
 * The file cut into ranges and read across the workers, each range as soon as the scan has found
 * its end; undefined when no FIFO can be made here or the file's framing cannot be trusted.
 */
export async function readInRanges(
  call: SummaryCall,
  chunking: Chunking,
  size: number,
): Promise<RangesRead | undefined> {
  const { request, signal } = call;
  const sizing = evenSizing(chunking.sizing, size, chunking.workers);
  const dir = await mkdtemp(path.join(await call.workDir(), 'summary-'));
  try {
    try {
      // One FIFO a worker, each read by its ranges' tsharks in turn.
      await makeFifo(...Array.from({ length: chunking.workers }, (_, w) => path.join(dir, `worker-${w}`)));
    } catch {
      return undefined; // no FIFOs here (no mkfifo, a file system without them)
    }
    const file = await open(request.file, 'r');
    try {
      const queue = new ChunkQueue();
      const stopAll = new AbortController();
      const planned = planChunks(request.file, sizing, signal, (c) => queue.push(c)).then(
        (plan) => {
          // A file whose framing turns out untrustworthy is read in one pass after all.
          if (plan === undefined) stopAll.abort();
          queue.end();
          return plan;
        },
        (err: unknown) => {
          stopAll.abort();
          queue.end();
          throw err;
        },
      );
      // With the counter, capinfos reads the file's head while the ranges are read.
      const headRun = call.counter
        ? planned.then((plan) => plan && headFacts(plan, dir, call.readFacts)).catch(() => undefined)
        : undefined;
      const fold = new PassFold();
      const outputs = await runRanges(call, {
        queue,
        dir,
        file,
        size,
        workers: chunking.workers,
        stopAll,
        fold,
      });
      const plan = await planned;
      if (plan === undefined) {
        if (signal?.aborted) throw abortError();
        return undefined;
      }
      const head = await headRun;
      const ranges = outputs.map((o) => o.facts);
      const counted = (r: RangeFacts | undefined): r is RangeFacts => r !== undefined;
      return {
        outputs,
        fold,
        facts: head && ranges.every(counted) ? combineFacts(head, size, ranges) : undefined,
      };
    } finally {
      await file.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function runRanges(call: SummaryCall, run: RangeRun): Promise<PassOutput[]> {
  const { request, signal, progress } = call;
  const { queue, dir, file, size, workers, stopAll, fold: folds } = run;
  // One worker's failure (a time-out, a cancellation) ends the others.
  const onAbort = (): void => stopAll.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  const deadline = performance.now() + request.timeoutMs;
  const feeds = new Set<FifoFeed>();
  let fed = 0;
  const report = (): void => {
    const now = fed + [...feeds].reduce((n, f) => n + f.written(), 0);
    // The ranges' warm-ups and headers are read twice: a little more than the file in all.
    const share = Math.min(1, now / size);
    progress?.({
      progress: Math.round(share * 100),
      total: 100,
      message: `${Math.round(share * 100)}% of the file read by ${workers} tshark workers`,
    });
  };
  const timer = progress ? setInterval(report, 250) : undefined;
  const outputs: PassOutput[] = [];
  // A single pass stops at the first damage in a file, and so does a summary in ranges: the range
  // that meets it is the last one read and counted. (The scan trusts a pcapng block's length, so it
  // can cut ranges past a block tshark finds damaged inside.)
  let lastRange = Number.POSITIVE_INFINITY;
  const worker = async (w: number): Promise<void> => {
    const fifo = path.join(dir, `worker-${w}`);
    // The last range's joining with those before it, left until this worker's next tshark has
    // started: the join of a range of 280,000 short connections takes a tenth of a second.
    let fold: (() => void) | undefined;
    const settle = (): void => {
      const f = fold;
      fold = undefined;
      f?.();
    };
    for (let chunk = await queue.next(); chunk && !stopAll.signal.aborted; chunk = await queue.next()) {
      if (chunk.index > lastRange) continue;
      const output = await call.counted(async (c) => {
        // Fed once tshark has started: opening a FIFO for writing blocks a libuv pool thread until
        // tshark opens it, and feeds of workers waiting for a tshark slot would take the threads
        // that the running workers' feeds read the file with.
        let feed: FifoFeed | undefined;
        try {
          return await runPass(call.group, call.tshark, fifo, {
            keylogFile: request.keylogFile,
            dissection: request.dissection,
            warmup: chunk.warmupPackets,
            streamsFile: call.streams ? path.join(dir, `streams-${chunk.index}`) : undefined,
            // The first range reads the file's start, which the hints' scan looks at, when it
            // holds all the packets the scan reads (else the scan is a pass of its own).
            hintScan: chunk.index === 0 && chunk.packets > call.hintScan ? call.hintScan : 0,
            timeoutMs: Math.max(1, deadline - performance.now()),
            signal: stopAll.signal,
            counter: c,
            onStart: () => {
              feed = feedFifo(fifo, chunk.header, file, chunk.warmupStart, chunk.end);
              feeds.add(feed);
              settle();
            },
          });
        } finally {
          if (feed) {
            feed.stop();
            await feed.done;
            feeds.delete(feed);
            fed += feed.written();
          }
        }
      });
      // tshark names the FIFO in its messages; the reader knows the file.
      const stderr = output.result.stderr.split(fifo).join(request.file);
      // The range's tables and streams go to the fold only: the output kept is light.
      outputs[chunk.index] = lightOf({ ...output, result: { ...output.result, stderr } });
      if (!output.result.timedOut && !output.result.aborted) call.onRangeRead?.(output, chunk.index === 0);
      if (output.result.timedOut || output.result.aborted) stopAll.abort();
      const problem = classifyReadProblem(stderr)?.kind;
      if (problem === 'truncated' || problem === 'damaged') {
        lastRange = Math.min(lastRange, chunk.index);
        folds.lastRange(lastRange);
      }
      // Joined with the ranges before it while the next ranges are read.
      settle();
      const read = outputs[chunk.index] as PassOutput;
      const index = chunk.index;
      fold = () => folds.add(index, read, output);
    }
    settle();
  };
  try {
    await Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
  } finally {
    if (timer) clearInterval(timer);
    signal?.removeEventListener('abort', onAbort);
  }
  if (signal?.aborted) throw abortError();
  if (progress) report();
  // A range no worker reached was cut off by the time limit.
  return queue
    .taken()
    .filter((c) => c.index <= lastRange)
    .map((c) => outputs[c.index] ?? UNREAD);
}

/**
 * capinfos's facts about a file's head (type, encapsulation, interfaces), written beside the FIFOs;
 * undefined for a file of several sections, whose interfaces the ranges number differently.
 */
async function headFacts(
  plan: ChunkPlan,
  dir: string,
  readFacts: (file: string) => Promise<CaptureFacts>,
): Promise<CaptureFacts | undefined> {
  if (plan.sections !== 1) return undefined;
  const file = path.join(dir, 'head');
  await writeFile(file, plan.head, { mode: 0o600 });
  return readFacts(file);
}

/** Ranges as the scan finds them, taken by the workers in order. */
class ChunkQueue {
  private readonly chunks: Chunk[] = [];
  private next_ = 0;
  private ended = false;
  private waiting: (() => void)[] = [];

  push(chunk: Chunk): void {
    this.chunks.push(chunk);
    this.wake();
  }

  end(): void {
    this.ended = true;
    this.wake();
  }

  /** The next range, once the scan has found it; undefined when there are no more. */
  async next(): Promise<Chunk | undefined> {
    while (this.next_ >= this.chunks.length && !this.ended)
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    return this.chunks[this.next_++];
  }

  /** Every range found. */
  taken(): Chunk[] {
    return this.chunks;
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }
}

const UNREAD: PassOutput = {
  counter: 'unused',
  facts: undefined,
  limits: undefined,
  parts: [],
  firstTime: undefined,
  stats: { protocols: [], endpoints: [], expert: [] },
  result: {
    exitCode: null,
    exitSignal: null,
    stderr: '',
    stoppedEarly: false,
    timedOut: true,
    aborted: false,
    durationMs: 0,
  },
};

/** Ranges as even as the bounds allow, a whole number of rounds of `workers`. */
function evenSizing(bounds: ChunkSizing, size: number, workers: number): ChunkSizing {
  const rounds = Math.max(1, Math.ceil(size / (workers * bounds.chunkBytes)));
  // A range ends before the record that would overflow it, so each falls a little short of its
  // share: 1% more keeps those shortfalls from adding up to one more, tiny, range at the end.
  return { ...bounds, chunkBytes: Math.ceil((size / (rounds * workers)) * 1.01), evenWorkers: workers };
}
