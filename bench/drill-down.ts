// The drill-down table of `npm run bench` (issue 18's goals): calls an agent makes after a summary,
// made through the real server on one capture, each beside plain tshark doing the same job in the
// same run. What is called, and where, comes from the capture itself (one fields pass, kept beside
// the capture): pages at ~1%, 50% and 99% of the packets, the next page of a listing of DNS queries
// from the middle on, details of the first TCP frame at or after those points, and the streams of
// those frames (and an HTTP and a TLS stream with a frame past the middle, TLS with the keylog).
// Each call is made once on a fresh server (the first call builds the index), then 3 more rounds,
// all calls round by round; the table gives the first time and the median of the other 3.
import { readFile, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ProcessGroup } from '../src/wireshark/process.js';
import type { BenchCapture } from './captures.js';
import { CALL_TIMEOUT_MS, measuredCall, plainTshark, TreeMemory, withServer } from './measure.js';
import { median } from './rounds.js';

const LIMIT = 50;
/** The filtered listing: DNS queries, found in every copy the benchmark's capture is made of. */
const FILTER = 'dns.flags.response == 0';
const ROUNDS = 3;
const POINTS = [0.01, 0.5, 0.99] as const;
export const DRILL_GOAL = { callMs: 1000, indexRatio: 0.25, peakBytes: 1e9 };
/** Which streams a pick may take: any TCP stream, or one that carries HTTP, or TLS. */
type StreamKind = 'tcp' | 'http' | 'tls';
/** Streams followed: a TCP stream at each point, an HTTP and a TLS one at the middle. */
const FOLLOWED: readonly [StreamKind, number][] = [
  ...POINTS.map((p): [StreamKind, number] => ['tcp', p]),
  ['http', 0.5],
  ['tls', 0.5],
];
const FACTS_VERSION = 2;

/** A TCP stream as the fields pass saw it: [stream, first frame, last frame, frames, http, tls]. */
type StreamFacts = [number, number, number, number, boolean, boolean];

/** What the capture holds, as far as choosing calls goes: from one tshark fields pass. */
interface CaptureFacts {
  readonly version: number;
  readonly packets: number;
  /** Frames that match FILTER, in order. */
  readonly matches: number[];
  /** TCP streams, by number. */
  readonly streams: StreamFacts[];
  /**
   * For each kind and point ("tcp@0.5"), the first TCP frame at or after the point whose stream is
   * of that kind, and its stream. (In the benchmark's capture every stream starts in its first
   * copy: the later copies repeat the same connections, which tshark takes for retransmissions.)
   */
  readonly at: Record<string, { frame: number; stream: number }>;
}

const pointKey = (kind: StreamKind, p: number): string => `${kind}@${p}`;

/**
 * The capture's facts, from a cache file beside it when that is newer than the capture, else from
 * a tshark fields pass read line by line (2,000,000 packets take about a minute).
 */
async function captureFacts(
  group: ProcessGroup,
  tshark: string,
  capture: BenchCapture,
): Promise<CaptureFacts> {
  const cache = `${capture.file}.drill-facts.json`;
  const made = await stat(cache).catch(() => undefined);
  if (made && made.mtimeMs > (await stat(capture.file)).mtimeMs) {
    const cached = JSON.parse(await readFile(cache, 'utf8')) as CaptureFacts;
    if (cached.version === FACTS_VERSION) return cached;
  }
  process.stderr.write(`  a fields pass over ${capture.file} to choose frames and streams...\n`);
  const fields = ['frame.number', 'tcp.stream', 'frame.protocols', 'dns.flags.response'];
  const args = [
    '-r',
    capture.file,
    '-T',
    'fields',
    '-E',
    'separator=/t',
    ...fields.flatMap((f) => ['-e', f]),
  ];
  let packets = 0;
  const matches: number[] = [];
  const streams = new Map<number, StreamFacts>();
  const at: Record<string, { frame: number; stream: number }> = {};
  const targets = FOLLOWED.map(([kind, p]) => ({ kind, key: pointKey(kind, p), from: p * capture.packets }));
  let rest = '';
  const onLine = (line: string): void => {
    const [frameText, streamText = '', protocols = '', response = ''] = line.split('\t');
    const frame = Number(frameText);
    if (!Number.isInteger(frame) || frame <= 0) return;
    packets = frame;
    if (response === '0' || response === 'False') matches.push(frame);
    if (streamText === '') return;
    const stream = Number(streamText);
    const layers = protocols.split(':');
    const [, first, , count, http, tls] = streams.get(stream) ?? [stream, frame, frame, 0, false, false];
    const facts: StreamFacts = [
      stream,
      first,
      frame,
      count + 1,
      http || layers.includes('http'),
      tls || layers.includes('tls'),
    ];
    streams.set(stream, facts);
    for (const t of targets) {
      if (at[t.key] !== undefined || frame < t.from) continue;
      if (t.kind === 'tcp' || (t.kind === 'http' && facts[4]) || (t.kind === 'tls' && facts[5]))
        at[t.key] = { frame, stream };
    }
  };
  const result = await group.run({
    command: tshark,
    args,
    timeoutMs: CALL_TIMEOUT_MS,
    onStdout: (chunk) => {
      const lines = (rest + chunk.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) onLine(line);
      return 'continue';
    },
  });
  onLine(rest);
  if (result.exitCode !== 0) throw new Error(`tshark ${args.join(' ')} failed: ${result.stderr}`);
  const out: CaptureFacts = {
    version: FACTS_VERSION,
    packets,
    matches,
    streams: [...streams.values()].sort((x, y) => x[0] - y[0]),
    at,
  };
  await writeFile(cache, JSON.stringify(out));
  return out;
}

/** One row of the table: the server's call and plain tshark's run that does the same job. */
interface Job {
  readonly call: string;
  readonly where: string;
  readonly tool: string;
  /** The call's arguments; for a next page, found from the previous page's answer. */
  args: Record<string, unknown>;
  /** Where a next page's arguments came from. */
  argsFrom?: string;
  readonly tshark: string[];
  /** Before the first round: a call whose answer gives this job's arguments (a previous page). */
  readonly before?: { tool: string; args: Record<string, unknown> };
}

const pct = (p: number): string => `${Math.round(p * 100)}%`;
const int = (n: number): string => n.toLocaleString('en-US');

/** The calls of the table, chosen from the capture's facts. */
function jobs(capture: BenchCapture, facts: CaptureFacts): Job[] {
  const file = capture.file;
  const r = ['-r', file];
  const out: Job[] = [];
  for (const p of POINTS) {
    const offset = Math.min(Math.floor(p * facts.packets), facts.packets - LIMIT);
    out.push({
      call: 'analyze_pcap_file page',
      where: `offset ${int(offset)} (${pct(p)})`,
      tool: 'analyze_pcap_file',
      args: { filePath: file, offset, limit: LIMIT },
      // The page is frames offset+1..offset+LIMIT; -c stops tshark there, as the server's reader
      // stops once the page is full.
      tshark: [...r, '-c', String(offset + LIMIT), '-Y', `frame.number>${offset}`],
    });
  }
  // The filtered listing: the page of FILTER's matches that holds the first match past the middle
  // is the previous page; the next one is asked for as that answer says.
  const middle = facts.matches.findIndex((f) => f >= facts.packets / 2);
  if (middle >= 0) {
    const previous = Math.floor(middle / LIMIT) * LIMIT;
    const next = facts.matches.slice(previous + LIMIT, previous + 2 * LIMIT);
    const [first, last] = [next[0], next[next.length - 1]];
    if (first !== undefined && last !== undefined) {
      const base = { filePath: file, displayFilter: FILTER, limit: LIMIT };
      out.push({
        call: 'analyze_pcap_file next page, filtered',
        where: `match ${int(previous + LIMIT)} = frame ${int(first)}`,
        tool: 'analyze_pcap_file',
        args: { ...base, offset: previous + LIMIT },
        before: { tool: 'analyze_pcap_file', args: { ...base, offset: previous } },
        // The page's matches are frames first..last: tshark reads to the last and prints from the first.
        tshark: [...r, '-c', String(last), '-Y', `(${FILTER}) && frame.number>=${first}`],
      });
    }
  }
  for (const p of POINTS) {
    const frame = facts.at[pointKey('tcp', p)]?.frame ?? Math.max(1, Math.floor(p * facts.packets));
    out.push({
      call: 'get_packet_details',
      where: `frame ${int(frame)} (${pct(p)})`,
      tool: 'get_packet_details',
      args: { source: file, frames: String(frame) },
      tshark: [...r, '-Y', `frame.number==${frame}`, '-V'],
    });
  }
  for (const [protocol, p] of FOLLOWED) {
    const chosen = facts.at[pointKey(protocol, p)];
    const stream = chosen && facts.streams[chosen.stream];
    if (!chosen || !stream) continue;
    const keylog = protocol === 'tls' ? { sslKeylogFile: capture.keylog } : {};
    out.push({
      call: `follow_stream ${protocol}`,
      where: `stream ${chosen.stream} (${int(stream[3])} frames ${int(stream[1])}-${int(stream[2])}; ${int(chosen.frame)}, ${pct(p)})`,
      tool: 'follow_stream',
      args: { source: file, protocol, stream: chosen.stream, ...keylog },
      tshark: [
        ...r,
        ...(protocol === 'tls' ? ['-o', `tls.keylog_file:${capture.keylog}`] : []),
        '-q',
        '-z',
        `follow,${protocol},raw,${chosen.stream}`,
      ],
    });
  }
  return out;
}

/**
 * The args of the next page as the answer gives them: the call it prints, else its nextOffset;
 * with which of them it was (or that neither was there, and `fallback` is used).
 */
function nextCallArgs(
  tool: string,
  answer: { text: string; structuredContent: unknown },
  fallback: Record<string, unknown>,
): { args: Record<string, unknown>; from: string } {
  for (const line of answer.text.split('\n')) {
    const at = line.indexOf(`${tool} {`);
    if (at < 0) continue;
    try {
      const json = line.slice(at + tool.length + 1, line.lastIndexOf('}') + 1);
      return { args: JSON.parse(json) as Record<string, unknown>, from: "the previous answer's call" };
    } catch {
      // not the call itself (a sentence that names the tool): look further
    }
  }
  const next = (answer.structuredContent as { nextOffset?: number | null } | undefined)?.nextOffset;
  return typeof next === 'number'
    ? { args: { ...fallback, offset: next }, from: "the previous answer's nextOffset" }
    : { args: fallback, from: 'the facts pass (the previous answer named no next page)' };
}

/** What the server logged about the indexes it built: "<kind> index of FILE: ... N bytes held ... in M ms". */
function indexLog(stderr: string, file: string): { kind: string; bytes: number; ms: number | null }[] {
  const found = [];
  for (const line of stderr.split('\n')) {
    const m = /(\w+) index of (.+?): .*?(\d+) bytes held/.exec(line);
    // The server names the file as it resolved it (a real path): the name is enough here.
    if (!m || path.basename(m[2] ?? '') !== path.basename(file)) continue;
    const ms = /built in (\d+) ms/.exec(line)?.[1];
    found.push({ kind: m[1] ?? '', bytes: Number(m[3]), ms: ms === undefined ? null : Number(ms) });
  }
  return found;
}

export interface DrillRow {
  readonly call: string;
  readonly where: string;
  readonly args: Record<string, unknown>;
  readonly argsFrom: string | null;
  readonly tshark: string;
  readonly firstMs: number;
  readonly serverMs: number[];
  readonly medianMs: number;
  readonly tsharkMs: number[];
  readonly tsharkMedianMs: number;
  readonly error: string | null;
}

export interface DrillDown {
  readonly file: string;
  readonly packets: number;
  readonly loadBefore: number[];
  readonly loadAfter: number[];
  readonly plainPhsMs: number;
  readonly firstCall: { call: string; where: string; wallMs: number; error: string | null };
  readonly indexes: { kind: string; bytes: number; ms: number | null }[];
  readonly peakBytes: number;
  readonly plainPeakBytes: number;
  readonly rows: DrillRow[];
}

/**
 * Runs the table on `capture`: the facts pass (or its cache), one plain `-z io,phs` pass, the
 * server's calls (a first round then ROUNDS more) and plain tshark's (`plainRounds` each).
 */
export async function drillDown(
  group: ProcessGroup,
  tshark: string,
  capture: BenchCapture,
  dir: string,
  plainRounds: number,
): Promise<DrillDown> {
  const facts = await captureFacts(group, tshark, capture);
  const todo = jobs(capture, facts);
  const loadBefore = os.loadavg();
  const phs = await plainTshark(group, tshark, ['-r', capture.file, '-q', '-z', 'io,phs']);
  let plainPeakBytes = phs.peakBytes;
  const timings = todo.map(() => ({ server: [] as number[], error: null as string | null }));
  let peakBytes = 0;
  const served = await withServer(dir, {}, async (server) => {
    const memory = new TreeMemory(server.pid);
    let first;
    try {
      for (let round = 0; round <= ROUNDS; round++) {
        process.stderr.write(`  round ${round + 1} of ${ROUNDS + 1}: ${todo.length} calls\n`);
        for (const [i, job] of todo.entries()) {
          if (round === 0 && job.before) {
            let text = '';
            const before = await measuredCall(server, job.before.tool, job.before.args, (t) => (text = t));
            const next = nextCallArgs(
              job.tool,
              { text, structuredContent: before.structuredContent },
              job.args,
            );
            job.args = next.args;
            job.argsFrom = next.from;
            first ??= { call: `${job.before.tool} (previous page)`, where: job.where, ...before };
          }
          const call = await measuredCall(server, job.tool, job.args);
          first ??= { call: job.call, where: job.where, ...call };
          timings[i]?.server.push(call.wallMs);
          if (timings[i] && call.error) timings[i].error ??= call.error;
        }
      }
    } finally {
      peakBytes = memory.stop().peakBytes;
    }
    return { first, stderr: server.stderr() };
  });
  const rows: DrillRow[] = [];
  process.stderr.write(`  plain tshark: ${todo.length} jobs, ${plainRounds} round(s) each\n`);
  for (const [i, job] of todo.entries()) {
    const tsharkMs: number[] = [];
    for (let round = 0; round < plainRounds; round++) {
      const plain = await plainTshark(group, tshark, job.tshark);
      tsharkMs.push(plain.wallMs);
      plainPeakBytes = Math.max(plainPeakBytes, plain.peakBytes);
    }
    const [firstMs = NaN, ...rest] = timings[i]?.server ?? [];
    rows.push({
      call: job.call,
      where: job.where,
      args: job.args,
      argsFrom: job.argsFrom ?? null,
      tshark: `tshark ${job.tshark.join(' ')}`,
      firstMs,
      serverMs: rest,
      medianMs: median(rest),
      tsharkMs,
      tsharkMedianMs: median(tsharkMs),
      error: timings[i]?.error ?? null,
    });
  }
  return {
    file: capture.file,
    packets: facts.packets,
    loadBefore,
    loadAfter: os.loadavg(),
    plainPhsMs: phs.wallMs,
    firstCall: {
      call: served.first?.call ?? '-',
      where: served.first?.where ?? '-',
      wallMs: served.first?.wallMs ?? NaN,
      error: served.first?.error ?? null,
    },
    indexes: indexLog(served.stderr, capture.file),
    peakBytes,
    plainPeakBytes,
    rows,
  };
}

const sec = (ms: number): string => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : '-');
const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0)} MB`;
const verdict = (pass: boolean, error: string | null = null): string =>
  error ? 'ERROR' : pass ? 'PASS' : 'FAIL';

/** The table as lines of text, with the plain tshark commands and the errors below it. */
export function drillDownReport(d: DrillDown): string[] {
  const head = [
    'call',
    'where',
    'first',
    `server (median of ${ROUNDS})`,
    'plain tshark',
    'ratio',
    'goal',
    'result',
  ];
  const table: string[][] = [head];
  const notes: string[] = [];
  for (const [i, r] of d.rows.entries()) {
    const ratio = r.medianMs / r.tsharkMedianMs;
    table.push([
      `${i + 1}. ${r.call}`,
      r.where,
      sec(r.firstMs),
      sec(r.medianMs),
      sec(r.tsharkMedianMs),
      `${ratio.toFixed(2)}x`,
      '< 1 s',
      verdict(r.medianMs < DRILL_GOAL.callMs, r.error),
    ]);
    notes.push(`  ${i + 1}. ${r.tshark}`);
    if (r.argsFrom) notes.push(`     (the server's call: ${JSON.stringify(r.args)}, from ${r.argsFrom})`);
    if (r.error) notes.push(`     ERROR from the server: ${r.error.replace(/\s+/g, ' ').slice(0, 300)}`);
  }
  const phs = `io,phs ${sec(d.plainPhsMs)}`;
  const indexRow = (call: string, where: string, ms: number, error: string | null = null): string[] => [
    call,
    where,
    sec(ms),
    '-',
    phs,
    `${(ms / d.plainPhsMs).toFixed(2)}x`,
    `<= ${DRILL_GOAL.indexRatio}x`,
    verdict(ms <= DRILL_GOAL.indexRatio * d.plainPhsMs, error),
  ];
  table.push(
    indexRow(
      'index build: first call, fresh server',
      d.firstCall.call,
      d.firstCall.wallMs,
      d.firstCall.error,
    ),
  );
  for (const index of d.indexes)
    if (index.ms !== null)
      table.push(
        index.kind === 'frame'
          ? indexRow(`index build: ${index.kind} index (server log)`, '-', index.ms)
          : // The stream index comes from a summary's pass where one ran; here, a pass of its own.
            [
              `index build: ${index.kind} index (server log)`,
              '-',
              sec(index.ms),
              '-',
              phs,
              `${(index.ms / d.plainPhsMs).toFixed(2)}x`,
              '-',
              'info',
            ],
      );
  if (d.indexes.length === 0)
    table.push(['index build (server log)', 'no index logged', '-', '-', phs, '-', '-', '-']);
  for (const index of d.indexes)
    table.push([
      `index in memory: ${index.kind} index`,
      'server log',
      '-',
      mb(index.bytes),
      '-',
      '-',
      '-',
      '',
    ]);
  table.push([
    'peak memory, server + children',
    'all calls above',
    '-',
    mb(d.peakBytes),
    `${mb(d.plainPeakBytes)} (largest)`,
    `${(d.peakBytes / d.plainPeakBytes).toFixed(2)}x`,
    '< 1 GB',
    verdict(d.peakBytes < DRILL_GOAL.peakBytes),
  ]);
  const widths = head.map((_, col) => Math.max(...table.map((row) => row[col]?.length ?? 0)));
  const load = (l: number[]): string => l.map((x) => x.toFixed(2)).join(' ');
  return [
    '',
    `Drill-down on ${d.packets.toLocaleString('en-US')} packets (${d.file}), through the server vs plain tshark in the same run.`,
    `  load average (1 5 15 min) on ${os.availableParallelism()} cores: ${load(d.loadBefore)} before, ${load(d.loadAfter)} after`,
    `  first = the call's first round (the very first call of the fresh server builds the index); server = median of the next ${ROUNDS}`,
    ...table.map(
      (row) =>
        '  ' +
        row
          .map((cell, col) => (col < 2 ? cell.padEnd(widths[col] ?? 0) : cell.padStart(widths[col] ?? 0)))
          .join('  '),
    ),
    "  plain tshark, for the rows above (pages stop with -c where the page ends, as the server's reader stops once the page is full):",
    ...notes,
    `  index build vs: tshark -r ${d.file} -q -z io,phs`,
  ];
}
