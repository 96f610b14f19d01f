// Process attribution measured (issue 17): while a capture session runs through a real MCP client,
// two programs at once open 200 short connections on loopback (100 `curl` runs against an HTTP
// server, and a separate Node client making 100 TCP connections), each living 100 ms. Each
// connection, counted by a direct tshark query (its SYN), must be attributed to the program that
// made it: at least 95% right and none wrong. The figure is printed. Then summarize_capture shows
// conversations and bytes per process, on the session and on the copy saved with its sidecar.
// The same again while two busy loops keep the machine's cores loaded: the sampling must not
// fall behind when others take the CPU.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { Attribution, processFilter } from '../src/processes/attribution.js';
import type { SidecarContents } from '../src/processes/sidecar.js';
import { readSidecar, sidecarPath } from '../src/processes/sidecar.js';
import { SOCK_DIAG_HELPER } from '../src/processes/sock-diag.js';
import { requireCapture } from './helpers/loopback-capture.js';
import type { Session } from './helpers/mcp-client.js';
import { useServer } from './helpers/mcp-client.js';
import { close, listen } from './helpers/traffic.js';
import { tsharkFields } from './helpers/tshark.js';

/** This suite's loopback range: its servers, its clients' source addresses, its capture filter. */
const HTTP_HOST = '127.83.76.31';
const TCP_HOST = '127.83.76.32';
const CURL_SOURCE = '127.83.76.40';
const NODE_SOURCE = '127.83.76.41';
const CONNECTIONS = 100;
const AT_ONCE = 4;
/**
 * Each connection lives this long (ms). The socket watcher (the native helper, when built) samples
 * in its own process and catches one of 100 ms even on a loaded machine; Node polling /proc
 * itself (without the helper) has polls that come late when the machine is busy, and missed 110
 * ms ones up to 5.5% of the time with the whole suite running on 2 cores (measured): it gets the
 * margin, so that this test stays about attribution.
 */
const HOLD_MS = existsSync(SOCK_DIAG_HELPER) ? 100 : 150;

/** The separate Node client: CONNECTIONS connections to host:port from `source`, AT_ONCE at a time. */
const NODE_CLIENT = `
const net = require('node:net');
const [host, port, source, count, atOnce] = process.argv.slice(1);
let left = Number(count);
const one = () => new Promise((resolve, reject) => {
  const s = net.connect({ host, port: Number(port), localAddress: source });
  s.on('error', reject);
  s.on('close', resolve);
  s.resume();
});
const worker = async () => { while (left-- > 0) await one(); };
Promise.all(Array.from({ length: Number(atOnce) }, worker)).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
`;

function exited(child: ReturnType<typeof spawn>, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${what} exited with ${code}`))));
  });
}

/** CONNECTIONS runs of curl, AT_ONCE at a time; resolves with their pids. */
async function curlLoop(url: string): Promise<Set<number>> {
  const pids = new Set<number>();
  let left = CONNECTIONS;
  const worker = async (): Promise<void> => {
    while (left-- > 0) {
      const child = spawn(
        'curl',
        ['-s', '-o', '/dev/null', '--max-time', '10', '--interface', CURL_SOURCE, url],
        {
          stdio: 'ignore',
        },
      );
      if (child.pid !== undefined) pids.add(child.pid);
      await exited(child, 'curl');
    }
  };
  await Promise.all(Array.from({ length: AT_ONCE }, worker));
  return pids;
}

interface ProcessRow {
  pid: number;
  comm: string;
  conversations: number;
}

/** What one run of the two programs left: the tally of its connections, and who made them. */
interface TwoPrograms {
  readonly saved: string;
  readonly sessionFile: string;
  readonly sidecar: SidecarContents;
  readonly attribution: Attribution;
  readonly tally: Record<'curl' | 'node', { right: number; wrong: number; none: number }>;
  readonly total: number;
  readonly right: number;
  readonly serverSide: number;
  readonly nodePid: number | undefined;
  readonly curlPids: ReadonlySet<number>;
}

/**
 * Captures while the two programs make their connections, stops with a copy saved in `dir`, and
 * checks each connection's recorded owner against the program that made it (the tally), printing
 * the figure.
 */
async function twoPrograms(t: TestContext, mcp: Session, dir: string, name: string): Promise<TwoPrograms> {
  const web = http.createServer((_req, res) => setTimeout(() => res.end('ok'), HOLD_MS));
  const tcp = net.createServer((s) => {
    s.resume();
    setTimeout(() => s.end(), HOLD_MS);
  });
  const webAt = await listen(web, HTTP_HOST);
  await new Promise<void>((resolve) => tcp.listen(0, TCP_HOST, resolve));
  const tcpPort = (tcp.address() as net.AddressInfo).port;
  assert.equal(webAt.host, HTTP_HOST, 'the HTTP server listens in this suite range');
  const saved = path.join(dir, `${name}.pcapng`);
  let sessionFile: string;
  let nodePid: number | undefined;
  let curlPids: Set<number>;
  try {
    const started = await mcp.call('start_capture_session', {
      interface: 'lo',
      // Its two servers only: other tests of this range run alongside.
      captureFilter: `host ${HTTP_HOST} or host ${TCP_HOST}`,
      timeout: 120,
      sessionName: name,
    });
    assert.equal(started.isError, false, started.text);
    sessionFile = (started.structured as { file: string }).file;
    const nodeClient = spawn(
      process.execPath,
      ['-e', NODE_CLIENT, TCP_HOST, String(tcpPort), NODE_SOURCE, String(CONNECTIONS), String(AT_ONCE)],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    nodePid = nodeClient.pid;
    [curlPids] = await Promise.all([
      curlLoop(`http://${HTTP_HOST}:${webAt.port}/`),
      exited(nodeClient, 'the Node client'),
    ]);
    await delay(200); // the last closes reach the capture
    const stopped = await mcp.call('stop_capture_session', { sessionId: name, saveTo: saved });
    assert.equal(stopped.isError, false, stopped.text);
    assert.ok(existsSync(sidecarPath(saved)), 'the sidecar is saved beside the copy');
  } finally {
    await close(web);
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
  }

  // Connections, counted independently: one SYN (without ACK) per stream.
  const syns = await tsharkFields(saved, ['tcp.stream', 'ip.src', 'tcp.srcport', 'ip.dst', 'tcp.dstport'], {
    filter: 'tcp.flags.syn==1 && tcp.flags.ack==0',
  });
  const times = new Map<string, [number, number]>();
  for (const [stream = '', time = ''] of await tsharkFields(saved, ['tcp.stream', 'frame.time_epoch'])) {
    const ms = Number(time) * 1000;
    const span = times.get(stream);
    times.set(stream, span ? [Math.min(span[0], ms), Math.max(span[1], ms)] : [ms, ms]);
  }
  const connections = [...new Map(syns.map((r) => [r[0], r])).values()];
  const sidecar = await readSidecar(saved);
  assert.ok(sidecar, 'the saved sidecar reads back');
  const attribution = new Attribution(sidecar);
  t.diagnostic(`sampler: ${JSON.stringify(sidecar.end)}`);
  const tally = { curl: { right: 0, wrong: 0, none: 0 }, node: { right: 0, wrong: 0, none: 0 } };
  let serverSide = 0;
  for (const [stream = '', src = '', sport = '', dst = '', dport = ''] of connections) {
    const [first, last] = times.get(stream) ?? [0, 0];
    const client = `${src}:${sport}`;
    const peer = `${dst}:${dport}`;
    const owner = attribution.ownerOf('tcp', client, peer, first, last);
    const kind = src === CURL_SOURCE ? 'curl' : src === NODE_SOURCE ? 'node' : undefined;
    assert.ok(kind, `connection from ${client} is one of the two programs'`);
    const right = kind === 'curl' ? owner !== undefined && curlPids.has(owner.pid) : owner?.pid === nodePid;
    if (right) tally[kind].right++;
    else if (owner === undefined) tally[kind].none++;
    else tally[kind].wrong++;
    if (attribution.ownerOf('tcp', peer, client, first, last)?.pid === process.pid) serverSide++;
  }
  const total = connections.length;
  const right = tally.curl.right + tally.node.right;
  t.diagnostic(
    `process attribution (${name}): ${right} of ${total} connections to the right program (${((100 * right) / total).toFixed(1)}%): curl ${JSON.stringify(tally.curl)}, node ${JSON.stringify(tally.node)}; server side ${serverSide} of ${total} to this test's pid; ${attribution.facts.sockets} sockets of ${attribution.facts.processes} processes recorded; sampling ${attribution.facts.cpuShare === undefined ? '?' : (attribution.facts.cpuShare * 100).toFixed(2)}% of one core (${sidecar.end?.tables === 'netlink' ? 'socket watcher' : 'Node polling /proc'})`,
  );
  assert.equal(total, 2 * CONNECTIONS, 'the capture holds every connection the two programs made');
  assert.ok(right >= 0.95 * total, `at least 95% attributed right, got ${right} of ${total}`);
  assert.equal(tally.curl.wrong + tally.node.wrong, 0, 'no connection attributed to the wrong program');
  return { saved, sessionFile, sidecar, attribution, tally, total, right, serverSide, nodePid, curlPids };
}

/** Busy loops, one a core (at least 2), until stopped. */
function busyLoops(): { stop: () => Promise<void> } {
  const loops: ChildProcess[] = [];
  for (let i = 0; i < 2; i++) loops.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  return {
    stop: async () => {
      await Promise.all(
        loops.map(
          (loop) =>
            new Promise((resolve) => {
              if (loop.exitCode !== null || loop.signalCode !== null) resolve(undefined);
              else {
                loop.once('close', resolve);
                loop.kill('SIGKILL');
              }
            }),
        ),
      );
    },
  };
}

describe('process attribution (Linux)', { skip: process.platform !== 'linux' && 'Linux only' }, () => {
  const server = useServer();

  it('attributes at least 95% of 200 connections of two programs to the right one, and none to the wrong one', async (t) => {
    if (!(await requireCapture(t))) return;
    const { mcp, dir } = server;
    const { saved, sessionFile, attribution, tally, serverSide, nodePid, curlPids } = await twoPrograms(
      t,
      mcp,
      dir,
      'two-programs',
    );
    // The display filter built for one process (the coming `process` parameter) selects exactly
    // the connections attributed to it, as tshark itself reads it.
    const nodeFilter = processFilter(attribution, (o) => o.pid === nodePid);
    assert.equal(nodeFilter.kind, 'filter');
    const selected = await tsharkFields(saved, ['ip.src'], {
      filter: `(${nodeFilter.filter}) && tcp.flags.syn==1 && tcp.flags.ack==0`,
    });
    assert.deepEqual(new Set(selected.map((r) => r[0])), new Set([NODE_SOURCE]));
    assert.equal(selected.length, tally.node.right);

    // What a user sees: conversations and bytes per process, on the session and on the saved copy.
    for (const source of ['two-programs', saved]) {
      const summary = await mcp.call('summarize_capture', { source, topN: 100 });
      assert.equal(summary.isError, false, summary.text);
      assert.match(summary.text, /Local processes by bytes .*process attribution on: sampled every \d+ ms/);
      const processes = summary.structured?.['processes'] as
        { rows: ProcessRow[]; total: number } | undefined;
      assert.ok(processes, `${source}: the summary has a processes section`);
      const known = new Set([process.pid, nodePid, ...curlPids]);
      assert.deepEqual(
        processes.rows.filter((r) => !known.has(r.pid)),
        [],
        'every process shown is one of the programs or the servers',
      );
      const nodeRow = processes.rows.find((r) => r.pid === nodePid);
      assert.equal(nodeRow?.comm, 'node');
      assert.equal(nodeRow.conversations, tally.node.right, "the Node client's conversations");
      const serverRow = processes.rows.find((r) => r.pid === process.pid);
      assert.equal(serverRow?.conversations, serverSide, "the servers' conversations");
      for (const r of processes.rows.filter((row) => curlPids.has(row.pid))) {
        assert.equal(r.comm, 'curl');
        assert.equal(r.conversations, 1, 'each curl run made one connection');
      }
      assert.equal(processes.total, 2 + tally.curl.right, 'every curl run with its connection is counted');
      assert.match(
        summary.text,
        new RegExp(
          `node\\[${nodePid}\\] ↔ node\\[${process.pid}\\]|node\\[${process.pid}\\] ↔ node\\[${nodePid}\\]|curl\\[\\d+\\] ↔ node\\[${process.pid}\\]`,
        ),
      );
    }
    // Deleting the session removes its sidecar with its file.
    const deleted = await mcp.call('delete_capture_session', { sessionId: 'two-programs' });
    assert.equal(deleted.isError, false, deleted.text);
    assert.equal(existsSync(sidecarPath(sessionFile)), false, 'the session sidecar went with the session');
  });

  it('still attributes at least 95%, none wrong, while busy loops keep every core loaded', async (t) => {
    if (!(await requireCapture(t))) return;
    const load = busyLoops();
    try {
      await twoPrograms(t, server.mcp, server.dir, 'two-programs-loaded');
    } finally {
      await load.stop();
    }
    const deleted = await server.mcp.call('delete_capture_session', { sessionId: 'two-programs-loaded' });
    assert.equal(deleted.isError, false, deleted.text);
  });
});
