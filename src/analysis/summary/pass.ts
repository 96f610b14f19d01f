// One tshark pass of a summary, over the whole file or over one range fed through a FIFO: the
// protocol hierarchy, endpoints, expert messages and conversations of the packets it reads. The
// summary counter inside tshark (native/summary-counter.c) counts them where it was built; otherwise
// tshark's `-z` statistics and a line of columns per packet (for exact conversations) do.
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Dissection } from '../../wireshark/dissection.js';
import { abortError } from '../../errors.js';
import { watchRead } from '../../util/progress.js';
import type { ProgressSink } from '../../util/progress.js';
import { LineSplitter } from '../../util/text.js';
import type { CaptureFacts, RangeFacts } from '../../wireshark/capinfos.js';
import type { WiresharkTools } from '../../wireshark/locate.js';
import type { ConversationCounter } from '../../wireshark/native.js';
import type { ProcessGroup, RunResult } from '../../wireshark/process.js';
import type { ConversationProcesses } from '../process-record.js';
import {
  columnArgs,
  filteredStatistic,
  luaScriptArgs,
  readArgs,
  statisticsArgs,
} from '../../wireshark/tshark-args.js';
import { LIMIT_COLUMNS, LIMIT_PREFERENCES, PacketLimitCounter } from '../capture-limits.js';
import type { PacketLimits } from '../capture-limits.js';
import { ConversationAggregator, PACKET_COLUMNS } from './conversations.js';
import type { ConversationPart, Instant } from './conversations.js';
import type { RangeStreams } from '../index/stream-assembly.js';
import { LineStreams, STREAM_COLUMNS } from './streams.js';
import { COUNTER_BEGIN, COUNTER_END, CounterReader } from './counter-reader.js';
import { parseStatistics, SUMMARY_STATISTICS } from './stats.js';
import type { Statistics, SummaryRequest } from './types.js';

const MAX_STATS_OUTPUT = 64 * 1024 * 1024;

export interface PassOutput {
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
  /** Snapshot-length cuts, time going backwards and duplicates among the packets it counted. */
  readonly limits: PacketLimits | undefined;
  /** Each frame's streams as this pass numbered them (warm-up included), when it read them all. */
  readonly streams?: RangeStreams | undefined;
  /** The decode-as hints' scan of the file's first packets, made by the counter where asked. */
  readonly hintScan?: readonly string[] | undefined;
}

/** What the passes of one summary share: the Summarizer makes one for each call. */
export interface SummaryCall {
  readonly group: ProcessGroup;
  /** The local processes of its conversations, where the capture has a process record. */
  readonly processes: ConversationProcesses | undefined;
  readonly tools: WiresharkTools;
  readonly tshark: string;
  readonly request: SummaryRequest;
  /** The summary counter, where it was built for this tshark and has not failed to load. */
  readonly counter: ConversationCounter | undefined;
  readonly signal: AbortSignal | undefined;
  readonly progress: ProgressSink | undefined;
  /** A private directory for the FIFOs. */
  readonly workDir: () => Promise<string>;
  /** capinfos's facts about a file (or a FIFO). */
  readonly readFacts: (file: string) => Promise<CaptureFacts>;
  /** Whether the passes record each frame's streams, for the stream index. */
  readonly streams: boolean;
  /** Packets of the file's start that the pass reading them scans for decode-as hints (0: none). */
  readonly hintScan: number;
  /** `read` with the counter, and again with per-packet lines where the counter fell short. */
  readonly counted: (
    read: (counter: ConversationCounter | undefined) => Promise<PassOutput>,
  ) => Promise<PassOutput>;
  /** Told of each pass's output as soon as it is read (each range's, or the whole file's). */
  readonly onRangeRead?: ((output: PassOutput, first: boolean) => void) | undefined;
}

export interface PassOptions {
  readonly keylogFile: string | undefined;
  /** The caller's decode-as rules and preferences (the summary's own preferences win). */
  readonly dissection?: Dissection | undefined;
  /** Packets read first for context only, not counted. */
  readonly warmup: number;
  readonly timeoutMs: number;
  readonly signal: AbortSignal | undefined;
  readonly onStart?: ((pid: number) => void) | undefined;
  /** Conversations from the counter inside tshark; per-packet lines without it. */
  readonly counter: ConversationCounter | undefined;
  /**
   * Where the counter writes the frames' streams, for the stream index (without the counter, they
   * come from the packets' lines); none: not recorded.
   */
  readonly streamsFile?: string | undefined;
  /** Packets of the file's start the counter scans for decode-as hints (0 or none: no scan). */
  readonly hintScan?: number | undefined;
}

/**
 * Work tshark does by default that no summary reads: TCP and UDP time stamps per packet (tshark
 * keeps them for every packet: 6% of a pass and 60 bytes a packet) and the address summaries of
 * the IP, TCP and UDP tree lines (formatted, then never printed). The statistics, expert messages
 * and the counter's tap data are the same without them, on every corpus capture.
 */
export const SUMMARY_PREFERENCES = [
  'tcp.calculate_timestamps:FALSE',
  'udp.calculate_timestamps:FALSE',
  'ip.summary_in_tree:FALSE',
  'ipv6.summary_in_tree:FALSE',
  'tcp.summary_in_tree:FALSE',
  'udp.summary_in_tree:FALSE',
];

/** One tshark pass over `input` (the file, or a FIFO that a range is fed into). */
export async function runPass(
  group: ProcessGroup,
  tshark: string,
  input: string,
  options: PassOptions,
): Promise<PassOutput> {
  const counter = options.counter;
  const args = readArgs({
    file: input,
    numeric: true,
    // Without the counter, each packet's line carries its MD5 to find duplicates.
    preferences: counter ? SUMMARY_PREFERENCES : [...SUMMARY_PREFERENCES, ...LIMIT_PREFERENCES],
    keylogFile: options.keylogFile,
    dissection: options.dissection,
  });
  // A worker's statistics leave out its warm-up packets: the counter skips them itself, tshark's
  // own statistics by a filter (which costs a sixth of the pass).
  if (counter) {
    args.push(
      ...statisticsArgs([]),
      ...luaScriptArgs(counter.script, [
        counter.library,
        String(options.warmup),
        options.streamsFile ?? '',
        String(options.hintScan ?? 0),
      ]),
    );
  } else {
    const pastWarmup = options.warmup > 0 ? `frame.number>${options.warmup}` : undefined;
    args.push(
      ...columnArgs([...PACKET_COLUMNS, ...LIMIT_COLUMNS, ...(options.streamsFile ? STREAM_COLUMNS : [])]),
      ...statisticsArgs(
        SUMMARY_STATISTICS.map((z) => filteredStatistic(z, pastWarmup)),
        'print',
      ),
    );
  }
  const lines = new LineSplitter(64 * 1024);
  const aggregator = new ConversationAggregator(options.warmup);
  const limits = new PacketLimitCounter();
  const lineStreams = counter || !options.streamsFile ? undefined : new LineStreams(options.warmup);
  let seen = 0;
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
      const f = line.split('\t');
      const at = PACKET_COLUMNS.length;
      limits.add(f[0] ?? '', f[1] ?? '', f[at] ?? '', f[at + 1] ?? '', seen++ >= options.warmup);
      lineStreams?.addColumns(f, at + LIMIT_COLUMNS.length);
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
  const whole = !result.timedOut && !result.aborted && !result.stoppedEarly;
  const streams = !whole
    ? undefined
    : reader
      ? options.streamsFile && reader.ended
        ? await reader.streams
            .read(options.streamsFile, options.warmup)
            .catch(() => undefined)
            .finally(() => rm(options.streamsFile ?? '', { force: true }))
        : undefined
      : lineStreams?.streamsRead();
  return {
    streams,
    hintScan: reader?.ended && options.hintScan ? reader.hintLines : undefined,
    parts: reader ? reader.result() : aggregator.result(),
    firstTime: reader ? reader.firstTime : aggregator.firstTime,
    counter: !reader ? 'unused' : !reader.ended ? 'absent' : reader.incomplete > 0 ? 'incomplete' : 'exact',
    facts: reader?.ended ? reader.facts() : undefined,
    limits: reader ? reader.limits : limits.result(),
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

/** One pass over the whole file; `factsRun` gives the packets in it, for progress. */
export async function readWhole(call: SummaryCall, factsRun: Promise<CaptureFacts>): Promise<PassOutput> {
  const { request, progress } = call;
  const deadline = performance.now() + request.timeoutMs;
  const dir = call.streams ? await mkdtemp(path.join(await call.workDir(), 'streams-')) : undefined;
  const output = await call
    .counted(async (c) => {
      let stopWatching: Promise<() => void> | undefined;
      const read = await runPass(call.group, call.tshark, request.file, {
        streamsFile: dir && path.join(dir, 'frames'),
        keylogFile: request.keylogFile,
        dissection: request.dissection,
        warmup: 0,
        hintScan: call.hintScan,
        timeoutMs: Math.max(1, deadline - performance.now()),
        signal: call.signal,
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
    })
    .finally(() => dir && rm(dir, { recursive: true, force: true }));
  if (output.result.aborted) throw abortError();
  if (!output.result.timedOut) call.onRangeRead?.(output, true);
  return output;
}
