// Benchmark (not a test): how long from spawning the built server to its first answered tool call
// (summarize_capture of a tiny capture this script makes on loopback: 10 HTTP exchanges), side by side in the same
// run with one bare `tshark -r` of the same file, in alternating order. The issue's goal: the
// first answer within one bare tshark read plus 0.3 s. `--busy` keeps every core busy meanwhile.
// CPU is printed beside wall: the server's own and its children's to the first answer, and the
// bare tshark's (on a shared machine wall times wait for others' processes; CPU does not). The
// server is the bundle (its code cache is made by the first round when missing); `--cli FILE`
// starts another build of it side by side (e.g. dist/src/cli.js, tsc's modules unbundled).
//   npm run bench:start [-- rounds] [--busy] [--cli FILE]
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { cpuSeconds } from './proc.js';
import { median, roundsArgs, spinners } from './rounds.js';

const cliFlag = process.argv.indexOf('--cli');
const CLI =
  cliFlag > 0 && process.argv[cliFlag + 1] !== undefined
    ? path.resolve(process.argv[cliFlag + 1] ?? '')
    : path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bundle', 'sharkmcp.js');
const { rounds, busy } = roundsArgs(7);
// This bench's own loopback addresses (other captures run on lo at the same time); a helper benchmarking
// beside others sets SHARKMCP_BENCH_NET to its own /24, as for captures.ts.
const NET = process.env['SHARKMCP_BENCH_NET'] ?? '127.83.78';
const SENDER = `${NET}.30`;
const RECEIVER = `${NET}.31`;

/** This process's waited-for children's CPU ms (the bare tshark runs alone: its own CPU). */
function childrenCpuMs(): number {
  return (cpuSeconds(process.pid)?.children ?? NaN) * 1000;
}

/** Runs a program to its end, output discarded; resolves with its wall and CPU time in ms. */
function timedRun(command: string, args: string[]): Promise<{ wall: number; cpu: number }> {
  const t0 = performance.now();
  const cpu0 = childrenCpuMs();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'ignore' });
    child.on('error', reject);
    // 'close' comes after Node has reaped the child, so its CPU is in this process's children's.
    child.on('close', (code) =>
      code === 0
        ? resolve({ wall: performance.now() - t0, cpu: childrenCpuMs() - cpu0 })
        : reject(new Error(`${command} exited ${code}`)),
    );
  });
}

/** A capture of 10 HTTP requests and their answers between this bench's addresses, made with dumpcap. */
async function tinyCapture(file: string): Promise<void> {
  const server = http.createServer((_req, res) => res.end('hello'));
  await new Promise<void>((resolve) => server.listen(0, RECEIVER, resolve));
  const port = (server.address() as AddressInfo).port;
  const dumpcap = spawn(
    'dumpcap',
    ['-i', 'lo', '-f', `tcp and host ${RECEIVER} and port ${port}`, '-w', file, '-q'],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => dumpcap.on('exit', () => resolve()));
  try {
    // dumpcap -q does not say when it has begun: a second is ample on loopback.
    await delay(1000);
    for (let i = 0; i < 10; i++) {
      await new Promise<void>((resolve, reject) =>
        http
          .get({ host: RECEIVER, localAddress: SENDER, port, path: `/r${i}`, agent: false }, (res) =>
            res.resume().on('end', resolve),
          )
          .on('error', reject),
      );
    }
    // The kernel hands packets to dumpcap at most 250 ms late.
    await delay(500);
  } finally {
    dumpcap.kill();
    await exited;
    server.close();
  }
}

/**
 * Spawns the server, connects, asks for a summary: the time until it answers, in ms, and the CPU
 * the server spent by then (its own, and the tshark/capinfos children it had waited for).
 */
async function firstAnswer(
  file: string,
  dir: string,
): Promise<{ total: number; connected: number; serverCpu: number; childrenCpu: number }> {
  const t0 = performance.now();
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI],
    env: { ...(process.env as Record<string, string>), SHARKMCP_ALLOWED_DIRS: dir },
    stderr: 'ignore',
  });
  const client = new Client({ name: 'bench-start', version: '1' });
  try {
    await client.connect(transport);
    const connected = performance.now() - t0;
    const r = await client.callTool({ name: 'summarize_capture', arguments: { source: file } });
    const total = performance.now() - t0;
    const cpu = transport.pid === null ? undefined : cpuSeconds(transport.pid);
    if (r.isError === true) throw new Error(`summarize_capture: ${JSON.stringify(r.content)}`);
    return {
      total,
      connected,
      serverCpu: (cpu?.own ?? NaN) * 1000,
      childrenCpu: (cpu?.children ?? NaN) * 1000,
    };
  } finally {
    await client.close();
  }
}

const loadBefore = os.loadavg();
const dir = await mkdtemp(path.join(os.tmpdir(), 'sharkmcp-bench-start-'));
const file = path.join(dir, 'tiny.pcapng');
const burners = spinners(busy);
const bare: number[] = [];
const bareCpu: number[] = [];
const starts: number[] = [];
const connects: number[] = [];
const serverCpu: number[] = [];
const childrenCpu: number[] = [];
try {
  await tinyCapture(file);
  for (let i = 0; i < rounds; i++) {
    // Alternating which goes first, so that neither always meets a warm page cache alone.
    const order = i % 2 === 0 ? ['tshark', 'server'] : ['server', 'tshark'];
    for (const which of order) {
      if (which === 'tshark') {
        const run = await timedRun(process.env['SHARKMCP_TSHARK'] ?? 'tshark', ['-r', file]);
        bare.push(run.wall);
        bareCpu.push(run.cpu);
      } else {
        const answer = await firstAnswer(file, dir);
        starts.push(answer.total);
        connects.push(answer.connected);
        serverCpu.push(answer.serverCpu);
        childrenCpu.push(answer.childrenCpu);
      }
    }
  }
} finally {
  for (const b of burners) b.kill();
  await rm(dir, { recursive: true, force: true });
}

const excess = starts.map((s, i) => s - (bare[i] ?? 0));
// How busy the machine was (other processes share its cores): the figures mean little without it.
const loadAverage = {
  before: loadBefore.map((l) => Number(l.toFixed(2))),
  after: os.loadavg().map((l) => Number(l.toFixed(2))),
};
const result = {
  rounds,
  busy,
  cores: os.availableParallelism(),
  loadAverage,
  bareTsharkMedianMs: Math.round(median(bare)),
  initializeMedianMs: Math.round(median(connects)),
  firstAnswerMedianMs: Math.round(median(starts)),
  firstAnswerMaxMs: Math.round(Math.max(...starts)),
  beyondTsharkMedianMs: Math.round(median(excess)),
  beyondTsharkMaxMs: Math.round(Math.max(...excess)),
  // CPU: the robust figures when other processes share the cores (wall times then wait for them).
  bareTsharkCpuMedianMs: Math.round(median(bareCpu)),
  serverNodeCpuMedianMs: Math.round(median(serverCpu)),
  serverChildrenCpuMedianMs: Math.round(median(childrenCpu)),
};
process.stderr.write(
  [
    `server spawn to first answer (summarize_capture of 10 HTTP exchanges), ${rounds} rounds${busy ? `, every core kept busy (${burners.length} spinners)` : ''}, server ${path.relative(process.cwd(), CLI)}:`,
    `  bare tshark -r of the file      median ${result.bareTsharkMedianMs} ms`,
    `  spawn to MCP initialize done    median ${result.initializeMedianMs} ms`,
    `  spawn to first answer           median ${result.firstAnswerMedianMs} ms, max ${result.firstAnswerMaxMs} ms`,
    `  first answer beyond bare tshark median ${result.beyondTsharkMedianMs} ms, max ${result.beyondTsharkMaxMs} ms (goal: 300 ms)`,
    `  CPU: bare tshark median ${result.bareTsharkCpuMedianMs} ms; server to first answer: node median ${result.serverNodeCpuMedianMs} ms, its children (tshark, capinfos) median ${result.serverChildrenCpuMedianMs} ms`,
    `  load average (1, 5, 15 min) before ${loadAverage.before.join(' ')}, after ${loadAverage.after.join(' ')}, on ${result.cores} cores`,
    '',
  ].join('\n'),
);
process.stdout.write(`${JSON.stringify(result)}\n`);
