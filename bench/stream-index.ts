// Benchmark (not a test): what the stream index costs a summary. The same summary pass over one
// capture, alternately with the stream index recorded (each frame's tcp.stream and udp.stream,
// assembled across the ranges) and without, several rounds; medians of each, with the machine's
// load, since other work shares it. Then the index against one whole-file `tshark -T fields` pass
// (every frame), and its size in memory.
//   npm run bench:streams -- FILE [--rounds 3] [--workers N] [--no-check]
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import { parseArgs, promisify } from 'node:util';
import { FrameIndexes } from '../src/analysis/index/frame-indexes.js';
import { NO_STREAM } from '../src/analysis/index/stream-index.js';
import { defaultChunking, Summarizer } from '../src/analysis/summary/index.js';
import { RuntimeDir } from '../src/storage/runtime-dir.js';
import { locateWiresharkTools } from '../src/wireshark/locate.js';
import { ProcessGroup } from '../src/wireshark/process.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string', default: '3' },
    workers: { type: 'string', default: String(os.availableParallelism()) },
    // Node 20's parseArgs has no negated flags: --no-check is an option of its own.
    'no-check': { type: 'boolean', default: false },
  },
});
const file = positionals[0];
if (!file) throw new Error('Usage: npm run bench:streams -- FILE [--rounds 3] [--workers N] [--no-check]');

const group = new ProcessGroup();
const tools = locateWiresharkTools(group);
const runtime = new RuntimeDir();
const chunking = defaultChunking(Number(values.workers));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const load = (): string => os.loadavg()[0]?.toFixed(2) ?? '?';

try {
  const times = { with: [] as number[], without: [] as number[] };
  let indexes = new FrameIndexes();
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const kind of ['without', 'with'] as const) {
      indexes = new FrameIndexes();
      const s = new Summarizer(
        group,
        () => tools,
        () => runtime.path(),
        chunking,
      );
      if (kind === 'with') s.keepStreamsIn(indexes, 600_000);
      const started = performance.now();
      await s.summarize({ file, topN: 10, timeoutMs: 600_000 });
      const ms = performance.now() - started;
      times[kind].push(ms);
      process.stderr.write(`round ${round + 1} ${kind.padEnd(7)} ${ms.toFixed(0)} ms  (load ${load()})\n`);
    }
  }
  const index = await indexes.streams(file);
  const w = median(times.with);
  const wo = median(times.without);
  process.stderr.write(
    `summary median: with the stream index ${w.toFixed(0)} ms, without ${wo.toFixed(0)} ms: ` +
      `${(w - wo).toFixed(0)} ms (${(((w - wo) / wo) * 100).toFixed(1)}%); load now ${load()}, ${os.availableParallelism()} cores\n`,
  );
  if (!index) {
    process.stderr.write(`no stream index: ${(await indexes.streamsNotExact(file)) ?? 'none kept'}\n`);
  } else {
    process.stderr.write(
      `index: ${index.frames} frames, ${index.count('tcp')} tcp and ${index.count('udp')} udp streams, ${(index.bytes / 1e6).toFixed(1)} MB (${(index.bytes / index.frames).toFixed(1)} bytes a frame)\n`,
    );
    if (!values['no-check']) {
      const { stdout } = await promisify(execFile)(
        'tshark',
        ['-n', '-r', file, '-T', 'fields', '-e', 'tcp.stream', '-e', 'udp.stream'],
        { maxBuffer: 1 << 30 },
      );
      let wrong = 0;
      let frames = 0;
      for (const line of stdout.split('\n').slice(0, -1)) {
        frames++;
        const [tcp = '', udp = ''] = line.split('\t');
        const want = [tcp === '' ? NO_STREAM : Number(tcp), udp === '' ? NO_STREAM : Number(udp)];
        if (index.streamOf('tcp', frames) !== want[0] || index.streamOf('udp', frames) !== want[1]) wrong++;
      }
      process.stderr.write(
        `whole-file tshark: ${frames} frames, ${wrong} numbered differently by the index\n`,
      );
    }
  }
} finally {
  await group.close();
  await rm(await runtime.path(), { recursive: true, force: true }).catch(() => undefined);
}
