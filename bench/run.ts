// Benchmark (not a test): summarize_capture against plain tshark on the same capture, at several
// sizes, through a real MCP client and the built server. For each size, with the file read once
// beforehand so that both sides find it in the page cache:
//   plain      `tshark -r FILE -q -z io,phs`: wall time and peak memory.
//   summarize  summarize_capture {source: FILE} on a fresh server, called 1 s after it started (once
//              its start-up is done): wall time of the call, peak memory of the server and all its
//              children during the call, the server's RSS before the call, and the answer's size
//              (text content, and JSON of structuredContent).
//   1-pass     the same call on a server started with SHARKMCP_SUMMARY_WORKERS=1 (the single-pass
//              path), its time and peak, and whether both structuredContents are deep-equal.
//              Skip with --no-compare: on 2M packets it takes ~20 s and a few GB.
// Then, on the largest file only, the time to the first page of analyze_pcap_file (50 packets,
// text) on a fresh server, called twice (the first pays any cache warm-up), a few drill-down calls
// (a page in the middle, packet details early and in the middle, a TCP stream), and the goals.
// Peak memory is the largest sum of VmRSS over a process and all its descendants, sampled from
// /proc every 15 ms, the descendants found anew every 60 ms (Linux only; pages shared between
// processes count once per process).
// Then the same three on captures of other shapes (bench/shapes.ts: tiny packets, many distinct
// flows, one large flow, UDP-heavy), about 1,000,000 packets each (100,000 with --quick), each
// judged against the same goals.
// A table goes to stderr; the raw figures (ms, bytes) as JSON to stdout and to --out.
//   npm run bench [-- --sizes 10000,200000,2000000] [--dir DIR] [--out FILE] [--no-compare]
//                 [--shapes tiny,flows,large,udp|none] [--quick]
// The captures are built once into DIR (default $SHARKMCP_BENCH_DIR or /var/tmp/sharkmcp-bench).
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { execFile } from 'node:child_process';
import { mkdir, open, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual, parseArgs, promisify } from 'node:util';
import { ALL_TOOL_NAMES, locateWiresharkTools } from '../src/wireshark/locate.js';
import { ProcessGroup } from '../src/wireshark/process.js';
import { benchCaptures } from './captures.js';
import { SHAPES, shapeCaptures } from './shapes.js';
import type { Shape } from './shapes.js';
import { cpuSeconds, peakResidentBytes, processTree, procStat, residentBytes } from './proc.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli.js');
const SAMPLE_MS = 15;
const TREE_EVERY = 4;
const SETTLE_MS = 1000;
const CALL_TIMEOUT_MS = 30 * 60_000;
const FIRST_PAGE = { outputFormat: 'text', limit: 50 };
const GOAL = { timeRatio: 0.6, peakBytes: 1e9, firstPageMs: 1000 };
/** Drill-down calls timed on the largest file: [what, tool, arguments]. */
const DRILL_DOWN = (file: string, middle: number): [string, string, Record<string, unknown>][] => [
  [`page at offset ${middle}`, 'analyze_pcap_file', { filePath: file, limit: 50, offset: middle }],
  ['details of frame 100', 'get_packet_details', { source: file, frames: '100' }],
  [`details of frame ${middle}`, 'get_packet_details', { source: file, frames: String(middle) }],
  ['follow TCP stream 5', 'follow_stream', { source: file, protocol: 'tcp', stream: 5 }],
];

// ---- Memory of a process tree, from /proc (proc.ts).

/** Every process measured so far, with its start time: all of them must be gone once their run ends. */
const seen = new Map<number, string>();

/** Kills what was measured and is still running (say a tshark orphaned by a server that died). */
function reapLeftovers(): void {
  for (const [pid, started] of seen) {
    const stat = procStat(pid);
    if (stat !== undefined && stat.state !== 'Z' && stat.started === started) {
      process.stderr.write(`warning: killing process ${pid}, left behind by the benchmark's run\n`);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // it ended meanwhile
      }
    }
    seen.delete(pid);
  }
}

interface Peak {
  /** Largest sum of VmRSS over the tree, in bytes. */
  readonly peakBytes: number;
  /** VmHWM of the root process at the last sample that could read it. */
  readonly rootHwmBytes: number | null;
  readonly samples: number;
}

/**
 * Samples the memory of `root` and its descendants until stop(): their resident bytes every
 * SAMPLE_MS, and who they are every TREE_EVERY samples (a new worker is small in its first
 * milliseconds). The sampler costs the benchmark's process about 2% of a core; the summary uses
 * both cores, plain tshark one, so a costlier sampler would slow only the summary.
 */
class TreeMemory {
  private peakBytes = 0;
  private rootHwmBytes: number | null = null;
  private samples = 0;
  private tree = new Map<number, string>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly root: number) {
    this.sample();
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
  }

  private sample(fresh = this.samples % TREE_EVERY === 0): void {
    if (fresh) {
      this.tree = processTree(this.root);
      for (const [pid, started] of this.tree) seen.set(pid, started);
      this.rootHwmBytes = peakResidentBytes(this.root) ?? this.rootHwmBytes;
    }
    let total = 0;
    for (const pid of this.tree.keys()) total += residentBytes(pid) ?? 0;
    if (total === 0) return;
    this.samples++;
    this.peakBytes = Math.max(this.peakBytes, total);
  }

  stop(): Peak {
    clearInterval(this.timer);
    this.sample(true);
    return { peakBytes: this.peakBytes, rootHwmBytes: this.rootHwmBytes, samples: this.samples };
  }
}

// ---- The two sides.

/** Reads the file once, 1 MiB at a time, so that neither side pays for a cold page cache. */
async function warmPageCache(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(1024 * 1024);
    while ((await handle.read(buffer, 0, buffer.length, null)).bytesRead > 0);
  } finally {
    await handle.close();
  }
}

async function plainTshark(group: ProcessGroup, tshark: string, file: string) {
  // The only child this process waits for meanwhile is tshark: its CPU is that of reaped children.
  const cpuBefore = cpuSeconds(process.pid)?.children ?? 0;
  const t0 = performance.now();
  const running = group.start({
    command: tshark,
    args: ['-r', file, '-q', '-z', 'io,phs'],
    timeoutMs: CALL_TIMEOUT_MS,
  });
  const memory = running.pid === undefined ? undefined : new TreeMemory(running.pid);
  let peak: Peak | undefined;
  try {
    const result = await running.result;
    if (result.exitCode !== 0) throw new Error(`tshark exited with ${result.exitCode}: ${result.stderr}`);
  } finally {
    peak = memory?.stop();
  }
  return {
    wallMs: performance.now() - t0,
    cpuSeconds: (cpuSeconds(process.pid)?.children ?? 0) - cpuBefore,
    ...(peak ?? { peakBytes: 0, rootHwmBytes: null, samples: 0 }),
  };
}

interface Server {
  readonly client: Client;
  readonly pid: number;
  /** The end of what the server wrote to stderr, to say why a call failed. */
  stderrTail(): string;
}

/**
 * Runs `f` with a client connected to a freshly spawned server that may read `dir`, and ends the
 * server (and any child of it still running) whatever happens.
 */
async function withServer<T>(
  dir: string,
  extraEnv: Record<string, string>,
  f: (server: Server) => Promise<T>,
): Promise<T> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && k !== 'SHARKMCP_SUMMARY_WORKERS') env[k] = v;
  }
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI],
    env: { ...env, SHARKMCP_ALLOWED_DIRS: dir, ...extraEnv },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-2000);
  });
  const client = new Client({ name: 'bench', version: '1' });
  try {
    await client.connect(transport);
    if (transport.pid === null) throw new Error('The server has no pid.');
    // The server locates Wireshark's tools in the background as it starts (tshark --version takes
    // 0.2 s); what is measured is the call, as an agent makes it some time after start-up.
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    return await f({ client, pid: transport.pid, stderrTail: () => stderr.trim() });
  } finally {
    if (transport.pid !== null)
      for (const [pid, started] of processTree(transport.pid)) seen.set(pid, started);
    await client.close();
    await transport.close();
    reapLeftovers();
  }
}

/**
 * One tool call: its wall time, the server tree's peak memory during it, and the answer. A failed
 * call (an error answer, or no answer at all) has `error` set.
 */
async function measuredCall(server: Server, name: string, args: Record<string, unknown>) {
  const rssBeforeBytes = residentBytes(server.pid) ?? 0;
  // The server's own CPU and its ended children's (every tshark it ran for the call has ended).
  const cpu = (): number => {
    const c = cpuSeconds(server.pid);
    return c === undefined ? 0 : c.own + c.children;
  };
  const cpuBefore = cpu();
  const memory = new TreeMemory(server.pid);
  const t0 = performance.now();
  let peak: Peak | undefined;
  let result: Awaited<ReturnType<Client['callTool']>> | undefined;
  let failure: string | undefined;
  try {
    result = await server.client.callTool({ name, arguments: args }, { timeout: CALL_TIMEOUT_MS });
  } catch (err) {
    failure = `${String(err)}; the server's stderr ends with: ${server.stderrTail() || '(nothing)'}`;
  } finally {
    peak = memory.stop();
  }
  const wallMs = performance.now() - t0;
  const cpuSpent = cpu() - cpuBefore;
  const text = (result?.content ?? []).flatMap((c) => (c.type === 'text' ? [c.text] : [])).join('');
  return {
    wallMs,
    cpuSeconds: cpuSpent,
    peakBytes: peak.peakBytes,
    samples: peak.samples,
    serverRssBeforeBytes: rssBeforeBytes,
    textBytes: Buffer.byteLength(text),
    structuredBytes: Buffer.byteLength(JSON.stringify(result?.structuredContent ?? null)),
    error: failure ?? (result?.isError === true ? text.slice(0, 500) : null),
    structuredContent: result?.structuredContent,
  };
}

/**
 * A summary without its checksum figures: the single pass checks checksums alongside, a summary in
 * ranges says it did not (a second pass would cost as much as the summary), as the tests compare.
 */
function beyondChecksums(structured: unknown): unknown {
  if (typeof structured !== 'object' || structured === null) return structured;
  const { limits, ...rest } = structured as { limits?: Record<string, unknown> };
  if (limits === undefined) return rest;
  const others = { ...limits };
  for (const key of ['line', 'badChecksums', 'checksumsNotChecked']) delete others[key];
  return { ...rest, limits: others };
}

/**
 * One capture's row: plain tshark, then summarize_capture on a fresh server, then (with compare)
 * the same on a single-pass server, and whether both answers are deep-equal.
 */
async function measure(capture: { file: string; packets: number }) {
  const tshark = tools.require('tshark');
  process.stderr.write(
    `${capture.packets} packets: plain tshark, summarize${compare ? ', 1-pass' : ''}...\n`,
  );
  process.stderr.write(
    `  load average before: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
  );
  await warmPageCache(capture.file);
  const loadBefore = os.loadavg()[0] ?? 0;
  const plain = await plainTshark(group, tshark, capture.file);
  const args = { source: capture.file };
  const { structuredContent, ...summarize } = await withServer(dir, {}, (server) =>
    measuredCall(server, 'summarize_capture', args),
  );
  let singlePass;
  if (compare) {
    const { structuredContent: other, ...figures } = await withServer(
      dir,
      { SHARKMCP_SUMMARY_WORKERS: '1' },
      (server) => measuredCall(server, 'summarize_capture', args),
    );
    singlePass = {
      ...figures,
      equal: isDeepStrictEqual(beyondChecksums(structuredContent), beyondChecksums(other)),
    };
  }
  return { loadBefore, plain, summarize, singlePass: singlePass ?? null };
}

// ---- The run.

const { values: opts } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,200000,2000000' },
    dir: { type: 'string', default: process.env['SHARKMCP_BENCH_DIR'] ?? '/var/tmp/sharkmcp-bench' },
    out: { type: 'string', default: 'bench/results/summary-latest.json' },
    'no-compare': { type: 'boolean', default: false },
    shapes: { type: 'string', default: SHAPES.join(',') },
    quick: { type: 'boolean', default: false },
  },
});
const sizes = opts.sizes.split(',').map((s) => Number(s.trim()));
if (sizes.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error(`Bad --sizes: ${opts.sizes}`);
const dir = path.resolve(opts.dir);
const compare = !opts['no-compare'];
const shapes = opts.shapes === 'none' ? [] : opts.shapes.split(',').map((s) => s.trim());
const isShape = (s: string): s is Shape => (SHAPES as readonly string[]).includes(s);
if (!shapes.every(isShape))
  throw new Error(`Bad --shapes: ${opts.shapes} (any of ${SHAPES.join(',')}, or none)`);

const group = new ProcessGroup();
const rows = [];
let firstPage;
let drillDown: { what: string; wallMs: number; error: string | null }[] | undefined;
let tsharkVersion;
const tools = await locateWiresharkTools(group, process.env, undefined, ALL_TOOL_NAMES);
try {
  const tshark = tools.require('tshark');
  const { stdout } = await promisify(execFile)(tshark, ['-v']);
  tsharkVersion = stdout.split('\n')[0] ?? '';
  const captures = await benchCaptures(group, tools, dir, sizes);
  for (const [i, capture] of captures.entries())
    rows.push({ shape: 'web', requestedPackets: sizes[i], ...capture, ...(await measure(capture)) });
  const shaped = await shapeCaptures(group, tools, dir, shapes, opts.quick ? 100_000 : 1_000_000);
  for (const capture of shaped)
    rows.push({ requestedPackets: null, keylog: null, ...capture, ...(await measure(capture)) });
  const largest = captures.reduce((a, b) => (b.packets > a.packets ? b : a));
  process.stderr.write(`${largest.packets} packets: first page of analyze_pcap_file...\n`);
  firstPage = await withServer(dir, {}, async (server) => {
    const calls = [];
    for (let i = 0; i < 2; i++) {
      const { structuredContent, ...call } = await measuredCall(server, 'analyze_pcap_file', {
        filePath: largest.file,
        ...FIRST_PAGE,
      });
      const shown = (structuredContent as { packetsShown?: number } | undefined)?.packetsShown ?? null;
      calls.push({ ...call, packetsShown: shown });
    }
    return { file: largest.file, packets: largest.packets, args: FIRST_PAGE, calls };
  });
  // Drill-down on the largest file: what one call costs when nothing is kept between calls.
  process.stderr.write(`${largest.packets} packets: drill-down calls...\n`);
  const middle = Math.floor(largest.packets / 2);
  drillDown = await withServer(dir, {}, async (server) => {
    const calls = [];
    for (const [what, name, args] of DRILL_DOWN(largest.file, middle)) {
      const call = await measuredCall(server, name, args);
      calls.push({
        what,
        tool: name,
        args,
        wallMs: call.wallMs,
        textBytes: call.textBytes,
        error: call.error,
      });
    }
    return calls;
  });
} finally {
  await group.close();
  reapLeftovers();
}

// ---- The report.

// The goals are judged on the largest file, whatever the order of --sizes.
const last = rows.filter((r) => r.shape === 'web').sort((a, b) => b.packets - a.packets)[0];
const firstPageMs = Math.max(...firstPage.calls.map((c) => c.wallMs));
const goals = last && [
  {
    goal: `summarize time <= ${GOAL.timeRatio} x plain tshark`,
    value: last.summarize.wallMs / last.plain.wallMs,
    pass: !last.summarize.error && last.summarize.wallMs <= GOAL.timeRatio * last.plain.wallMs,
  },
  {
    goal: 'server + children peak <= 1 GB (1e9 bytes)',
    value: last.summarize.peakBytes,
    pass: !last.summarize.error && last.summarize.peakBytes <= GOAL.peakBytes,
  },
  {
    goal: 'first page < 1 s (slower of 2 calls)',
    value: firstPageMs,
    pass: firstPage.calls.every((c) => !c.error) && firstPageMs < GOAL.firstPageMs,
  },
];

const sec = (ms: number): string => (ms / 1000).toFixed(2);
const mb = (bytes: number): string => (bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0);
const int = (n: number): string => n.toLocaleString('en-US');
const table = [
  [
    'shape',
    'packets',
    'load',
    'file MB',
    'tshark s',
    'tshark MB',
    'summ. s',
    'summ. MB',
    'x tshark',
    'CPU s',
    'x CPU',
    'text B',
    'json B',
  ].concat(compare ? ['1-pass s', '1-pass MB', 'equal'] : []),
  ...rows.map((r) =>
    [
      r.shape,
      int(r.packets),
      r.loadBefore.toFixed(1),
      mb(r.bytes),
      sec(r.plain.wallMs),
      mb(r.plain.peakBytes),
      sec(r.summarize.wallMs),
      mb(r.summarize.peakBytes),
      (r.summarize.wallMs / r.plain.wallMs).toFixed(2),
      `${r.summarize.cpuSeconds.toFixed(1)}/${r.plain.cpuSeconds.toFixed(1)}`,
      (r.summarize.cpuSeconds / r.plain.cpuSeconds).toFixed(2),
      int(r.summarize.textBytes),
      int(r.summarize.structuredBytes),
    ].concat(
      r.singlePass
        ? [sec(r.singlePass.wallMs), mb(r.singlePass.peakBytes), r.singlePass.equal ? 'yes' : 'NO']
        : [],
    ),
  ),
];
const widths = table[0]?.map((_, col) => Math.max(...table.map((row) => row[col]?.length ?? 0))) ?? [];
const lines = [
  '',
  'summarize_capture vs plain tshark -q -z io,phs (MB = 1e6 bytes; peak = most VmRSS of the process tree;',
  'load = 1-minute load average before the row; shape web = the mixed web traffic, others: bench/shapes.ts;',
  'CPU s = CPU seconds of the summary (server and its tshark workers) / of plain tshark: on 2 idle cores',
  'the summary takes about half its CPU in wall time, so x CPU <= 1.2 is what 0.6x needs when the machine is busy)',
  ...table.map((row) => '  ' + row.map((cell, col) => cell.padStart(widths[col] ?? 0)).join('  ')),
];
for (const r of rows) {
  for (const [what, call] of [
    ['summarize', r.summarize],
    ['1-pass', r.singlePass],
  ] as const) {
    if (call?.error) lines.push(`  ERROR ${what} on ${int(r.packets)} packets: ${call.error}`);
  }
}
lines.push(
  '',
  `analyze_pcap_file first page (50 packets, text) on ${int(firstPage.packets)} packets: ` +
    firstPage.calls.map((c) => `${sec(c.wallMs)} s`).join(', then ') +
    ` (packets shown: ${firstPage.calls.map((c) => c.packetsShown).join(', ')})`,
);
for (const c of firstPage.calls) if (c.error) lines.push(`  ERROR analyze_pcap_file: ${c.error}`);
lines.push('', `Drill-down on ${int(firstPage.packets)} packets, one call each:`);
for (const c of drillDown)
  lines.push(`  ${c.what.padEnd(28)} ${sec(c.wallMs)} s${c.error ? `  ERROR ${c.error}` : ''}`);
if (last && goals) {
  const [ratio, peak, page] = goals.map((g) => `${g.pass ? 'PASS' : 'FAIL'}  ${g.goal}`);
  lines.push(
    '',
    `Goals on the largest file (${int(last.packets)} packets):`,
    `  ${ratio}: ${sec(last.summarize.wallMs)} s vs ${sec(last.plain.wallMs)} s, ${goals[0]?.value.toFixed(2)}x`,
    `  ${peak}: ${mb(last.summarize.peakBytes)} MB`,
    `  ${page}: ${sec(firstPageMs)} s`,
    '',
  );
}
const shapeGoals = rows
  .filter((r) => r.shape !== 'web')
  .map((r) => {
    const ratio = r.summarize.wallMs / r.plain.wallMs;
    const pass = !r.summarize.error && ratio <= GOAL.timeRatio && r.summarize.peakBytes <= GOAL.peakBytes;
    return { shape: r.shape, packets: r.packets, ratio, peakBytes: r.summarize.peakBytes, pass };
  });
if (shapeGoals.length > 0) {
  lines.push(`Goals on the other shapes (<= ${GOAL.timeRatio} x plain tshark and <= 1 GB each):`);
  for (const g of shapeGoals)
    lines.push(
      `  ${g.pass ? 'PASS' : 'FAIL'}  ${g.shape} (${int(g.packets)} packets): ${g.ratio.toFixed(2)}x, ${mb(g.peakBytes)} MB`,
    );
  lines.push('');
}
process.stderr.write(lines.join('\n') + '\n');

const result = {
  date: new Date().toISOString(),
  machine: {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? null,
    totalMemBytes: os.totalmem(),
    platform: `${os.platform()} ${os.release()}`,
    node: process.version,
    tshark: tsharkVersion,
  },
  options: { sizes, dir, compare, sampleIntervalMs: SAMPLE_MS },
  sizes: rows,
  firstPage,
  drillDown,
  goals,
  shapeGoals,
};
const json = JSON.stringify(result, null, 2);
await mkdir(path.dirname(path.resolve(opts.out)), { recursive: true });
await writeFile(opts.out, json + '\n');
process.stdout.write(json + '\n');
const failed = rows.some((r) => r.summarize.error || r.singlePass?.error || r.singlePass?.equal === false);
if (failed || firstPage.calls.some((c) => c.error) || (drillDown ?? []).some((c) => c.error))
  process.exitCode = 1;
