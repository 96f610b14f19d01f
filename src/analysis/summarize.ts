// The "what is in here?" answer: capinfos facts plus tshark passes that print several statistics
// at once (protocol hierarchy, endpoints, expert info) and a line of columns per packet (for exact
// conversations), reduced to the top entries. A large pcap or pcapng file is cut into packet ranges
// at record boundaries and read by one tshark per core, each through a FIFO with the file's header
// in front and a warm-up of the packets before its range; the ranges' results are added up exactly.
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { abortError } from '../errors.js';
import { captureFacts } from '../wireshark/capinfos.js';
import type { CaptureFacts } from '../wireshark/capinfos.js';
import { feedFifo, makeFifo } from '../wireshark/fifo.js';
import type { FifoFeed } from '../wireshark/fifo.js';
import type { WiresharkTools } from '../wireshark/locate.js';
import type { ProcessGroup, RunResult } from '../wireshark/process.js';
import { LIVE_NOTE, readProblem } from './analyze-capture.js';
import { planChunks } from './chunks.js';
import type { Chunk, ChunkSizing } from './chunks.js';
import { watchRead } from './progress.js';
import type { ProgressSink } from './progress.js';
import { formatBytes } from '../capture/sessions.js';
import { LineSplitter, plural } from '../util/text.js';
import { ConversationAggregator, mergeConversations, packetColumnArgs } from './conversations.js';
import type { ConversationPart, Instant } from './conversations.js';
import { mergeStatistics, parseStatistics, SUMMARY_STATISTICS } from './stats.js';
import type {
  Conversation,
  ConversationKind,
  Endpoint,
  ExpertEntry,
  ProtocolNode,
  Severity,
  Statistics,
} from './stats.js';

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
 * Ranges of at most 128 MB and 300,000 packets keep a worker near 0.3 to 0.5 GB (tshark's memory
 * grows with the packets and reassembled bytes it has read), so two workers and the server stay
 * under 1 GB. The warm-up of 10,000 packets lets a worker see the recent past of its first packets.
 */
export function defaultChunking(workers = os.availableParallelism()): Chunking {
  return {
    workers,
    minFileBytes: 64_000_000,
    sizing: { chunkPackets: 300_000, chunkBytes: 128_000_000, warmupPackets: 10_000 },
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
}

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
  },
): Promise<PassOutput> {
  const args = ['-n', '-r', input];
  if (options.keylogFile) args.push('-o', `tls.keylog_file:${options.keylogFile}`);
  args.push(...packetColumnArgs());
  // A worker's statistics leave out its warm-up packets.
  for (const z of SUMMARY_STATISTICS)
    args.push('-z', options.warmup > 0 ? `${z},frame.number>${options.warmup}` : z);
  const lines = new LineSplitter(64 * 1024);
  const aggregator = new ConversationAggregator(options.warmup);
  const statsText: string[] = [];
  let statsSize = 0;
  let inStats = false;
  const take = (line: string): 'continue' | 'stop' => {
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
  const stats = parseStatistics(statsText.join('\n'));
  return {
    parts: aggregator.result(),
    firstTime: aggregator.firstTime,
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
  ) {}

  async summarize(
    request: SummaryRequest,
    signal?: AbortSignal,
    progress?: ProgressSink,
  ): Promise<CaptureSummary> {
    const tools = await this.tools();
    const tshark = tools.require('tshark');
    const factsRun = captureFacts(this.group, tools.require('capinfos'), request.file, signal);
    const passes = this.passes(tshark, request, factsRun, signal, progress);
    const [facts, outputs] = await Promise.all([factsRun, passes]);
    return assemble(request, facts, outputs);
  }

  private async passes(
    tshark: string,
    request: SummaryRequest,
    factsRun: Promise<CaptureFacts>,
    signal: AbortSignal | undefined,
    progress: ProgressSink | undefined,
  ): Promise<PassOutput[]> {
    const { workers, minFileBytes, sizing } = this.chunking;
    const size = (await stat(request.file)).size;
    const plan =
      workers > 1 && !request.live && size >= minFileBytes
        ? await planChunks(request.file, evenSizing(sizing, size, workers), signal)
        : undefined;
    if (plan !== undefined && plan.length >= 2) {
      const outputs = await this.chunked(tshark, request, plan, signal, progress);
      if (outputs) return outputs;
    }
    // One pass over the whole file.
    let stopWatching: Promise<() => void> | undefined;
    const output = await runPass(this.group, tshark, request.file, {
      keylogFile: request.keylogFile,
      warmup: 0,
      timeoutMs: request.timeoutMs,
      signal,
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
    if (output.result.aborted) throw abortError();
    return [output];
  }

  /** The ranges of `plan` across the workers; undefined when no FIFO can be made here. */
  private async chunked(
    tshark: string,
    request: SummaryRequest,
    plan: readonly Chunk[],
    signal: AbortSignal | undefined,
    progress: ProgressSink | undefined,
  ): Promise<PassOutput[] | undefined> {
    const dir = await mkdtemp(path.join(await this.workDir(), 'summary-'));
    try {
      const fifos = plan.map((c) => path.join(dir, `range-${c.index}`));
      try {
        for (const fifo of fifos) await makeFifo(fifo);
      } catch {
        return undefined; // no FIFOs here (no mkfifo, a file system without them)
      }
      const file = await open(request.file, 'r');
      try {
        return await this.runRanges(tshark, request, plan, fifos, file, signal, progress);
      } finally {
        await file.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async runRanges(
    tshark: string,
    request: SummaryRequest,
    plan: readonly Chunk[],
    fifos: readonly string[],
    file: FileHandle,
    signal: AbortSignal | undefined,
    progress: ProgressSink | undefined,
  ): Promise<PassOutput[]> {
    // One worker's failure (a time-out, a cancellation) ends the others.
    const stopAll = new AbortController();
    const onAbort = (): void => stopAll.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const deadline = performance.now() + request.timeoutMs;
    const feeds = new Set<FifoFeed>();
    const total = plan.reduce((n, c) => n + c.end - c.warmupStart + c.header.length, 0);
    let fed = 0;
    const report = (): void => {
      const now = fed + [...feeds].reduce((n, f) => n + f.written(), 0);
      const share = Math.min(1, now / total);
      progress?.({
        progress: Math.round(share * 100),
        total: 100,
        message: `${Math.round(share * 100)}% of the file read by ${this.chunking.workers} tshark workers`,
      });
    };
    const timer = progress ? setInterval(report, 250) : undefined;
    const outputs: PassOutput[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let chunk = plan[next++]; chunk && !stopAll.signal.aborted; chunk = plan[next++]) {
        const fifo = fifos[chunk.index] ?? '';
        const feed = feedFifo(fifo, chunk.header, file, chunk.warmupStart, chunk.end);
        feeds.add(feed);
        try {
          const output = await runPass(this.group, tshark, fifo, {
            keylogFile: request.keylogFile,
            warmup: chunk.warmupPackets,
            timeoutMs: Math.max(1, deadline - performance.now()),
            signal: stopAll.signal,
          });
          // tshark names the FIFO in its messages; the reader knows the file.
          const stderr = output.result.stderr.split(fifo).join(request.file);
          outputs[chunk.index] = { ...output, result: { ...output.result, stderr } };
          if (output.result.timedOut || output.result.aborted) stopAll.abort();
        } finally {
          feed.stop();
          await feed.done;
          feeds.delete(feed);
          fed += feed.written();
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(this.chunking.workers, plan.length) }, worker));
    } finally {
      if (timer) clearInterval(timer);
      signal?.removeEventListener('abort', onAbort);
    }
    if (signal?.aborted) throw abortError();
    if (progress) report();
    // A range no worker reached was cut off by the time limit.
    return plan.map((c) => outputs[c.index] ?? UNREAD);
  }
}

const UNREAD: PassOutput = {
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
  return { ...bounds, chunkBytes: Math.ceil(size / (rounds * workers)) };
}

function assemble(
  request: SummaryRequest,
  facts: CaptureFacts,
  outputs: readonly PassOutput[],
): CaptureSummary {
  const warnings = new Set<string>();
  for (const o of outputs) {
    const read = readProblem(o.result.stderr, request.file, request.live === true);
    for (const w of read.warnings) warnings.add(w);
    if (read.other !== undefined) warnings.add(`tshark said: ${read.other}`);
  }
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
