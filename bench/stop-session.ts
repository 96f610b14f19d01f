// Benchmark (not a test): how long stop_capture_session takes beyond the analysis itself, through
// a real MCP client and the built server, on loopback traffic this script makes. The seed's fixed
// sleeps cost 3 s on every stop.
//   npm run bench:stop [-- rounds]
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli.js');
const rounds = Number(process.argv[2] ?? 7);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function timed<T>(f: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const r = await f();
  return [performance.now() - t0, r];
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'sharkmcp-bench-'));
const server = http.createServer((_req, res) => res.end('x'.repeat(2000)));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as AddressInfo).port;
const client = new Client({ name: 'bench', version: '1' });
await client.connect(new StdioClientTransport({ command: process.execPath, args: [CLI], stderr: 'ignore' }));

const stops: number[] = [];
const analyses: number[] = [];
try {
  for (let i = 0; i < rounds; i++) {
    const start = await client.callTool({
      name: 'start_capture_session',
      arguments: { captureFilter: `tcp port ${port}`, timeout: 120 },
    });
    const id = (start.structuredContent as { id: string }).id;
    for (let r = 0; r < 20; r++) {
      await new Promise<void>((resolve, reject) =>
        http
          .get({ host: '127.0.0.1', port, path: `/r${r}`, agent: false }, (res) =>
            res.resume().on('end', resolve),
          )
          .on('error', reject),
      );
    }
    const copy = path.join(dir, `round-${i}.pcapng`);
    const [stop] = await timed(() =>
      client.callTool({
        name: 'stop_capture_session',
        arguments: { sessionId: id, displayFilter: 'http', saveTo: copy },
      }),
    );
    const [analysis] = await timed(() =>
      client.callTool({ name: 'analyze_pcap_file', arguments: { filePath: copy, displayFilter: 'http' } }),
    );
    stops.push(stop);
    analyses.push(analysis);
    await client.callTool({ name: 'delete_capture_session', arguments: { sessionId: id } });
  }
} finally {
  await client.close();
  server.close();
  await rm(dir, { recursive: true, force: true });
}

const overhead = stops.map((s, i) => s - (analyses[i] ?? 0));
const result = {
  rounds,
  stopMedianMs: Math.round(median(stops)),
  analysisMedianMs: Math.round(median(analyses)),
  stopBeyondAnalysisMedianMs: Math.round(median(overhead)),
  seedFixedSleepsMs: 3000,
};
process.stderr.write(
  [
    `stop_capture_session, ${rounds} rounds of 20 HTTP requests on loopback:`,
    `  stop + analysis          median ${result.stopMedianMs} ms`,
    `  same analysis of a file  median ${result.analysisMedianMs} ms`,
    `  stop beyond the analysis median ${result.stopBeyondAnalysisMedianMs} ms (the seed sleeps ${result.seedFixedSleepsMs} ms)`,
    '',
  ].join('\n'),
);
process.stdout.write(`${JSON.stringify(result)}\n`);
