// Soak (not a test): what survives repeated faults, and what a loaded server costs, through real MCP
// clients against the built server (dist/bundle/sharkmcp.js). Figures go to stderr as they come and in a
// summary at the end; the exit code is 1 when a count that must be 0 is not.
//
// Fault survival: --cycles N (default 50) times: start a server, start a capture session on loopback
// with a short timeout (--capture-timeout, default 6 s), make loopback traffic (HTTP and DNS to
// servers of this script; every other cycle also starts an analysis of the running session), then
// SIGKILL the server mid-capture. Counted:
//   orphans  processes of those servers alive once the capture's own timeout (and 3 s) has passed:
//            the dumpcap whose pid start_capture_session gave (same start time), and any process
//            whose command line names that server's private directory;
//   strays   entries in the capture directory (the servers' TMPDIR, private to this run) besides
//            the new server's own, once the next server has started (it sweeps dead servers'
//            directories first), and anything left after the last server closed normally.
// Load: one server with 8 capture sessions running (SHARKMCP_MAX_SESSIONS=8) and --calls N (default
// 50) calls at once across every tool, on the sessions' captures and on corpus files under
// ../shared/captures (skipped when absent); two calls are meant to fail (a bad display filter, an
// unknown session) and must. Printed: failures, p50/p95 latency, the most tshark processes (and
// Wireshark analysis processes: tshark, capinfos, editcap, mergecap) at once among the server's
// children, sampled from /proc every 20 ms, against the cap the server reports at start-up, calls
// told to wait for a slot, and the peak resident memory of the server and of its whole tree.
//   npm run soak [-- --cycles N] [--calls N] [--capture-timeout S] [--only faults|load]
//                [--max-tshark N]   (the load server's cap; a large N shows it without one)
// Linux only (it reads /proc); capturing on lo needs root or dumpcap's capabilities.
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  close,
  dnsServer,
  httpGet,
  httpsGet,
  httpsServer,
  listen,
  makeCertificate,
  resolveA,
} from '../src/demo/traffic.js';
import {
  allPids,
  childPids,
  commandLine,
  processTree,
  procStat,
  programName,
  residentBytes,
} from './proc.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = path.join(REPO, 'dist', 'bundle', 'sharkmcp.js');
const CORPUS = path.resolve(REPO, '..', 'shared', 'captures');
const ANALYSIS_TOOLS = new Set(['tshark', 'capinfos', 'editcap', 'mergecap']);
const SAMPLE_MS = 20;
const TREE_EVERY = 5;
/** After a capture's timeout, how long its dumpcap may take to notice and exit. */
const EXIT_GRACE_MS = 3_000;
const CALL_TIMEOUT_MS = 10 * 60_000;
const LOAD_SESSIONS = 8;
/** Addresses of this script's traffic (its own, so that other captures on this machine do not mix in). */
const WEB_HOST = '127.83.77.30';
const DNS_HOST = '127.83.77.31';

const { values: opts } = parseArgs({
  options: {
    cycles: { type: 'string', default: '50' },
    calls: { type: 'string', default: '50' },
    'capture-timeout': { type: 'string', default: '6' },
    'max-tshark': { type: 'string' },
    only: { type: 'string' },
  },
});
const count = (name: string, raw: string, min: number): number => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} ${raw}: give a whole number >= ${min}`);
  return n;
};
const CYCLES = count('cycles', opts.cycles, 1);
const CALLS = count('calls', opts.calls, 1);
const CAPTURE_TIMEOUT_S = count('capture-timeout', opts['capture-timeout'], 2);
/** The load server's cap, when not its default (a large one shows the server without a cap). */
const MAX_TSHARK = opts['max-tshark'] === undefined ? undefined : count('max-tshark', opts['max-tshark'], 1);
if (opts.only !== undefined && opts.only !== 'faults' && opts.only !== 'load')
  throw new Error(`--only ${opts.only}: faults or load`);

const say = (line: string): void => void process.stderr.write(`${line}\n`);
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const mb = (bytes: number): string => `${Math.round(bytes / 1e6)} MB`;

// ---- Servers and calls.

interface Server {
  readonly client: Client;
  readonly transport: StdioClientTransport;
  readonly pid: number;
  stderr(): string;
}

interface Answer {
  readonly text: string;
  readonly isError: boolean;
  readonly structured: Record<string, unknown> | undefined;
  readonly ms: number;
  /** No answer at all: the request failed or timed out. */
  readonly failure: string | undefined;
  /** The most calls ahead that a "waiting for a tshark slot" notice gave; undefined if none came. */
  readonly waitedBehind: number | undefined;
}

async function startServer(runDir: string, work: string, env: Record<string, string> = {}): Promise<Server> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      (e): e is [string, string] =>
        e[1] !== undefined && e[0] !== 'SSLKEYLOGFILE' && !/^SHARKMCP_(MAX_|ALLOWED|CONFIG)/.test(e[0]),
    ),
  );
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI],
    env: {
      ...base,
      TMPDIR: runDir,
      SHARKMCP_CONFIG_DIR: path.join(work, 'config'),
      SHARKMCP_ALLOWED_DIRS: [work, CORPUS].join(path.delimiter),
      ...env,
    },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-20_000);
  });
  const client = new Client({ name: 'sharkmcp-soak', version: '1' });
  await client.connect(transport);
  if (transport.pid === null) throw new Error('The server has no pid.');
  return { client, transport, pid: transport.pid, stderr: () => stderr };
}

async function call(
  server: Server,
  name: string,
  args: Record<string, unknown>,
  signal?: AbortSignal,
): Promise<Answer> {
  const t0 = performance.now();
  let waitedBehind: number | undefined;
  try {
    const result = await server.client.callTool(
      { name, arguments: args },
      {
        timeout: CALL_TIMEOUT_MS,
        ...(signal ? { signal } : {}),
        onprogress: (p) => {
          const ahead = /waiting for a tshark slot: (\d+)/.exec(p.message ?? '')?.[1];
          if (ahead !== undefined) waitedBehind = Math.max(waitedBehind ?? 0, Number(ahead));
        },
      },
    );
    const content = (result.content ?? []) as { type: string; text?: string }[];
    return {
      text: content.flatMap((c) => (c.type === 'text' ? [c.text ?? ''] : [])).join('\n'),
      isError: result.isError === true,
      structured: result.structuredContent as Record<string, unknown> | undefined,
      ms: performance.now() - t0,
      failure: undefined,
      waitedBehind,
    };
  } catch (err) {
    return {
      text: '',
      isError: true,
      structured: undefined,
      ms: performance.now() - t0,
      failure: err instanceof Error ? err.message : String(err),
      waitedBehind,
    };
  }
}

/** Resolves once the process has gone (and been reaped), or after `ms`. */
async function gone(pid: number, ms = 10_000): Promise<boolean> {
  for (const until = performance.now() + ms; performance.now() < until; await delay(20)) {
    const stat = procStat(pid);
    if (stat === undefined || stat.state === 'Z') return true;
  }
  return false;
}

/** The server's private directory, once it exists (the server sweeps dead servers' first). */
async function runtimeDirOf(runDir: string, pid: number, ms = 15_000): Promise<string> {
  for (const until = performance.now() + ms; performance.now() < until; await delay(20)) {
    const name = readdirSync(runDir).find((n) => n.startsWith(`sharkmcp-${pid}-`));
    if (name !== undefined) return path.join(runDir, name);
  }
  throw new Error(`server ${pid} made no directory in ${runDir} within ${ms} ms`);
}

/** Live processes whose command line names `dir` (any server's, any program). */
function processesNaming(dir: string): { pid: number; name: string; args: string[] }[] {
  return allPids().flatMap((pid) => {
    const args = commandLine(pid);
    if (!args?.some((a) => a.includes(dir))) return [];
    const stat = procStat(pid);
    if (stat === undefined || stat.state === 'Z') return [];
    return [{ pid, name: programName(pid) ?? '?', args }];
  });
}

// ---- Loopback traffic, to servers of this script.

interface Traffic {
  readonly captureFilter: string;
  readonly keylog: string;
  /** One round: three HTTP requests, a DNS query, one HTTPS request. */
  round(): Promise<void>;
  close(): Promise<void>;
}

async function startTraffic(work: string): Promise<Traffic> {
  const keylog = path.join(work, 'keylog.txt');
  writeFileSync(keylog, '');
  const plain = http.createServer((req, res) => res.end(`soak answer for ${req.url ?? ''}`));
  const secure = httpsServer(await makeCertificate(work), keylog, (req, res) => res.end('secret'));
  const web = await listen(plain, WEB_HOST, 80);
  const tls = await listen(secure, WEB_HOST, 443);
  const dns = await dnsServer(DNS_HOST, 53, '10.20.30.40').catch(() => dnsServer(DNS_HOST, 0, '10.20.30.40'));
  let n = 0;
  return {
    captureFilter: `host ${web.host} or host ${tls.host} or host ${DNS_HOST}`,
    keylog,
    async round() {
      for (const p of ['/a', '/b', '/c']) await httpGet(web.port, `${p}/${++n}`, web.host);
      await resolveA(DNS_HOST, dns.port, `soak${n}.sharkmcp.test`).catch(() => undefined);
      await httpsGet(tls.port, `/secret/${n}`, false, tls.host);
    },
    async close() {
      dns.socket.close();
      await close(plain);
      await close(secure);
    },
  };
}

// ---- Fault survival.

interface Cycle {
  readonly index: number;
  readonly serverPid: number;
  readonly dir: string;
  readonly dumpcap: { pid: number; started: string } | undefined;
  /** When the capture's own timeout has passed (and the grace for dumpcap to exit). */
  readonly checkAt: number;
  readonly aliveAtKill: { dumpcap: number; tshark: number };
  /** Processes naming the server's directory just after the kill. */
  readonly outliving: number;
  readonly analysisInFlight: boolean;
  readonly startFailure: string | undefined;
}

interface Orphan {
  readonly cycle: number;
  readonly pid: number;
  readonly name: string;
  readonly args: string[];
}

/** What of a killed server is still alive; each one found is killed, so that the run leaves nothing. */
function orphansOf(cycle: Cycle): Orphan[] {
  const found = new Map<number, Orphan>();
  if (cycle.dumpcap) {
    const stat = procStat(cycle.dumpcap.pid);
    if (stat && stat.state !== 'Z' && stat.started === cycle.dumpcap.started) {
      const pid = cycle.dumpcap.pid;
      found.set(pid, {
        cycle: cycle.index,
        pid,
        name: programName(pid) ?? '?',
        args: commandLine(pid) ?? [],
      });
    }
  }
  for (const p of processesNaming(cycle.dir)) found.set(p.pid, { cycle: cycle.index, ...p });
  for (const pid of found.keys()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // it ended meanwhile
    }
  }
  return [...found.values()];
}

/** Entries of the capture directory other than `own` (the live server's directory). */
function straysBesides(runDir: string, own: string | undefined): string[] {
  return readdirSync(runDir).filter((name) => own === undefined || path.join(runDir, name) !== own);
}

async function faultCycle(index: number, runDir: string, work: string, traffic: Traffic, strays: string[]) {
  const server = await startServer(runDir, work);
  const dir = await runtimeDirOf(runDir, server.pid);
  strays.push(...straysBesides(runDir, dir).map((s) => `before cycle ${index}: ${s}`));
  const started = await call(server, 'start_capture_session', {
    interface: 'lo',
    captureFilter: traffic.captureFilter,
    timeout: CAPTURE_TIMEOUT_S,
    sessionName: `soak-${index}`,
  });
  const startedAt = performance.now();
  const pid = started.structured?.['pid'];
  const stat = typeof pid === 'number' ? procStat(pid) : undefined;
  const dumpcap = typeof pid === 'number' && stat ? { pid, started: stat.started } : undefined;
  const startFailure = started.isError ? (started.failure ?? started.text) : undefined;
  await traffic.round();
  // Every other cycle, the kill also lands on an analysis of the running capture.
  const analysisInFlight = index % 2 === 1 && startFailure === undefined;
  if (analysisInFlight) {
    void call(server, 'inspect_protocol', { source: `soak-${index}`, kind: 'http' });
    // Until its tshark runs (its argument check, or the digest itself).
    for (const until = performance.now() + 3_000; performance.now() < until; await delay(10))
      if (childPids(server.pid).some((p) => programName(p) === 'tshark')) break;
  }
  await delay(Math.random() * 200);
  const names = processTree(server.pid);
  const aliveAtKill = { dumpcap: 0, tshark: 0 };
  for (const p of names.keys()) {
    const name = programName(p);
    if (name === 'dumpcap' || name === 'tshark') aliveAtKill[name]++;
  }
  process.kill(server.pid, 'SIGKILL');
  await gone(server.pid);
  await server.client.close().catch(() => undefined);
  // What outlives the server for now (dumpcap until its timeout): the same search as for orphans.
  const outliving = processesNaming(dir).length;
  return {
    index,
    serverPid: server.pid,
    dir,
    dumpcap,
    checkAt: startedAt + CAPTURE_TIMEOUT_S * 1000 + EXIT_GRACE_MS,
    aliveAtKill,
    outliving,
    analysisInFlight,
    startFailure,
  } satisfies Cycle;
}

async function faults(runDir: string, work: string, traffic: Traffic): Promise<boolean> {
  say(`Fault survival: ${CYCLES} cycles, capture timeout ${CAPTURE_TIMEOUT_S} s, captures in ${runDir}`);
  const t0 = performance.now();
  const cycles: Cycle[] = [];
  const strays: string[] = [];
  const orphans: Orphan[] = [];
  const checks: Promise<void>[] = [];
  for (let i = 1; i <= CYCLES; i++) {
    const cycle = await faultCycle(i, runDir, work, traffic, strays);
    cycles.push(cycle);
    if (cycle.startFailure !== undefined)
      say(`  cycle ${i}: the capture did not start: ${cycle.startFailure}`);
    checks.push(
      delay(Math.max(0, cycle.checkAt - performance.now())).then(
        () => void orphans.push(...orphansOf(cycle)),
      ),
    );
    if (i % 10 === 0 || i === CYCLES) say(`  ${i} cycles, ${seconds(performance.now() - t0)}`);
  }
  // One more server sweeps the last one's directory; closed normally, it removes its own.
  const last = await startServer(runDir, work);
  const lastDir = await runtimeDirOf(runDir, last.pid);
  strays.push(...straysBesides(runDir, lastDir).map((s) => `after the last cycle: ${s}`));
  await last.client.close();
  if (!(await gone(last.pid))) say(`  the last server (pid ${last.pid}) did not exit after its stdin closed`);
  await Promise.all(checks);
  strays.push(...straysBesides(runDir, undefined).map((s) => `after the last server closed: ${s}`));
  const elapsed = performance.now() - t0;

  const failedStarts = cycles.filter((c) => c.startFailure !== undefined).length;
  const withDumpcap = cycles.filter((c) => c.aliveAtKill.dumpcap > 0).length;
  const withTshark = cycles.filter((c) => c.aliveAtKill.tshark > 0).length;
  say('');
  say('Fault survival');
  say(
    `  cycles                     ${cycles.length} in ${seconds(elapsed)} (capture timeout ${CAPTURE_TIMEOUT_S} s)`,
  );
  say(`  captures that failed       ${failedStarts}`);
  say(`  killed mid-capture with    dumpcap running in ${withDumpcap}, tshark running in ${withTshark}`);
  say(
    `  just after the kill        ${cycles.reduce((n, c) => n + c.outliving, 0)} processes still ran, in ${cycles.filter((c) => c.outliving > 0).length} cycles (dumpcap ends at its timeout)`,
  );
  say(`  orphans after the timeout  ${orphans.length}`);
  for (const o of orphans.slice(0, 10)) say(`    cycle ${o.cycle}: ${o.name} ${o.pid}: ${o.args.join(' ')}`);
  say(`  stray files                ${strays.length}`);
  for (const s of strays.slice(0, 10)) say(`    ${s}`);
  return failedStarts === 0 && orphans.length === 0 && strays.length === 0;
}

// ---- Load.

interface Planned {
  readonly name: string;
  readonly args: Record<string, unknown>;
  /** The call must be refused (isError); any other call must not be. */
  readonly fails?: boolean;
}

function loadPlan(sessions: readonly string[], keylog: string, n: number): Planned[] {
  const s = (i: number): string => sessions[i % sessions.length] ?? '';
  const onSessions = (i: number): Planned[] => [
    { name: 'analyze_pcap_file', args: { source: s(i), displayFilter: 'http.request' } },
    { name: 'summarize_capture', args: { source: s(i + 1) } },
    { name: 'inspect_protocol', args: { source: s(i + 2), kind: 'http' } },
    { name: 'inspect_protocol', args: { source: s(i + 3), kind: 'dns' } },
    { name: 'inspect_protocol', args: { source: s(i + 4), kind: 'tls', sslKeylogFile: keylog } },
    { name: 'inspect_protocol', args: { source: s(i + 5), kind: 'tcp_health' } },
    { name: 'follow_stream', args: { source: s(i + 6), protocol: 'tcp', stream: 0 } },
    { name: 'get_packet_details', args: { source: s(i + 7), frames: '1-3' } },
    { name: 'compare_captures', args: { baseline: s(i), candidate: s(i + 1) } },
    { name: 'list_capture_sessions', args: {} },
    { name: 'list_interfaces', args: {} },
    {
      name: 'analyze_pcap_file',
      args: {
        source: s(i + 2),
        outputFormat: 'fields',
        customFields: 'ip.src,http.host',
        displayFilter: 'http',
      },
    },
    { name: 'analyze_pcap_file', args: { source: s(i + 3), displayFilter: 'http.request ==' }, fails: true },
    { name: 'follow_stream', args: { source: 'no_such_session' }, fails: true },
  ];
  const corpus = (relative: string): string | undefined => {
    const file = path.join(CORPUS, relative);
    return existsSync(file) ? file : undefined;
  };
  const google = corpus('chrissanders-packets/http_google.pcapng');
  const handshake = corpus('chrissanders-packets/tcp_handshake.pcapng');
  const refused = corpus('chrissanders-packets/tcp_refuseconnection.pcapng');
  const tls13 = corpus('illustrated-tls13/captures/capture.pcap');
  const tls13Keys = corpus('illustrated-tls13/captures/keylog.txt');
  const mixed = corpus('FoxIO-LLC-ja4/pcap/latest.pcapng');
  const dns = corpus('chrissanders-packets/dns_query_response.pcapng');
  const sip = corpus('sipcapture-heplify/example/pcap/rtp_rtcp_sip_ipv4_udp.pcap');
  const onCorpus: Planned[] = [
    ...(google ? [{ name: 'analyze_pcap_file', args: { filePath: google } }] : []),
    ...(mixed ? [{ name: 'summarize_capture', args: { source: mixed } }] : []),
    ...(dns ? [{ name: 'inspect_protocol', args: { source: dns, kind: 'dns' } }] : []),
    ...(tls13 && tls13Keys
      ? [{ name: 'inspect_protocol', args: { source: tls13, kind: 'tls', sslKeylogFile: tls13Keys } }]
      : []),
    ...(sip ? [{ name: 'inspect_protocol', args: { source: sip, kind: 'voip' } }] : []),
    ...(google ? [{ name: 'follow_stream', args: { source: google, protocol: 'tcp', stream: 0 } }] : []),
    ...(handshake ? [{ name: 'get_packet_details', args: { source: handshake, frames: '1-3' } }] : []),
    ...(handshake && refused
      ? [{ name: 'compare_captures', args: { baseline: handshake, candidate: refused } }]
      : []),
  ];
  // Every kind of call once before any comes again, so that a short run still covers them all.
  const plan: Planned[] = [];
  for (let round = 0; plan.length < n; round++) {
    const own = onSessions(round);
    for (let k = 0; k < Math.max(own.length, onCorpus.length) && plan.length < n; k++) {
      const a = own[k];
      const b = onCorpus[k];
      if (a) plan.push(a);
      if (b && plan.length < n) plan.push(b);
    }
  }
  return plan;
}

interface Peaks {
  tshark: number;
  analysis: number;
  serverRss: number;
  treeRss: number;
  samples: number;
}

/** Samples the server's children and memory every SAMPLE_MS until stop(). */
function sampleServer(pid: number): { stop(): Peaks } {
  const peaks: Peaks = { tshark: 0, analysis: 0, serverRss: 0, treeRss: 0, samples: 0 };
  let tree: number[] = [];
  const timer = setInterval(() => {
    let tshark = 0;
    let analysis = 0;
    for (const child of childPids(pid)) {
      const name = programName(child) ?? '';
      if (name === 'tshark') tshark++;
      if (ANALYSIS_TOOLS.has(name)) analysis++;
    }
    if (peaks.samples % TREE_EVERY === 0) tree = [...processTree(pid).keys()];
    peaks.samples++;
    peaks.tshark = Math.max(peaks.tshark, tshark);
    peaks.analysis = Math.max(peaks.analysis, analysis);
    peaks.serverRss = Math.max(peaks.serverRss, residentBytes(pid) ?? 0);
    peaks.treeRss = Math.max(
      peaks.treeRss,
      tree.reduce((sum, p) => sum + (residentBytes(p) ?? 0), 0),
    );
  }, SAMPLE_MS);
  return {
    stop: () => {
      clearInterval(timer);
      return peaks;
    },
  };
}

const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;

async function load(runDir: string, work: string, traffic: Traffic): Promise<boolean> {
  say('');
  say(`Load: ${LOAD_SESSIONS} capture sessions, ${CALLS} calls at once`);
  const server = await startServer(runDir, work, {
    SHARKMCP_MAX_SESSIONS: String(LOAD_SESSIONS),
    ...(MAX_TSHARK === undefined ? {} : { SHARKMCP_MAX_TSHARK: String(MAX_TSHARK) }),
  });
  let ok: boolean;
  let exited: boolean;
  try {
    let cap: number | undefined;
    for (
      const until = performance.now() + 15_000;
      cap === undefined && performance.now() < until;
      await delay(50)
    ) {
      const m = /at most (\d+) Wireshark analysis processes at once/.exec(server.stderr());
      if (m) cap = Number(m[1]);
    }
    if (cap === undefined) throw new Error(`The server did not say its cap:\n${server.stderr()}`);
    const sessions: string[] = [];
    for (let i = 1; i <= LOAD_SESSIONS; i++) {
      const started = await call(server, 'start_capture_session', {
        interface: 'lo',
        captureFilter: traffic.captureFilter,
        timeout: 900,
        sessionName: `load-${i}`,
      });
      if (started.isError) throw new Error(`start_capture_session: ${started.failure ?? started.text}`);
      sessions.push(`load-${i}`);
    }
    for (let i = 0; i < 3; i++) await traffic.round();
    // Until every session's capture holds the traffic so far (dumpcap reports what it wrote).
    for (const until = performance.now() + 20_000; performance.now() < until; await delay(200)) {
      const listed = await call(server, 'list_capture_sessions', {});
      const counts = ((listed.structured?.['sessions'] ?? []) as { packets: number }[]).map((v) => v.packets);
      if (counts.length === LOAD_SESSIONS && counts.every((c) => c >= 40)) break;
    }
    // The captures keep growing while they are read.
    let background = true;
    const more = (async () => {
      while (background) {
        await traffic.round().catch(() => undefined);
        await delay(500);
      }
    })();

    const plan = loadPlan(sessions, traffic.keylog, CALLS);
    const loadBefore = os.loadavg()[0] ?? 0;
    const sampler = sampleServer(server.pid);
    const t0 = performance.now();
    const answers = await Promise.all(plan.map((p) => call(server, p.name, p.args)));
    const elapsed = performance.now() - t0;
    const peaks = sampler.stop();
    const loadAfter = os.loadavg()[0] ?? 0;
    background = false;
    await more;

    const failures = answers.flatMap((a, i) => {
      const planned = plan[i];
      if (!planned) return [];
      const wrong = a.failure !== undefined || a.isError !== (planned.fails === true);
      if (!wrong) return [];
      const why = a.failure ?? (a.isError ? a.text : 'answered, but was meant to fail');
      return [`${planned.name} ${JSON.stringify(planned.args)}: ${why.slice(0, 300)}`];
    });
    const latencies = answers.map((a) => a.ms).sort((x, y) => x - y);
    const waited = answers.filter((a) => a.waitedBehind !== undefined);
    const tools = new Set(plan.map((p) => p.name));
    say('');
    say('Load');
    say(
      `  calls                      ${answers.length} at once over ${tools.size} tools, all answered in ${seconds(elapsed)}`,
    );
    say(`  failures                   ${failures.length} (2 kinds of call are meant to fail and must)`);
    for (const f of failures.slice(0, 10)) say(`    ${f}`);
    say(
      `  latency                    p50 ${seconds(percentile(latencies, 50))}, p95 ${seconds(percentile(latencies, 95))}, max ${seconds(latencies.at(-1) ?? 0)}`,
    );
    say(
      `  tshark at once             peak ${peaks.tshark} (all Wireshark analysis processes: ${peaks.analysis}); cap ${cap}`,
    );
    say(
      `  told to wait for a slot    ${waited.length} calls, at most ${Math.max(0, ...waited.map((a) => a.waitedBehind ?? 0))} calls ahead`,
    );
    say(
      `  peak memory                server ${mb(peaks.serverRss)}, whole tree ${mb(peaks.treeRss)} (with ${LOAD_SESSIONS} dumpcaps)`,
    );
    say(
      `  machine                    ${os.availableParallelism()} cores, load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after; ${peaks.samples} samples`,
    );
    ok = failures.length === 0 && peaks.analysis <= cap && peaks.tshark <= cap;
  } finally {
    // Closed normally, the server stops its captures and removes its directory.
    await server.client.close();
    exited = await gone(server.pid);
    if (!exited) say(`  the server (pid ${server.pid}) did not exit after its stdin closed`);
  }
  const left = processesNaming(runDir);
  const strays = straysBesides(runDir, undefined);
  say(`  after it closed            ${left.length} processes and ${strays.length} files left`);
  for (const p of left) process.kill(p.pid, 'SIGKILL');
  return ok && exited && left.length === 0 && strays.length === 0;
}

// ---- The run.

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: npm run build first.`);
const root = await mkdtemp(path.join(os.tmpdir(), 'sharkmcp-soak-'));
const runDir = path.join(root, 'captures');
const work = path.join(root, 'work');
await mkdir(runDir);
await mkdir(work);
const traffic = await startTraffic(work);
const t0 = performance.now();
let ok = true;
try {
  if (opts.only !== 'load') ok = (await faults(runDir, work, traffic)) && ok;
  if (opts.only !== 'faults') ok = (await load(runDir, work, traffic)) && ok;
} finally {
  await traffic.close();
  await rm(root, { recursive: true, force: true });
}
say('');
say(`${ok ? 'PASS' : 'FAIL'} in ${seconds(performance.now() - t0)}`);
process.exitCode = ok ? 0 : 1;
