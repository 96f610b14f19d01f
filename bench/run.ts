// Benchmark (not a test): summarize_capture against plain tshark on the same capture, at several
// sizes, through a real MCP client and the built server. For each size, with the file read once
// beforehand so that both sides find it in the page cache:
//   plain      `tshark -r FILE -q -z io,phs`: wall time, CPU seconds and peak memory.
//   summarize  summarize_capture {source: FILE} on a fresh server, called 1 s after it started (once
//              its start-up is done): wall time of the call, peak memory of the server and all its
//              children during the call, the server's RSS before the call, and the answer's size
//              (text content, and JSON of structuredContent); its CPU seconds are the server's and
//              its ended tshark workers'.
//   1-pass     the same call on a server started with SHARKMCP_SUMMARY_WORKERS=1 (the single-pass
//              path), its time and peak, and whether both structuredContents are deep-equal but
//              for the checksum figures (only a single pass checks checksums).
//              Skip with --no-compare: on 2M packets it takes ~20 s and a few GB.
// Each row gives the 1-minute load average before it: on a shared machine wall times alone say little.
// Then the same on captures of other shapes (shapes.ts: tiny packets, many distinct flows, one large
// flow, UDP-heavy), about 1,000,000 packets each (100,000 with --quick), each judged against the
// same goals.
// Then, on the largest web file only, the time to the first page of analyze_pcap_file (50 packets,
// text) on a fresh server, called twice (the first pays any cache warm-up), the drill-down table
// (drill-down.ts: pages, a filtered next page, details, streams near 1%, 50% and 99% of the file,
// each beside plain tshark doing the same job; the index's cost and size; peak memory), and the
// goals. Peak memory is measured as measure.ts says.
// Tables go to stderr; the raw figures (ms, bytes) as JSON to stdout and to --out.
//   npm run bench [-- --sizes 10000,200000,2000000] [--quick] [--dir DIR] [--out FILE] [--no-compare]
//                 [--plain-rounds N] [--shapes tiny,flows,large,udp|none]
// --quick: sizes 10000,200000 unless --sizes is given, so the drill-down table runs on 200,000
// packets in a few minutes rather than on 2,000,000 in about an hour, and the shapes of 100,000
// packets rather than 1,000,000. --plain-rounds: runs of each plain tshark job in the drill-down
// table (default 1; on 2,000,000 packets each takes ~40 s).
// The captures are built once into DIR (default $SHARKMCP_BENCH_DIR or /var/tmp/sharkmcp-bench),
// their traffic on SHARKMCP_BENCH_NET (captures.ts, shapes.ts).
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual, parseArgs, promisify } from 'node:util';
import { ALL_TOOL_NAMES, locateWiresharkTools } from '../src/wireshark/locate.js';
import { ProcessGroup } from '../src/wireshark/process.js';
import { benchCaptures } from './captures.js';
import type { BenchCapture } from './captures.js';
import { drillDown, drillDownReport } from './drill-down.js';
import type { DrillDown } from './drill-down.js';
import { measuredCall, plainTshark, reapLeftovers, SAMPLE_MS, warmPageCache, withServer } from './measure.js';
import { SHAPES, shapeCaptures } from './shapes.js';
import type { Shape, ShapeCapture } from './shapes.js';

const FIRST_PAGE = { outputFormat: 'text', limit: 50 };
const GOAL = { timeRatio: 0.6, peakBytes: 1e9, firstPageMs: 1000 };

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
 * the same on a single-pass server, and whether both answers are deep-equal beyond checksums.
 */
async function measure(
  group: ProcessGroup,
  tshark: string,
  capture: BenchCapture | ShapeCapture,
  label: string,
) {
  process.stderr.write(`${label}: plain tshark, summarize${compare ? ', 1-pass' : ''}...\n`);
  const load = os.loadavg();
  process.stderr.write(`  load average before: ${load.map((l) => l.toFixed(2)).join(' ')}\n`);
  await warmPageCache(capture.file);
  const plain = await plainTshark(group, tshark, ['-r', capture.file, '-q', '-z', 'io,phs']);
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
  return { loadBefore: load[0] ?? 0, plain, summarize, singlePass: singlePass ?? null };
}

// ---- The run.

const { values: opts } = parseArgs({
  options: {
    sizes: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'plain-rounds': { type: 'string', default: '1' },
    dir: { type: 'string', default: process.env['SHARKMCP_BENCH_DIR'] ?? '/var/tmp/sharkmcp-bench' },
    out: { type: 'string', default: 'bench/results/summary-latest.json' },
    'no-compare': { type: 'boolean', default: false },
    shapes: { type: 'string', default: SHAPES.join(',') },
  },
});
const sizesText = opts.sizes ?? (opts.quick ? '10000,200000' : '10000,200000,2000000');
const sizes = sizesText.split(',').map((s) => Number(s.trim()));
if (sizes.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error(`Bad --sizes: ${sizesText}`);
const plainRounds = Number(opts['plain-rounds']);
if (!Number.isInteger(plainRounds) || plainRounds < 1 || plainRounds > 9)
  throw new Error(`Bad --plain-rounds: ${opts['plain-rounds']} (1 to 9)`);
const dir = path.resolve(opts.dir);
const compare = !opts['no-compare'];
const shapes = opts.shapes === 'none' ? [] : opts.shapes.split(',').map((s) => s.trim());
const isShape = (s: string): s is Shape => (SHAPES as readonly string[]).includes(s);
if (!shapes.every(isShape))
  throw new Error(`Bad --shapes: ${opts.shapes} (any of ${SHAPES.join(',')}, or none)`);

const group = new ProcessGroup();
const rows = [];
let firstPage;
let drilled: DrillDown | undefined;
let tsharkVersion;
try {
  const tools = await locateWiresharkTools(group, process.env, undefined, ALL_TOOL_NAMES);
  const tshark = tools.require('tshark');
  const { stdout } = await promisify(execFile)(tshark, ['-v']);
  tsharkVersion = stdout.split('\n')[0] ?? '';
  const captures = await benchCaptures(group, tools, dir, sizes);
  for (const [i, capture] of captures.entries()) {
    const measured = await measure(group, tshark, capture, `${capture.packets} packets`);
    rows.push({ shape: 'web', requestedPackets: sizes[i] ?? null, ...capture, ...measured });
  }
  const shaped = await shapeCaptures(group, tools, dir, shapes, opts.quick ? 100_000 : 1_000_000);
  for (const capture of shaped) {
    const measured = await measure(
      group,
      tshark,
      capture,
      `shape ${capture.shape}, ${capture.packets} packets`,
    );
    rows.push({ requestedPackets: null, keylog: null, ...capture, ...measured });
  }
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
  process.stderr.write(`${largest.packets} packets: drill-down table...\n`);
  drilled = await drillDown(group, tshark, largest, dir, plainRounds);
} finally {
  await group.close();
  reapLeftovers();
}

// ---- The report.

// The goals are judged on the largest web file, whatever the order of --sizes; other shapes below.
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
    if (call?.error) lines.push(`  ERROR ${what} on ${r.shape} ${int(r.packets)} packets: ${call.error}`);
  }
}
lines.push(
  '',
  `analyze_pcap_file first page (50 packets, text) on ${int(firstPage.packets)} packets: ` +
    firstPage.calls.map((c) => `${sec(c.wallMs)} s`).join(', then ') +
    ` (packets shown: ${firstPage.calls.map((c) => c.packetsShown).join(', ')})`,
);
for (const c of firstPage.calls) if (c.error) lines.push(`  ERROR analyze_pcap_file: ${c.error}`);
if (drilled) lines.push(...drillDownReport(drilled));
if (last && goals) {
  const [ratio, peak, page] = goals.map((g) => `${g.pass ? 'PASS' : 'FAIL'}  ${g.goal}`);
  lines.push(
    '',
    `Goals on the largest web file (${int(last.packets)} packets):`,
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
  options: { sizes, shapes, quick: opts.quick, dir, compare, sampleIntervalMs: SAMPLE_MS },
  sizes: rows,
  firstPage,
  drillDown: drilled ?? null,
  goals,
  shapeGoals,
};
const json = JSON.stringify(result, null, 2);
await mkdir(path.dirname(path.resolve(opts.out)), { recursive: true });
await writeFile(opts.out, json + '\n');
process.stdout.write(json + '\n');
const failed = rows.some((r) => r.summarize.error || r.singlePass?.error || r.singlePass?.equal === false);
if (failed || firstPage.calls.some((c) => c.error) || drilled?.rows.some((c) => c.error))
  process.exitCode = 1;
