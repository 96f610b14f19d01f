// Benchmark (not a test): how long stop_capture_session takes beyond the analysis itself, through
// a real MCP client and the built server, on loopback traffic this script makes. The analysis is
// timed apart twice: the same call again on the stopped session (it re-reads the file and stops
// nothing), and analyze_pcap_file of the saved copy. `--busy` keeps every core busy meanwhile
// (spinning children of this script), as on a shared machine. The seed's fixed sleeps cost 3 s.
//   npm run bench:stop [-- rounds] [--busy]
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { benchServer } from './server.js';
import { median, roundsArgs, spinners } from './rounds.js';
const { rounds, busy } = roundsArgs(7);
// This bench's own loopback addresses (other captures run on lo at the same time).
const SERVER = '127.83.78.20';
const CLIENT = '127.83.78.21';

async function timed<T>(f: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const r = await f();
  return [performance.now() - t0, r];
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'sharkmcp-bench-'));
const server = http.createServer((_req, res) => res.end('x'.repeat(2000)));
await new Promise<void>((resolve) => server.listen(0, SERVER, resolve));
const port = (server.address() as AddressInfo).port;
const { client } = await benchServer('bench-stop', [dir]);

/** A call that answered with an error is no figure: the bench stops and says why. */
async function call(name: string, args: Record<string, unknown>): Promise<{ structuredContent?: unknown }> {
  const r = await client.callTool({ name, arguments: args });
  if (r.isError === true) throw new Error(`${name}: ${JSON.stringify(r.content)}`);
  return r;
}

const burners = spinners(busy);

const stops: number[] = [];
const rereads: number[] = [];
const analyses: number[] = [];
try {
  for (let i = 0; i < rounds; i++) {
    const start = await call('start_capture_session', {
      captureFilter: `tcp and host ${SERVER} and port ${port}`,
      timeout: 120,
    });
    const id = (start.structuredContent as { id: string }).id;
    for (let r = 0; r < 20; r++) {
      await new Promise<void>((resolve, reject) =>
        http
          .get({ host: SERVER, localAddress: CLIENT, port, path: `/r${r}`, agent: false }, (res) =>
            res.resume().on('end', resolve),
          )
          .on('error', reject),
      );
    }
    const copy = path.join(dir, `round-${i}.pcapng`);
    const [stop] = await timed(() =>
      call('stop_capture_session', { sessionId: id, displayFilter: 'http', saveTo: copy }),
    );
    const [reread] = await timed(() =>
      call('stop_capture_session', { sessionId: id, displayFilter: 'http' }),
    );
    const [analysis] = await timed(() =>
      call('analyze_pcap_file', { filePath: copy, displayFilter: 'http' }),
    );
    stops.push(stop);
    rereads.push(reread);
    analyses.push(analysis);
    await call('delete_capture_session', { sessionId: id });
  }
} finally {
  for (const b of burners) b.kill();
  await client.close();
  server.close();
  await rm(dir, { recursive: true, force: true });
}

const overhead = stops.map((s, i) => s - (rereads[i] ?? 0));
const result = {
  rounds,
  busy,
  stopMedianMs: Math.round(median(stops)),
  stopMaxMs: Math.round(Math.max(...stops)),
  rereadMedianMs: Math.round(median(rereads)),
  analysisMedianMs: Math.round(median(analyses)),
  stopBeyondAnalysisMedianMs: Math.round(median(overhead)),
  stopBeyondAnalysisMaxMs: Math.round(Math.max(...overhead)),
  seedFixedSleepsMs: 3000,
};
process.stderr.write(
  [
    `stop_capture_session, ${rounds} rounds of 20 HTTP requests on loopback${busy ? `, every core kept busy (${burners.length} spinners)` : ''}:`,
    `  stop + analysis                     median ${result.stopMedianMs} ms, max ${result.stopMaxMs} ms`,
    `  same call again (analysis, no stop) median ${result.rereadMedianMs} ms`,
    `  analyze_pcap_file of the copy       median ${result.analysisMedianMs} ms`,
    `  stop beyond the analysis            median ${result.stopBeyondAnalysisMedianMs} ms, max ${result.stopBeyondAnalysisMaxMs} ms (goal: 300 ms; the seed slept ${result.seedFixedSleepsMs} ms)`,
    `  per round (stop / beyond, ms)       ${stops.map((s, i) => `${Math.round(s)}/${Math.round(overhead[i] ?? NaN)}`).join(' ')}`,
    '',
  ].join('\n'),
);
process.stdout.write(`${JSON.stringify(result)}\n`);
