// Benchmark (not a test): capture_statistics's time and memory on a large capture, through a real
// MCP client and the built server over stdio. The capture is a corpus file appended to itself
// (mergecap -a) `copies` times; the server's own resident memory (VmHWM of its process) is what
// the streaming aggregation bounds, tshark's is printed beside it for scale.
//   npm run bench:stats [-- copies [corpus file]]
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { peakResidentBytes, processTree, programName, residentBytes } from './proc.js';

const run = promisify(execFile);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.resolve(HERE, '..', 'bundle', 'sharkmcp.js');
const copies = Number(process.argv[2] ?? 20);
const original = path.resolve(
  process.argv[3] ??
    path.join(HERE, '..', '..', '..', 'shared', 'captures', 'chrissanders-packets/ppa1e/ftp-crack.pcap'),
);

const MB = (b: number): string => `${(b / 1e6).toFixed(0)} MB`;

const dir = await mkdtemp(path.join(os.tmpdir(), 'sharkmcp-bench-stats-'));
try {
  const file = path.join(dir, `x${copies}.pcap`);
  await run('mergecap', ['-a', '-w', file, ...Array.from({ length: copies }, () => original)]);
  const packets = Number(
    /Number of packets:\s+(\d+)/.exec((await run('capinfos', ['-M', '-c', file])).stdout)?.[1],
  );
  console.log(`capture: ${original} x${copies} = ${packets} packets, ${MB((await stat(file)).size)}`);

  // Baseline: tshark alone counting the same thing with its own statistics.
  let t0 = performance.now();
  await run('tshark', ['-r', file, '-q', '-z', 'io,stat,0,SUM(frame.len)frame.len'], { maxBuffer: 1e6 });
  console.log(
    `baseline tshark -q -z io,stat,0,SUM(frame.len)frame.len: ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI],
    env: {
      ...(process.env as Record<string, string>),
      SHARKMCP_ALLOWED_DIRS: [dir, path.dirname(original)].join(path.delimiter),
    },
    stderr: 'ignore',
  });
  const client = new Client({ name: 'bench-stats', version: '1' });
  await client.connect(transport);
  const serverPid = transport.pid;
  if (serverPid === null) throw new Error('the server did not start');
  try {
    // The server's memory before any large read: started, tshark's field list loaded, one small call.
    await client.callTool({
      name: 'capture_statistics',
      arguments: { source: original, groupBy: ['ip.src'] },
    });
    console.log(
      `server peak RSS after one call on the original file: ${MB(peakResidentBytes(serverPid) ?? 0)}`,
    );
    const calls: [string, Record<string, unknown>][] = [
      [
        'count and bytes per source and port',
        { groupBy: ['ip.src', 'tcp.dstport'], metrics: ['count', 'sum:frame.len'] },
      ],
      [
        'avg/p95/max RTT and distinct ports per host',
        {
          groupBy: ['ip.dst'],
          metrics: [
            'count',
            'avg:tcp.analysis.ack_rtt',
            'p95:tcp.analysis.ack_rtt',
            'max:tcp.analysis.ack_rtt',
            'distinct:tcp.srcport',
          ],
        },
      ],
      [
        'per-second series of ftp and tcp',
        { interval: 1, series: ['ftp', 'tcp'], metrics: ['count', 'sum:frame.len'] },
      ],
      [
        'bytes per source per second, every source a line (one pass)',
        { groupBy: ['ip.src'], interval: 1, metrics: ['count', 'sum:frame.len'] },
      ],
      [
        'bytes per TCP source port per second, top 5 and the rest (two passes)',
        { groupBy: ['tcp.srcport'], interval: 1, metrics: ['count', 'sum:frame.len'], topN: 5 },
      ],
      [
        'one group per packet (past the 100,000-group cap)',
        { groupBy: ['frame.number'], metrics: ['count', 'p50:frame.len'], topN: 3 },
      ],
    ];
    for (const [what, args] of calls) {
      let tsharkPeak = 0;
      const timer = setInterval(() => {
        for (const pid of processTree(serverPid).keys()) {
          if (pid !== serverPid && programName(pid) === 'tshark')
            tsharkPeak = Math.max(tsharkPeak, residentBytes(pid) ?? 0);
        }
      }, 100);
      t0 = performance.now();
      const result = await client.callTool(
        { name: 'capture_statistics', arguments: { source: file, ...args } },
        { timeout: 600_000 },
      );
      const seconds = (performance.now() - t0) / 1000;
      clearInterval(timer);
      const facts = result.structuredContent as
        { packets: number; total: number; warnings: string[] } | undefined;
      if (result.isError || !facts) throw new Error(JSON.stringify(result.content));
      console.log(
        `${what}: ${seconds.toFixed(1)} s, ${facts.packets} packets matched (${Math.round(facts.packets / seconds)} packets/s), ${facts.total} rows; server peak RSS so far ${MB(peakResidentBytes(serverPid) ?? 0)}, tshark peak RSS ${MB(tsharkPeak)}${facts.warnings.length > 0 ? `\n  warnings: ${facts.warnings.join(' | ')}` : ''}`,
      );
    }
  } finally {
    await client.close();
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
