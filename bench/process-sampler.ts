// Benchmark (not a test): what the process sampler costs (Linux). It records into a sidecar in a
// temporary folder for N seconds with no load of its own making, then for N seconds while two
// programs connect on loopback (127.83.76.0/24): a Node client making connections that live 110 ms,
// 4 at a time, and `curl` runs against an HTTP server, 4 at a time. It prints the sampling's CPU as
// a share of one core: this process's (it does nothing but sample: Node's upkeep and the parsing
// of the watcher's news, or the polls of /proc) plus the socket watcher's (its own process, which
// reports it), split into table reads and owner searches, and what it recorded. The load runs in
// child processes, so that only the sampling is counted here. Each case runs twice: through the
// socket watcher (when it was built) and with Node polling /proc itself. With B > 0, B busy loops
// keep the cores loaded meanwhile (other programs wanting the CPU), and the share of sockets
// recorded with their process says what the sampling still catches.
//   npm run bench:processes [-- seconds [B]]
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Attribution } from '../src/processes/attribution.js';
import { ProcessRecording } from '../src/processes/recording.js';
import { SocketSampler } from '../src/processes/sampler.js';
import { SOCK_DIAG_HELPER } from '../src/processes/sock-diag.js';
import { readSidecar } from '../src/processes/sidecar.js';

const seconds = Number(process.argv[2] ?? 10);
const busy = Number(process.argv[3] ?? 0);
if (!SocketSampler.available()) {
  console.error('The sampler needs Linux with /proc/net.');
  process.exit(1);
}

/**
 * The load, in one child: an HTTP and a TCP server, a Node client making connections that live
 * 110 ms, 4 at a time, and `curl` runs against the HTTP server, 4 at a time, until killed.
 */
const LOAD = `
const { spawn } = require('node:child_process');
const http = require('node:http');
const net = require('node:net');
const web = http.createServer((q, r) => setTimeout(() => r.end('ok'), 110));
const tcp = net.createServer((s) => { s.resume(); setTimeout(() => s.end(), 110); });
web.listen(0, '127.83.76.1', () => tcp.listen(0, '127.83.76.2', () => {
  console.log(web.address().port);
  const one = () => new Promise((resolve) => {
    const s = net.connect({ host: '127.83.76.2', port: tcp.address().port, localAddress: '127.83.76.11' });
    s.on('error', resolve); s.on('close', resolve); s.resume();
  });
  const curl = () => new Promise((resolve) => {
    const url = 'http://127.83.76.1:' + web.address().port + '/';
    spawn('curl', ['-s', '-o', '/dev/null', '--interface', '127.83.76.10', url], { stdio: 'ignore' }).on('close', resolve);
  });
  const worker = async (f) => { for (;;) await f(); };
  for (let i = 0; i < 4; i++) { void worker(one); void worker(curl); }
}));
`;

async function record(
  label: string,
  helper: string | false,
  work: (until: number) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sharkmcp-bench-'));
  const sampler = new SocketSampler(undefined, { helper });
  const file = path.join(dir, 'capture.pcapng');
  const cpu = process.cpuUsage();
  const recording = ProcessRecording.start(sampler, file);
  if (!recording) throw new Error('could not start recording');
  try {
    await work(Date.now() + seconds * 1000);
  } finally {
    recording.stop();
  }
  // This process does nothing but sample: its CPU is the sampler's (with Node's own upkeep).
  const own = process.cpuUsage(cpu);
  const sidecar = await readSidecar(file);
  await rm(dir, { recursive: true, force: true });
  const end = sidecar?.end;
  if (!sidecar || !end) throw new Error('no sidecar');
  const facts = new Attribution(sidecar).facts;
  const helperMicros = end.helperMicros ?? 0;
  const used = own.user + own.system + helperMicros;
  const share = (micros: number | undefined): string =>
    `${(((micros ?? 0) / 1000 / end.sampledMs) * 100).toFixed(2)}%`;
  const who = end.tables === 'netlink' ? 'socket watcher' : 'Node polling /proc';
  const parts =
    end.tables === 'netlink'
      ? `the watcher ${share(helperMicros)} (table reads ${share(end.walkMicros)}, owner searches ${share(end.searchMicros)}), Node ${share(own.user + own.system)} (of which parsing its news ${share(end.cpuMicros - helperMicros)})`
      : `Node ${share(own.user + own.system)}, of which in polls ${share(end.cpuMicros)} (table reads ${share(end.walkMicros)}, owner searches ${share(end.searchMicros)}), ${(end.cpuMicros / end.polls).toFixed(0)} µs a poll`;
  console.log(
    `${label}${busy > 0 ? ` with ${busy} busy loops` : ''}, ${who}: ${(used / 1000).toFixed(0)} ms of CPU over ${(end.sampledMs / 1000).toFixed(1)} s = ${share(used)} of one core: ${parts}; ${end.polls} polls, ${end.walks} table reads, ${end.fullScans ?? 0} full scans, ${end.linksRead ?? 0} fd links read; ${facts.sockets} sockets recorded (${(facts.sockets / (end.sampledMs / 1000)).toFixed(0)} a second), ${facts.ownedSockets} with their process (${((100 * facts.ownedSockets) / Math.max(1, facts.sockets)).toFixed(1)}%), ${facts.processes} processes`,
  );
}

const loaded = async (until: number): Promise<void> => {
  const load = spawn(process.execPath, ['-e', LOAD], { stdio: ['ignore', 'pipe', 'inherit'] });
  const closed = new Promise((resolve) => load.on('close', resolve));
  try {
    await new Promise((resolve) => load.stdout.once('data', resolve));
    await delay(until - Date.now());
  } finally {
    load.kill();
    await closed;
  }
};

/** Busy loops for the whole run: other programs that want every core. */
const loops = Array.from({ length: busy }, () =>
  spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }),
);
try {
  const helpers: (string | false)[] = existsSync(SOCK_DIAG_HELPER) ? [SOCK_DIAG_HELPER, false] : [false];
  for (const helper of helpers) await record('idle', helper, (until) => delay(until - Date.now()));
  for (const helper of helpers) await record('two programs connecting', helper, loaded);
} finally {
  for (const loop of loops) loop.kill('SIGKILL');
}
