// The "what is in here?" answer: capinfos facts plus tshark passes that give the protocol
// hierarchy, conversations, endpoints and expert info, reduced to the top entries. A pass counts
// them with the summary counter inside tshark (native/summary-counter.c) where it was built, and
// otherwise with tshark's `-z` statistics and a line of columns per packet (for exact
// conversations). A large pcap or pcapng file is cut into packet ranges at record boundaries and
// read by one tshark per core, each through a FIFO with the file's header in front and a warm-up of
// the packets before its range; the ranges' results are added up exactly.
import { mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { abortError } from '../errors.js';
import { captureFacts, combineFacts } from '../wireshark/capinfos.js';
import type { CaptureFacts, RangeFacts } from '../wireshark/capinfos.js';
import { feedFifo, makeFifo } from '../wireshark/fifo.js';
import type { FifoFeed } from '../wireshark/fifo.js';
import type { WiresharkTools } from '../wireshark/locate.js';
import type { ProcessGroup, RunResult } from '../wireshark/process.js';
import { LIVE_NOTE } from './analyze-capture.js';
import { readOutcome } from './damage.js';
import type { Damage } from './damage.js';
import { planChunks } from './summary/chunks.js';
import type { Chunk, ChunkPlan, ChunkSizing } from './summary/chunks.js';
import { watchRead } from '../util/progress.js';
import type { ProgressSink } from '../util/progress.js';
import { formatBytes } from '../capture/sessions.js';
import { LineSplitter, plural } from '../util/text.js';
import {
  ConversationAggregator,
  COUNTER_BEGIN,
  COUNTER_END,
  CounterReader,
  mergeConversations,
  packetColumnArgs,
} from './summary/conversations.js';
import { conversationCounter } from '../wireshark/native.js';
import { classifyReadProblem } from '../wireshark/tshark.js';
import { filteredStatistic, luaScriptArgs, readArgs, statisticsArgs } from '../wireshark/tshark-args.js';
import type { ConversationCounter, CounterStatus } from '../wireshark/native.js';
import type { ConversationPart, Instant } from './summary/conversations.js';
import { mergeStatistics, parseStatistics, SUMMARY_STATISTICS } from './summary/stats.js';
import type {
  Conversation,
  ConversationKind,
  Endpoint,
  ExpertEntry,
  ProtocolNode,
  Severity,
  Statistics,
} from './summary/stats.js';

export interface CaptureSummary {
  readonly facts: CaptureFacts;
  readonly protocols: readonly ProtocolNode[];
  /** The topN conversations of each kind, by bytes. */
  readonly conversations: readonly Conversation[];
  readonly conversationCounts: Readonly<Record<string, number>>;
  /** The topN endpoints of each kind, by bytes. */
  readonly endpoints: readonly Endpoint[];
  readonly expertCounts: Readonly<Record<Severity, number>>;
  /** The topN most frequent expert messages, errors and warnings first. */
  readonly expertTop: readonly ExpertEntry[];
  readonly warnings: readonly string[];
}

export interface SummaryRequest {
  readonly file: string;
  readonly topN: number;
  readonly keylogFile?: string | undefined;
  readonly timeoutMs: number;
  /** A capture still being written: never cut into ranges, and its partial last packet is normal. */
  readonly live?: boolean | undefined;
}

export interface Chunking {
  /** tshark workers at once; 1 reads every file in one pass. */
  readonly workers: number;
  /** Files smaller than this are read in one pass. */
  readonly minFileBytes: number;
  /** Upper bounds of one range; ranges are made even so that every worker gets a share. */
  readonly sizing: ChunkSizing;
}

/**
 * Ranges of at most 240 MB and 600,000 packets. A worker starts at about 160 MB, and tshark's memory
 * then grows with the packets and bytes it has read (about 0.48 kB a packet on light traffic, up to
 * 1.7 kB on heavy, mostly TCP analysis): about 0.4 GB a worker, so two workers and the server stay
 * under 1 GB. Fewer, larger ranges save start-ups (0.2 s of CPU each). The warm-up of 10,000
 * packets lets a worker see the recent past of its first packets.
 */
export function defaultChunking(workers = os.availableParallelism()): Chunking {
  return {
    workers,
    minFileBytes: 64_000_000,
    sizing: { chunkPackets: 600_000, chunkBytes: 240_000_000, warmupPackets: 10_000 },
  };
}

const MAX_STATS_OUTPUT = 64 * 1024 * 1024;
const SEVERITY_ORDER: Severity[] = ['error', 'warning', 'note', 'chat', 'comment'];
const KIND_ORDER: ConversationKind[] = ['tcp', 'udp', 'ipv4', 'ipv6'];

interface PassOutput {
  readonly parts: ConversationPart[];
  readonly firstTime: Instant | undefined;
  readonly stats: Statistics;
  readonly result: RunResult;
  /**
   * How the summary counter did: not asked for; exact; "incomplete" when some packet's headers
   * were cut short, or "absent" when it did not load. The last two mean the pass must be read again
   * with per-packet lines.
   */
  readonly counter: 'unused' | 'exact' | 'incomplete' | 'absent';
  /** What capinfos would count over the packets this pass counted (from the counter only). */
  readonly facts: RangeFacts | undefined;
}

/**
 * Work tshark does by default that no summary reads: TCP and UDP time stamps per packet (tshark
 * keeps them for every packet: 6% of a pass and 60 bytes a packet) and the address summaries of
 * the IP, TCP and UDP tree lines (formatted, then never printed). The statistics, expert messages
 * and the counter's tap data are the same without them, on every corpus capture.
 */
const SUMMARY_PREFERENCES = [
  'tcp.calculate_timestamps:FALSE',
  'udp.calculate_timestamps:FALSE',
  'ip.summary_in_tree:FALSE',
  'ipv6.summary_in_tree:FALSE',
  'tcp.summary_in_tree:FALSE',
  'udp.summary_in_tree:FALSE',
];

/** One tshark pass over `input` (the file, or a FIFO that a range is fed into). */
async function runPass(
  group: ProcessGroup,
  tshark: string,
  input: string,
  options: {
    keylogFile: string | undefined;
    warmup: number;
    timeoutMs: number;
    signal: AbortSignal | undefined;
    onStart?: ((pid: number) => void) | undefined;
    /** Conversations from the counter inside tshark; per-packet lines without it. */
    counter: ConversationCounter | undefined;
  },
): Promise<PassOutput> {
  const args = readArgs({
    file: input,
    numeric: true,
    preferences: SUMMARY_PREFERENCES,
    keylogFile: options.keylogFile,
  });
  // A worker's statistics leave out its warm-up packets: the counter skips them itself, tshark's
  // own statistics by a filter (which costs a sixth of the pass).
  const counter = options.counter;
  if (counter) {
    args.push(
      ...statisticsArgs([]),
      ...luaScriptArgs(counter.script, [counter.library, String(options.warmup)]),
    );
  } else {
    const pastWarmup = options.warmup > 0 ? `frame.number>${options.warmup}` : undefined;
    args.push(
      ...packetColumnArgs(),
      ...statisticsArgs(
        SUMMARY_STATISTICS.map((z) => filteredStatistic(z, pastWarmup)),
        'print',
      ),
    );
  }
  const lines = new LineSplitter(64 * 1024);
  const aggregator = new ConversationAggregator(options.warmup);
  const reader = counter ? new CounterReader() : undefined;
  let inCounter = false;
  const statsText: string[] = [];
  let statsSize = 0;
  let inStats = counter !== undefined;
  const take = (line: string): 'continue' | 'stop' => {
    if (reader && (inCounter || line === COUNTER_BEGIN)) {
      if (line === COUNTER_END) [inCounter, reader.ended] = [false, true];
      else if (inCounter) reader.add(line);
      else inCounter = true;
      return 'continue';
    }
    if (!inStats && (line === '' || line.startsWith('='))) inStats = true;
    if (!inStats) {
      aggregator.add(line);
      return 'continue';
    }
    statsText.push(line);
    statsSize += line.length + 1;
    return statsSize > MAX_STATS_OUTPUT ? 'stop' : 'continue';
  };
  const result = await group.run({
    onStart: options.onStart,
    command: tshark,
    args,
    timeoutMs: options.timeoutMs,
    signal: options.signal,
    onStdout: (chunk) => {
      for (const line of lines.push(chunk)) if (take(line.text) === 'stop') return 'stop';
      return 'continue';
    },
  });
  for (const line of lines.end()) take(line.text);
  const stats = reader
    ? { protocols: reader.protocols, endpoints: reader.endpoints, expert: reader.expert }
    : parseStatistics(statsText.join('\n'));
  return {
    parts: reader ? reader.result() : aggregator.result(),
    firstTime: reader ? reader.firstTime : aggregator.firstTime,
    counter: !reader ? 'unused' : !reader.ended ? 'absent' : reader.incomplete > 0 ? 'incomplete' : 'exact',
    facts: reader?.ended ? reader.facts() : undefined,
    // io,phs roots its tree at "frame" when packets are printed or a filter is given; not always.
    stats: {
      ...stats,
      protocols: stats.protocols
        .filter((p) => p.path !== 'frame')
        .map((p) => (p.path.startsWith('frame:') ? { ...p, path: p.path.slice(6), depth: p.depth - 1 } : p)),
    },
    result,
  };
}

/** Summaries of capture files, in one pass or in ranges across workers. */
export class Summarizer {
  constructor(
    private readonly group: ProcessGroup,
    private readonly tools: () => Promise<WiresharkTools>,
    /** A private directory for the FIFOs. */
    private readonly workDir: () => Promise<string>,
    private readonly chunking: Chunking = defaultChunking(),
    /** Finds the summary counter built for a tshark version. */
    private readonly findCounter: (tsharkVersion: string | undefined) => CounterStatus = (v) =>
      conversationCounter(v),
  ) {}

  /** Set once the counter failed to load: later passes go straight to per-packet lines. */
  private counterBroken = false;

  private counter(tools: WiresharkTools): ConversationCounter | undefined {
    if (this.counterBroken) return undefined;
    const tshark = tools.status('tshark');
    const status = this.findCounter(tshark.found ? tshark.version : undefined);
    return status.available ? status.counter : undefined;
  }

  /** Reads with the counter, and again with per-packet lines where the counter fell short. */
  private async counted(
    counter: ConversationCounter | undefined,
    read: (counter: ConversationCounter | undefined) => Promise<PassOutput>,
  ): Promise<PassOutput> {
    const output = await read(counter);
    const { result } = output;
    if (output.counter === 'exact' || output.counter === 'unused' || result.aborted || result.timedOut)
      return output;
    if (output.counter === 'absent' && !result.stoppedEarly) this.counterBroken = true;
    // What the counter counted of the records themselves holds even where a header was cut short.
    return { ...(await read(undefined)), facts: output.facts };
  }

  async summarize(
    request: SummaryRequest,
    signal?: AbortSignal,
    progress?: ProgressSink,
  ): Promise<CaptureSummary> {
    const tools = await this.tools();
    const tshark = tools.require('tshark');
    const capinfos = tools.require('capinfos');
    const counter = this.counter(tools);
    const readFacts = (file: string): Promise<CaptureFacts> =>
      captureFacts(this.group, capinfos, file, signal);
    const { workers, minFileBytes, sizing } = this.chunking;
    const size = (await stat(request.file)).size;
    let factsRun: Promise<CaptureFacts> | undefined;
    if (workers > 1 && !request.live && size >= minFileBytes) {
      // With the counter, the workers count what capinfos would and capinfos reads only the file's
      // head (its whole read costs a sixth of a core); without it, capinfos reads the file alongside.
      factsRun = counter ? undefined : readFacts(request.file);
      factsRun?.catch(() => undefined);
      const even = evenSizing(sizing, size, workers);
      const chunked = await this.chunked(tshark, counter, request, even, size, readFacts, signal, progress);
      if (chunked) {
        // A range read without the counter, or a file of several sections: capinfos after all.
        const facts = chunked.facts ?? (await (factsRun ?? readFacts(request.file)));
        return this.finish(tools, request, facts, chunked.outputs, readFacts, signal);
      }
    }
    factsRun ??= readFacts(request.file);
    const [facts, output] = await Promise.all([
      factsRun,
      this.onePass(tshark, counter, request, factsRun, signal, progress),
    ]);
    return this.finish(tools, request, facts, [output], readFacts, signal);
  }

  /**
   * The summary of what the passes read. capinfos gives no facts at all for a file damaged part-way
   * (only for one cut short): its facts are then those of the part before the damage.
   */
  private async finish(
    tools: WiresharkTools,
    request: SummaryRequest,
    facts: CaptureFacts,
    outputs: readonly PassOutput[],
    readFacts: (file: string) => Promise<CaptureFacts>,
    signal: AbortSignal | undefined,
  ): Promise<CaptureSummary> {
    const warnings = new Set<string>();
    let damage: Damage | undefined;
    for (const o of outputs) {
      if (o.result.stderr === '') continue;
      const read = await readOutcome(
        this.group,
        tools,
        o.result.stderr,
        request.file,
        request.live === true,
        signal,
        facts.packets,
      );
      for (const w of read.warnings) warnings.add(w);
      if (read.other !== undefined) warnings.add(`tshark said: ${read.other}`);
      damage ??= read.damage;
    }
    const before =
      damage?.kind === 'damaged' && facts.packets === undefined
        ? await this.factsBefore(request.file, damage, readFacts, signal)
        : facts;
    return assemble(request, before, outputs, warnings);
  }

  /** capinfos's facts of the bytes before the damage, fed through a FIFO (no copy of the file). */
  private async factsBefore(
    file: string,
    damage: Damage,
    readFacts: (file: string) => Promise<CaptureFacts>,
    signal: AbortSignal | undefined,
  ): Promise<CaptureFacts> {
    const known: CaptureFacts = {
      fileType: undefined,
      encapsulation: undefined,
      packets: damage.packets,
      fileBytes: damage.size,
      dataBytes: undefined,
      durationSeconds: undefined,
      firstPacketTime: undefined,
      lastPacketTime: undefined,
      interfaces: [],
    };
    if (damage.offset === undefined) return known;
    const dir = await mkdtemp(path.join(await this.workDir(), 'damaged-'));
    try {
      const fifo = path.join(dir, 'before-damage');
      try {
        await makeFifo(fifo);
      } catch {
        return known; // no FIFOs here
      }
      const handle = await open(file, 'r');
      try {
        const feed = feedFifo(fifo, Buffer.alloc(0), handle, 0, damage.offset);
        try {
          const facts = await readFacts(fifo);
          if (signal?.aborted) throw abortError();
          // Counted as capinfos would have, had it read on: the file is the whole file.
          return facts.packets === damage.packets ? { ...facts, fileBytes: damage.size } : known;
        } finally {
          feed.stop();
          await feed.done;
        }
      } finally {
        await handle.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** One pass over the whole file. */
  private async onePass(
    tshark: string,
    counter: ConversationCounter | undefined,
    request: SummaryRequest,
    factsRun: Promise<CaptureFacts>,
    signal: AbortSignal | undefined,
    progress: ProgressSink | undefined,
  ): Promise<PassOutput> {
    const deadline = performance.now() + request.timeoutMs;
    const output = await this.counted(counter, async (c) => {
      let stopWatching: Promise<() => void> | undefined;
      const read = await runPass(this.group, tshark, request.file, {
        keylogFile: request.keylogFile,
        warmup: 0,
        timeoutMs: Math.max(1, deadline - performance.now()),
        signal,
        counter: c,
        onStart: progress
          ? (pid) => {
              const total = factsRun.then(
                (f) => f.packets,
                () => undefined,
              );
              stopWatching = watchRead(pid, request.file, total, progress).catch(() => () => undefined);
            }
          : undefined,
      });
      if (stopWatching) (await stopWatching)();
      return read;
    });
    if (output.result.aborted) throw abortError();
    return output;
  }

  /**
   * The file cut into ranges and read across the workers, each range as soon as the scan has found
   * its end; undefined when no FIFO can be made here or the file's framing cannot be trusted.
   */
  private async chunked(
    tshark: string,
    counter: ConversationCounter | undefined,
    request: SummaryRequest,
    sizing: ChunkSizing,
    size: number,
    readFacts: (file: string) => Promise<CaptureFacts>,
    signal: AbortSignal | undefined,
    progress: ProgressSink | undefined,
  ): Promise<{ outputs: PassOutput[]; facts: CaptureFacts | undefined } | undefined> {
    const dir = await mkdtemp(path.join(await this.workDir(), 'summary-'));
    try {
      try {
        await makeFifo(path.join(dir, 'range-0'));
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
        const headRun = counter
          ? planned.then((plan) => plan && headFacts(plan, dir, readFacts)).catch(() => undefined)
          : undefined;
        const outputs = await this.runRanges(
          tshark,
          counter,
          request,
          queue,
          dir,
          file,
          size,
          stopAll,
          signal,
          progress,
        );
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
          facts: head && ranges.every(counted) ? combineFacts(head, size, ranges) : undefined,
        };
      } finally {
        await file.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async runRanges(
    tshark: string,
    counter: ConversationCounter | undefined,
    request: SummaryRequest,
    queue: ChunkQueue,
    dir: string,
    file: FileHandle,
    size: number,
    stopAll: AbortController,
    signal: AbortSignal | undefined,
    progress: ProgressSink | undefined,
  ): Promise<PassOutput[]> {
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
        message: `${Math.round(share * 100)}% of the file read by ${this.chunking.workers} tshark workers`,
      });
    };
    const timer = progress ? setInterval(report, 250) : undefined;
    const outputs: PassOutput[] = [];
    // A single pass stops at the first damage in a file, and so does a summary in ranges: the range
    // that meets it is the last one read and counted. (The scan trusts a pcapng block's length, so it
    // can cut ranges past a block tshark finds damaged inside.)
    let lastRange = Number.POSITIVE_INFINITY;
    const worker = async (): Promise<void> => {
      for (let chunk = await queue.next(); chunk && !stopAll.signal.aborted; chunk = await queue.next()) {
        if (chunk.index > lastRange) continue;
        const fifo = path.join(dir, `range-${chunk.index}`);
        if (chunk.index > 0) await makeFifo(fifo);
        const output = await this.counted(counter, async (c) => {
          // Fed once tshark has started: opening a FIFO for writing blocks a libuv pool thread until
          // tshark opens it, and feeds of workers waiting for a tshark slot would take the threads
          // that the running workers' feeds read the file with.
          let feed: FifoFeed | undefined;
          try {
            return await runPass(this.group, tshark, fifo, {
              keylogFile: request.keylogFile,
              warmup: chunk.warmupPackets,
              timeoutMs: Math.max(1, deadline - performance.now()),
              signal: stopAll.signal,
              counter: c,
              onStart: () => {
                feed = feedFifo(fifo, chunk.header, file, chunk.warmupStart, chunk.end);
                feeds.add(feed);
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
        outputs[chunk.index] = { ...output, result: { ...output.result, stderr } };
        if (output.result.timedOut || output.result.aborted) stopAll.abort();
        const problem = classifyReadProblem(stderr)?.kind;
        if (problem === 'truncated' || problem === 'damaged') lastRange = Math.min(lastRange, chunk.index);
      }
    };
    try {
      await Promise.all(Array.from({ length: this.chunking.workers }, worker));
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
  return { ...bounds, chunkBytes: Math.ceil((size / (rounds * workers)) * 1.01) };
}

function assemble(
  request: SummaryRequest,
  facts: CaptureFacts,
  outputs: readonly PassOutput[],
  warnings: Set<string>,
): CaptureSummary {
  if (request.live) warnings.add(LIVE_NOTE);
  if (outputs.some((o) => o.result.timedOut))
    warnings.add(
      `tshark was stopped after ${Math.round(request.timeoutMs / 1000)} s; the statistics are incomplete.`,
    );
  if (outputs.some((o) => o.result.stoppedEarly))
    warnings.add('The statistics were larger than 64 MB of text; the summary covers what was read.');

  const stats = mergeStatistics(outputs.map((o) => o.stats));
  const conversations = mergeConversations(
    outputs.map((o) => o.parts),
    outputs[0]?.firstTime,
  );
  // Ties are broken by name, so that the answer does not depend on tshark's table order.
  const topByBytes = <T extends { kind: string; bytes: number }>(
    items: readonly T[],
    name: (item: T) => string,
  ): T[] => {
    const byKind = new Map<string, T[]>(KIND_ORDER.map((k) => [k, []]));
    for (const item of items) byKind.get(item.kind)?.push(item);
    return [...byKind.values()].flatMap((list) =>
      [...list]
        .sort((x, y) => y.bytes - x.bytes || (name(x) < name(y) ? -1 : name(x) > name(y) ? 1 : 0))
        .slice(0, request.topN),
    );
  };
  const conversationCounts: Record<string, number> = {};
  for (const c of conversations) conversationCounts[c.kind] = (conversationCounts[c.kind] ?? 0) + 1;
  const expertCounts = Object.fromEntries(SEVERITY_ORDER.map((s) => [s, 0])) as Record<Severity, number>;
  for (const e of stats.expert) expertCounts[e.severity] += e.count;
  const expertName = (e: ExpertEntry): string => `${e.protocol}\t${e.group}\t${e.summary}`;
  const expertTop = [...stats.expert]
    .sort(
      (x, y) =>
        SEVERITY_ORDER.indexOf(x.severity) - SEVERITY_ORDER.indexOf(y.severity) ||
        y.count - x.count ||
        (expertName(x) < expertName(y) ? -1 : expertName(x) > expertName(y) ? 1 : 0),
    )
    .slice(0, request.topN);
  return {
    facts,
    protocols: stats.protocols,
    conversations: topByBytes(conversations, (c) => `${c.a} ${c.b}`),
    conversationCounts,
    endpoints: topByBytes(stats.endpoints, (e) => e.address),
    expertCounts,
    expertTop,
    warnings: [...warnings],
  };
}

/** The summary as compact text, for answers and resources. */
function n(x: number | undefined): string {
  return x === undefined ? '?' : x.toLocaleString('en-US');
}

export function renderSummary(label: string, s: CaptureSummary, warnings: readonly string[]): string {
  const f = s.facts;
  const lines = [`Summary of ${label}`];
  lines.push(
    `File: ${f.fileType ?? 'unknown type'}, ${plural(f.packets ?? 0, 'packet')}, ${n(f.fileBytes)} bytes on disk (${n(f.dataBytes)} of packet data), ${f.durationSeconds === undefined ? 'no duration' : `${f.durationSeconds.toFixed(3)} s`}${f.firstPacketTime ? ` from ${f.firstPacketTime} to ${f.lastPacketTime ?? '?'}` : ''}.`,
  );
  if (f.interfaces.length > 0) {
    lines.push(
      `Interfaces: ${f.interfaces
        .map(
          (i) =>
            `${i.name ?? i.description ?? 'unnamed'}${i.encapsulation ? ` (${i.encapsulation})` : ''}${i.packets !== undefined ? `, ${plural(i.packets, 'packet')}` : ''}`,
        )
        .join('; ')}`,
    );
  }
  for (const w of warnings) lines.push(`Warning: ${w}`);
  if (s.protocols.length > 0) {
    lines.push('', 'Protocols (frames, bytes):');
    for (const p of s.protocols)
      lines.push(`${'  '.repeat(p.depth + 1)}${p.protocol}  ${n(p.frames)}  ${n(p.bytes)}`);
  }
  const kinds: [string, string][] = [
    ['tcp', 'TCP'],
    ['udp', 'UDP'],
    ['ipv4', 'IPv4'],
    ['ipv6', 'IPv6'],
  ];
  for (const [k, name] of kinds) {
    const convs = s.conversations.filter((c) => c.kind === k);
    if (convs.length === 0) continue;
    const total = s.conversationCounts[k] ?? convs.length;
    lines.push('', `Top ${name} conversations by bytes (${convs.length} of ${total}):`);
    for (const c of convs) {
      lines.push(
        `  ${c.a} <-> ${c.b}  ${plural(c.frames, 'frame')} (${n(c.framesAToB)} →, ${n(c.framesBToA)} ←), ${formatBytes(c.bytes)}, ${c.durationSeconds.toFixed(3)} s from ${c.startSeconds.toFixed(3)} s`,
      );
    }
  }
  for (const [k, name] of kinds) {
    const eps = s.endpoints.filter((e) => e.kind === k);
    if (eps.length === 0) continue;
    lines.push('', `Top ${name} endpoints by bytes:`);
    for (const e of eps) {
      lines.push(
        `  ${e.address}  ${plural(e.packets, 'packet')}, ${formatBytes(e.bytes)} (sent ${formatBytes(e.txBytes)}, received ${formatBytes(e.rxBytes)})`,
      );
    }
  }
  const c = s.expertCounts;
  lines.push(
    '',
    `Expert info: ${plural(c.error, 'error')}, ${plural(c.warning, 'warning')}, ${plural(c.note, 'note')}, ${plural(c.chat, 'chat')}`,
  );
  for (const e of s.expertTop)
    lines.push(`  ${e.severity} ×${e.count} ${e.protocol} (${e.group}): ${e.summary}`);
  return lines.join('\n');
}
