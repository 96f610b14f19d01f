// Benchmark (not a test): the frame index and pages read from a cut, on one capture (by default the
// largest the benchmark has built). With the file read once beforehand so both sides find it in
// the page cache, it prints:
//   plain      `tshark -r FILE -q -z io,phs`: wall time (the yardstick for the index).
//   index      building the frame index: wall time, the ratio to plain, bytes held a frame.
//   pages      analyze_pcap_file pages (20 packets, text and fields) at offsets through the file,
//              read whole and from a cut, their times, whether the cut was used (or why not), and
//              whether both pages are equal.
//   npm run bench:index [-- FILE] [--offsets 1000000,1500000] [--keylog FILE]
import { readdir, open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Analyzer, DEFAULT_FIELDS } from '../src/analysis/analyze-capture.js';
import { FrameIndexes } from '../src/analysis/index/frame-indexes.js';
import { RuntimeDir } from '../src/storage/runtime-dir.js';
import { locateWiresharkTools } from '../src/wireshark/locate.js';
import { ProcessGroup } from '../src/wireshark/process.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    offsets: { type: 'string', default: '1000000,1500000' },
    keylog: { type: 'string' },
    dir: { type: 'string', default: process.env['SHARKMCP_BENCH_DIR'] ?? '/var/tmp/sharkmcp-bench' },
  },
});

/** The benchmark's largest capture in `dir`. */
async function largest(dir: string): Promise<string> {
  const names = (await readdir(dir)).filter((n) => /^bench-.*\.pcapng$/.test(n));
  let best: { file: string; size: number } | undefined;
  for (const n of names) {
    const file = path.join(dir, n);
    const handle = await open(file, 'r');
    const { size } = await handle.stat();
    await handle.close();
    if (!best || size > best.size) best = { file, size };
  }
  if (!best) throw new Error(`No benchmark capture in ${dir}: run npm run bench first, or name a file.`);
  return best.file;
}

/** Reads the file once, 1 MiB at a time, so that neither side pays for a cold page cache. */
async function warm(file: string): Promise<void> {
  const handle = await open(file, 'r');
  const buffer = Buffer.alloc(1024 * 1024);
  try {
    while ((await handle.read(buffer, 0, buffer.length)).bytesRead > 0);
  } finally {
    await handle.close();
  }
}

const file = positionals[0] ?? (await largest(values.dir));
const offsets = values.offsets.split(',').map(Number);
const group = new ProcessGroup();
const tools = await locateWiresharkTools(group);
const tshark = tools.require('tshark');
const runtimeDir = new RuntimeDir(os.tmpdir());
const ms = (t0: number): number => Math.round(performance.now() - t0);

try {
  await warm(file);
  let t0 = performance.now();
  const plain = await group.run({
    command: tshark,
    args: ['-r', file, '-q', '-z', 'io,phs'],
    timeoutMs: 600_000,
  });
  const plainMs = ms(t0);
  console.log(`plain  tshark -r ${file} -q -z io,phs: ${plainMs} ms (exit ${String(plain.exitCode)})`);

  const indexes = new FrameIndexes();
  t0 = performance.now();
  const index = await indexes.get(file);
  const buildMs = ms(t0);
  if (!index) throw new Error(`${file} is neither pcap nor pcapng.`);
  console.log(
    `index  ${index.count} frames in ${buildMs} ms = ${(buildMs / plainMs).toFixed(3)}x plain; ${index.bytes} bytes held, ${(index.bytes / index.count).toFixed(1)} a frame`,
  );

  const bodies = new Map<string, string>();
  for (const [name, frameIndexes] of [
    ['whole', null],
    ['cut', indexes],
  ] as const) {
    const analyzer = new Analyzer(group, () => Promise.resolve(tools), {
      timeoutMs: 600_000,
      runtimeDir,
      frameIndexes,
    });
    for (const outputFormat of ['text', 'fields'] as const) {
      for (const offset of offsets) {
        t0 = performance.now();
        const r = await analyzer.analyze({
          file,
          outputFormat,
          fields: [...DEFAULT_FIELDS],
          offset,
          limit: 20,
          maxChars: 20_000,
          keylogFile: values.keylog,
        });
        const key = `${outputFormat}@${offset}`;
        const how =
          r.readFrom && 'cut' in r.readFrom ? 'from a cut' : `whole file (${r.readFrom?.whole ?? '-'})`;
        const same = name === 'cut' ? ` equal to whole: ${String(bodies.get(key) === r.page.body)}` : '';
        console.log(
          `page   ${name.padEnd(5)} ${key.padEnd(14)} ${String(ms(t0)).padStart(6)} ms ${how}${same}`,
        );
        bodies.set(key, r.page.body);
      }
    }
  }
} finally {
  await runtimeDir.close();
  await group.close();
}
