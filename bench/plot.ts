// Benchmark (not a test): plot_capture's time and memory on one long TCP stream, through a real MCP
// client and the built server over stdio. The stream is made here: a Node sender pushes `megabytes`
// in 1000-byte writes (no Nagle, so about a segment per write) from 127.83.63.11 to 127.83.63.10,
// captured on loopback with dumpcap -s 96; a gigabyte is about two million packets. The server's
// own peak resident memory (VmHWM of its process) is what streaming bounds; tshark's is printed
// beside it for scale, and tshark alone printing the same rows to nowhere, for the time. An existing
// capture can be given instead (its stream 0 is plotted). BENCH_PLOT_KINDS picks the kinds.
//   npm run bench:plot [-- megabytes | capture-file]
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DumpcapCapture } from '../src/capture/dumpcap.js';
import { locateWiresharkTools } from '../src/wireshark/locate.js';
import { ProcessGroup } from '../src/wireshark/process.js';
import { STREAM_FIELDS } from '../src/analysis/plot/index.js';
import { peakResidentBytes } from './proc.js';
import { benchServer, watchTsharkPeak } from './server.js';

const run = promisify(execFile);
const RECEIVER = '127.83.63.10';
const SENDER = '127.83.63.11';
const CHUNK = 1000;
const given = process.argv[2] ?? '1000';
const BASELINE_FIELDS = STREAM_FIELDS.flatMap((f) => ['-e', f]);

const MB = (b: number): string => `${(b / 1e6).toFixed(0)} MB`;

/** Sends `bytes` over one TCP connection on loopback in CHUNK-byte writes, then closes it. */
async function longStream(bytes: number): Promise<number> {
  const server = net.createServer((s) => {
    s.resume();
    s.on('end', () => s.end());
  });
  await new Promise<void>((resolve) => server.listen(0, RECEIVER, resolve));
  const port = (server.address() as net.AddressInfo).port;
  const client = net.connect({ host: RECEIVER, port, localAddress: SENDER });
  await new Promise<void>((resolve, reject) => client.once('connect', resolve).once('error', reject));
  client.setNoDelay(true);
  const chunk = Buffer.alloc(CHUNK, 'x');
  for (let sent = 0, i = 0; sent < bytes; sent += CHUNK, i++) {
    if (!client.write(chunk)) await new Promise((resolve) => client.once('drain', resolve));
    // Let the event loop breathe so writes leave one by one rather than in one large burst.
    if (i % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  await new Promise<void>((resolve) => client.end(resolve));
  await new Promise((resolve) => client.once('close', resolve));
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'sharkmcp-bench-plot-'));
const group = new ProcessGroup();
try {
  let file = given;
  if (/^\d+$/.test(given)) {
    file = path.join(dir, 'long-stream.pcapng');
    const tools = await locateWiresharkTools(group);
    const capture = await DumpcapCapture.start(group, tools.require('dumpcap'), {
      interface: process.platform === 'linux' ? 'lo' : 'lo0',
      captureFilter: `host ${RECEIVER} and host ${SENDER}`,
      file,
      snaplen: 96,
    });
    try {
      await longStream(Number(given) * 1e6);
    } finally {
      await capture.stop();
    }
  }
  file = path.resolve(file);
  const packets = Number(
    /Number of packets:\s+(\d+)/.exec((await run('capinfos', ['-M', '-c', file])).stdout)?.[1],
  );
  console.log(`capture: ${file}: ${packets} packets, ${MB((await stat(file)).size)} on disk`);

  // Baseline: tshark alone printing a stream's rows (the fields tcp_stream reads) to nowhere.
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) =>
    spawn(
      'tshark',
      ['-r', file, '-Y', 'tcp.stream eq 0', '-T', 'fields', '-E', 'occurrence=f', ...BASELINE_FIELDS],
      { stdio: 'ignore' },
    )
      .on('error', reject)
      .on('close', () => resolve()),
  );
  console.log(
    `baseline tshark -T fields of stream 0 alone: ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  const { client, pid: serverPid } = await benchServer('bench-plot', [path.dirname(file)]);
  try {
    console.log(`server peak RSS at start: ${MB(peakResidentBytes(serverPid) ?? 0)}`);
    const kinds = (process.env['BENCH_PLOT_KINDS'] ?? 'tcp_stream,rtt,throughput').split(',');
    for (const kind of kinds) {
      const tsharkPeak = watchTsharkPeak(serverPid);
      const t0 = performance.now();
      const result = await client.callTool(
        { name: 'plot_capture', arguments: { source: file, kind, stream: 0 } },
        { timeout: 30 * 60_000 },
      );
      const seconds = (performance.now() - t0) / 1000;
      const tshark = tsharkPeak();
      const content = result.content as { type: string; text?: string }[];
      const text = content.find((c) => c.type === 'text')?.text ?? '';
      const facts = result.structuredContent as
        { total: number; drawn: number; warnings: string[] } | undefined;
      if (result.isError || !facts) {
        // A refusal (most often the analysis time limit on a loaded machine) is a figure too.
        console.log(`${kind}: refused after ${seconds.toFixed(1)} s: ${text}`);
        continue;
      }
      const counts = text.split('\n').filter((l) => /^(Segments|RTT|Picture|Data points|Interval)\b/.test(l));
      console.log(
        `${kind}: ${seconds.toFixed(1)} s, ${facts.total} data points, ${facts.drawn} drawn; server peak RSS so far ${MB(peakResidentBytes(serverPid) ?? 0)}, tshark peak RSS ${MB(tshark)}`,
      );
      for (const line of [...counts, ...facts.warnings.map((w) => `warning: ${w}`)]) console.log(`  ${line}`);
    }
  } finally {
    await client.close();
  }
} finally {
  await group.close();
  await rm(dir, { recursive: true, force: true });
}
