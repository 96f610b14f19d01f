// Benchmark (not a test): get_packet_details and follow_stream at several depths of a large
// capture, read from sparse cuts (src/analysis/sparse-read.ts) and from the whole file, with plain
// tshark doing the same job side by side (`tshark -r F -Y frame.number==N -V`, `-q -z
// follow,tcp,raw,S`). The stream index the cuts need is built here from one whole-file tshark pass
// (its time is printed, not counted: the summary pass fills it in the server). The cut side is the
// median of --rounds runs after one warm-up call (which loads tshark's glossary once); the whole
// and plain sides run once. Prints the machine's load, each time, the ratios and whether the cut's
// answer equals the whole file's.
//   npm run bench:drilldown [-- FILE] [--depths 1000,1000000,1990000] [--rounds 3] [--keylog FILE] [--cut-only]
import { readdir, open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Analyzer } from '../src/analysis/analyze-capture.js';
import { StreamFollower } from '../src/analysis/follow.js';
import type { FollowPageRequest } from '../src/analysis/follow.js';
import { frameFilter } from '../src/analysis/frames.js';
import { FrameIndexes } from '../src/analysis/index/frame-indexes.js';
import { RuntimeDir } from '../src/storage/runtime-dir.js';
import { locateWiresharkTools } from '../src/wireshark/locate.js';
import { ProcessGroup } from '../src/wireshark/process.js';
import { cachedFieldStreamIndex } from '../test/helpers/field-streams.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    depths: { type: 'string', default: '1000,1000000,1990000' },
    rounds: { type: 'string', default: '3' },
    /** Only the cut side: the whole-file and plain sides take minutes each on a busy machine. */
    'cut-only': { type: 'boolean', default: false },
    keylog: { type: 'string' },
    dir: { type: 'string', default: process.env['SHARKMCP_BENCH_DIR'] ?? '/var/tmp/sharkmcp-bench' },
  },
});

/** The largest benchmark capture in `dir`. */
async function largest(dir: string): Promise<string> {
  let best: { file: string; size: number } | undefined;
  for (const n of (await readdir(dir)).filter((x) => /^bench-.*\.pcapng$/.test(x))) {
    const handle = await open(path.join(dir, n), 'r');
    const { size } = await handle.stat();
    await handle.close();
    if (!best || size > best.size) best = { file: path.join(dir, n), size };
  }
  if (!best) throw new Error(`No benchmark capture in ${dir}: run npm run bench first, or name a file.`);
  return best.file;
}

const ms = (t0: number): number => Math.round(performance.now() - t0);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const load = (): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

const file = positionals[0] ?? (await largest(values.dir));
const depths = values.depths.split(',').map(Number);
const rounds = Math.max(1, Number(values.rounds));
const group = new ProcessGroup();
const tools = await locateWiresharkTools(group);
const tshark = tools.require('tshark');
const runtimeDir = new RuntimeDir(os.tmpdir());

async function timed<T>(f: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await f();
  return { ms: ms(t0), value };
}

try {
  console.log(`file   ${file}; ${os.cpus().length} cores, load ${load()}`);
  const indexes = new FrameIndexes();
  const built = await timed(() => indexes.get(file));
  const index = built.value;
  if (!index) throw new Error(`${file} is neither pcap nor pcapng.`);
  console.log(`index  ${index.count} frames in ${built.ms} ms, ${index.bytes} bytes`);
  // Kept beside the capture: the fields pass takes minutes on a busy machine.
  const streamsBuilt = await timed(() =>
    cachedFieldStreamIndex(file, `${file}.streams-${index.count}`, values.keylog),
  );
  const streams = streamsBuilt.value;
  console.log(
    `streams ${streams.count('tcp')} tcp, ${streams.count('udp')} udp, from one tshark fields pass in ${streamsBuilt.ms} ms (the summary pass fills it in the server)`,
  );
  const options = { timeoutMs: 600_000, runtimeDir, frameIndexes: indexes };
  const cut = new Analyzer(group, () => Promise.resolve(tools), {
    ...options,
    streamsOf: () => Promise.resolve(streams),
  });
  const whole = new Analyzer(group, () => Promise.resolve(tools), options);
  if (!cut.sparse) throw new Error('no sparse reads');
  const followCut = new StreamFollower(group, () => Promise.resolve(tools), 600_000, {
    sparse: cut.sparse,
    dir: () => runtimeDir.path(),
  });
  const followWhole = new StreamFollower(group, () => Promise.resolve(tools), 600_000);
  const details = (analyzer: Analyzer, n: number) => {
    const ranges = [{ from: n, to: n }];
    return analyzer.analyze({
      file,
      displayFilter: frameFilter(ranges),
      frames: ranges,
      lastFrame: n,
      outputFormat: 'details',
      detail: { protocols: [], bytes: false },
      fields: [],
      keylogFile: values.keylog,
      offset: 0,
      limit: 1,
      maxChars: 1_000_000,
    });
  };
  const first = await timed(() => details(cut, depths[0] ?? 1));
  console.log(`warm-up call (loads the glossary): ${first.ms} ms`);

  console.log('\nkind     depth      stream  cut ms (median)  whole ms  plain ms  cut/plain  equal  read');
  for (const n of depths) {
    const tcp = streams.streamOf('tcp', n);
    const cutRuns: number[] = [];
    let how = '';
    let body = '';
    for (let r = 0; r < rounds; r++) {
      const run = await timed(() => details(cut, n));
      cutRuns.push(run.ms);
      const from = run.value.readFrom;
      how = from && 'cut' in from ? `cut of ${from.cut.skip + 1} frames` : `whole (${from?.whole ?? '-'})`;
      body = run.value.page.body;
    }
    const skipped = { ms: NaN, value: { page: { body: '' } } };
    const cutOnly = values['cut-only'];
    const w = cutOnly ? skipped : await timed(() => details(whole, n));
    const plain = cutOnly
      ? skipped
      : await timed(() =>
          group.run({
            command: tshark,
            args: [
              '-r',
              file,
              ...(values.keylog ? ['-o', `tls.keylog_file:${values.keylog}`] : []),
              '-Y',
              `frame.number==${n}`,
              '-V',
            ],
            timeoutMs: 600_000,
          }),
        );
    const c = median(cutRuns);
    console.log(
      `details  ${String(n).padStart(9)}  ${String(tcp).padStart(6)}  ${String(c).padStart(15)}  ${String(w.ms).padStart(8)}  ${String(plain.ms).padStart(8)}  ${(c / plain.ms).toFixed(3).padStart(9)}  ${String(body === w.value.page.body).padStart(5)}  ${how}`,
    );
    if (tcp < 0) continue;
    const req: FollowPageRequest = {
      source: { file, label: file, sessionId: undefined, live: false },
      keylog: { keylogFile: values.keylog, warnings: [] },
      sourceArg: file,
      protocol: 'tcp',
      stream: tcp,
      limit: 100,
      call: { tool: 'follow_stream', args: {} },
    };
    const followRuns: number[] = [];
    let text = '';
    for (let r = 0; r < rounds; r++) {
      const run = await timed(() => followCut.page(req));
      followRuns.push(run.ms);
      text = run.value.text;
    }
    const fw = cutOnly ? { ms: NaN, value: { text: '' } } : await timed(() => followWhole.page(req));
    const fplain = cutOnly
      ? skipped
      : await timed(() =>
          group.run({
            command: tshark,
            args: ['-r', file, '-q', '-z', `follow,tcp,raw,${tcp}`],
            timeoutMs: 600_000,
          }),
        );
    const fc = median(followRuns);
    const frames = streams.framesOf('tcp', tcp).length;
    console.log(
      `follow   ${String(n).padStart(9)}  ${String(tcp).padStart(6)}  ${String(fc).padStart(15)}  ${String(fw.ms).padStart(8)}  ${String(fplain.ms).padStart(8)}  ${(fc / fplain.ms).toFixed(3).padStart(9)}  ${String(text === fw.value.text).padStart(5)}  cut of ${frames} frames`,
    );
  }
  console.log(`\nload at the end: ${load()}`);
} finally {
  await runtimeDir.close();
  await group.close();
}
