// Background capture sessions through a real MCP client, on loopback with traffic the tests make.
// Expected values come from tshark and capinfos run directly on a copy of the capture.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { isProcessAlive } from '../src/util/pid.js';
import { startMixedTraffic } from './helpers/fixtures.js';
import { requireCapture, tempDir } from './helpers/loopback-capture.js';
import { useServer } from './helpers/in-process.js';
import { connect, resultBody } from './helpers/mcp-client.js';
import type { Session } from './helpers/mcp-client.js';
import { close, freeUdpPort, httpGet, listen } from './helpers/traffic.js';
import { tsharkFields } from './helpers/tshark.js';

const run = promisify(execFile);

interface View {
  id: string;
  phase: string;
  packets: number;
  bytes: number;
  reason: string | null;
  file: string;
  pid: number | null;
}

async function start(mcp: Session, args: Record<string, unknown>): Promise<View> {
  const answer = await mcp.call('start_capture_session', args);
  assert.equal(answer.isError, false, answer.text);
  const id = /\nSession ID: (\S+)\n/.exec(answer.text)?.[1];
  const view = answer.structured as unknown as View;
  assert.equal(id, view.id, 'the seed\'s "Session ID:" line names the session');
  return view;
}

async function sessions(mcp: Session): Promise<View[]> {
  return (await mcp.call('list_capture_sessions', {})).structured?.['sessions'] as View[];
}

async function waitUntilStopped(mcp: Session, id: string, ms: number): Promise<View> {
  const end = Date.now() + ms;
  for (;;) {
    const view = (await sessions(mcp)).find((s) => s.id === id);
    assert.ok(view, `session ${id} is listed`);
    if (view.phase !== 'running') return view;
    if (Date.now() > end) throw new Error(`session ${id} still running after ${ms} ms`);
    await delay(100);
  }
}

async function capinfosCount(file: string): Promise<number> {
  const { stdout } = await run('capinfos', ['-M', '-T', '-r', '-c', file]);
  return Number(stdout.trim().split('\t').at(-1));
}

async function sendDatagrams(port: number, count: number): Promise<void> {
  const socket = dgram.createSocket('udp4');
  try {
    for (let i = 0; i < count; i++) {
      await new Promise<void>((resolve, reject) =>
        socket.send(`d${i}`, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
      );
    }
  } finally {
    socket.close();
  }
}

describe('capture sessions', () => {
  const server = useServer();

  it('records HTTP, DNS and TLS made right after start returns, and decrypts the TLS', async (t) => {
    if (!(await requireCapture(t))) return;
    const traffic = await startMixedTraffic(server.dir);
    try {
      const session = await start(server.mcp, { captureFilter: traffic.captureFilter, timeout: 60 });
      await traffic.run();
      const keep = path.join(server.dir, 'mixed-copy.pcapng');
      const http = await server.mcp.call('stop_capture_session', {
        sessionId: session.id,
        displayFilter: 'http.request',
        saveTo: keep,
      });
      assert.equal(http.isError, false, http.text);
      assert.match(
        http.text,
        new RegExp(`^Capture session '${session.id}' completed!\\nInterface: lo\\nDuration: [\\d.]+s\\n`),
      );
      assert.match(http.text, /\(stopped on request\)/);
      const lines = resultBody(http.text).split('\n');
      traffic.httpPaths.forEach((p, i) => assert.match(lines[i] ?? '', new RegExp(`GET ${p} HTTP/1\\.1`)));

      const total = await capinfosCount(keep);
      assert.ok(total >= traffic.minPackets, `${total} packets`);
      assert.match(http.text, new RegExp(`Captured: ${total} packets`));

      const dns = await server.mcp.call('stop_capture_session', {
        sessionId: session.id,
        displayFilter: 'dns.flags.response == 1',
        outputFormat: 'fields',
        customFields: 'dns.qry.name,dns.a',
      });
      assert.equal(resultBody(dns.text), `${traffic.dnsName}\t${traffic.dnsAnswer}`);

      const tls = await server.mcp.call('stop_capture_session', {
        sessionId: session.id,
        displayFilter: `tcp.port == ${traffic.tlsPort} && http`,
        sslKeylogFile: traffic.keylog,
      });
      assert.match(resultBody(tls.text), /GET \/hidden\/path\?token=42 HTTP\/1\.1/);
      const expected = await tsharkFields(keep, ['frame.number'], {
        filter: `tcp.port == ${traffic.tlsPort} && http`,
        keylog: traffic.keylog,
      });
      assert.equal(resultBody(tls.text).split('\n').length, expected.length);
    } finally {
      await traffic.close();
    }
  });

  it('keeps the packets of other ports out with a captureFilter', async (t) => {
    if (!(await requireCapture(t))) return;
    const wanted = http.createServer((_q, r) => r.end('wanted'));
    const other = http.createServer((_q, r) => r.end('other'));
    const { host, port: wantedPort } = await listen(wanted, '127.83.77.11', 80);
    const { port: otherPort } = await listen(other, host, 8080);
    try {
      const session = await start(server.mcp, { captureFilter: `tcp port ${wantedPort}` });
      await httpGet(otherPort, '/other', host);
      await httpGet(wantedPort, '/wanted', host);
      await httpGet(otherPort, '/other-again', host);
      const keep = path.join(server.dir, 'filtered.pcapng');
      const answer = await server.mcp.call('stop_capture_session', { sessionId: session.id, saveTo: keep });
      assert.equal(answer.isError, false, answer.text);
      const ports = await tsharkFields(keep, ['tcp.srcport', 'tcp.dstport']);
      assert.ok(ports.length > 0);
      for (const [src, dst] of ports)
        assert.ok(src === String(wantedPort) || dst === String(wantedPort), `${src} → ${dst}`);
      assert.doesNotMatch(answer.text, /other/);
      assert.match(answer.text, /GET \/wanted/);
    } finally {
      await close(wanted);
      await close(other);
    }
  });

  it('stops by itself at its timeout', async (t) => {
    if (!(await requireCapture(t))) return;
    const session = await start(server.mcp, { captureFilter: 'udp port 9', timeout: 1 });
    const view = await waitUntilStopped(server.mcp, session.id, 8_000);
    assert.equal(view.phase, 'finished');
    assert.equal(view.reason, 'timeout');
    assert.equal(view.pid, null);
    const answer = await server.mcp.call('stop_capture_session', { sessionId: session.id });
    assert.match(answer.text, /\(timeout reached\)/);
    assert.match(answer.text, /The capture file holds 0 packets/);
  });

  it('stops by itself at maxPackets, with exactly that many packets', async (t) => {
    if (!(await requireCapture(t))) return;
    const port = await freeUdpPort();
    const session = await start(server.mcp, {
      captureFilter: `udp port ${port}`,
      maxPackets: 5,
      timeout: 60,
    });
    await sendDatagrams(port, 20);
    const view = await waitUntilStopped(server.mcp, session.id, 8_000);
    assert.equal(view.reason, 'packetLimit');
    assert.equal(view.packets, 5);
    const keep = path.join(server.dir, 'five.pcapng');
    const answer = await server.mcp.call('stop_capture_session', { sessionId: session.id, saveTo: keep });
    assert.match(answer.text, /Captured: 5 packets, .* \(packet limit reached\)/);
    assert.equal(await capinfosCount(keep), 5);
  });

  it('lists a running session with live figures', async (t) => {
    if (!(await requireCapture(t))) return;
    const port = await freeUdpPort();
    const session = await start(server.mcp, { captureFilter: `udp port ${port}`, sessionName: 'live-one' });
    try {
      assert.equal(session.id, 'live-one');
      await sendDatagrams(port, 10);
      const end = Date.now() + 5_000;
      let view: View | undefined;
      while (Date.now() < end) {
        view = (await sessions(server.mcp)).find((s) => s.id === 'live-one');
        if (view && view.packets >= 10) break;
        await delay(100);
      }
      assert.equal(view?.phase, 'running');
      assert.equal(view?.packets, 10);
      assert.ok((view?.bytes ?? 0) > 0);
      assert.ok(view?.pid !== null && isProcessAlive(view?.pid ?? 0));
      const listing = await server.mcp.call('list_capture_sessions', {});
      assert.match(listing.text, /• live-one: running for [\d.]+s/);
      assert.match(listing.text, /10 packets, .* so far/);

      const duplicate = await server.mcp.call('start_capture_session', { sessionName: 'live-one' });
      assert.equal(duplicate.isError, true);
      assert.match(duplicate.text, /Session 'live-one' already exists \(running\)/);

      const deleted = await server.mcp.call('delete_capture_session', { sessionId: 'live-one' });
      assert.equal(deleted.isError, false, deleted.text);
      assert.equal(existsSync(session.file), false, 'the capture file is removed');
      assert.equal(isProcessAlive(session.pid ?? 0), false, 'its dumpcap is gone');
    } finally {
      // Gone already when the test passed; one failure must not leave a running session to the next.
      await server.mcp.call('delete_capture_session', { sessionId: 'live-one' });
    }
  });

  it("gives dumpcap's reason for a bad filter or interface, and lists the sessions for an unknown id", async (t) => {
    if (!(await requireCapture(t))) return;
    const bad = await server.mcp.call('start_capture_session', { captureFilter: 'tcp portx 80' });
    assert.equal(bad.isError, true);
    assert.match(
      bad.text,
      /captureFilter "tcp portx 80" is not a valid capture \(BPF\) filter\. dumpcap says: .*syntax error/,
    );
    const nowhere = await server.mcp.call('start_capture_session', { interface: 'nosuch0' });
    assert.equal(nowhere.isError, true);
    assert.match(nowhere.text, /interface "nosuch0" is not a capture interface here/);
    assert.match(nowhere.text, /Capture interfaces here: .*lo \(loopback\).* call list_interfaces/);
    const keep = await start(server.mcp, { sessionName: 'kept', captureFilter: 'udp port 9' });
    try {
      const unknown = await server.mcp.call('stop_capture_session', { sessionId: 'nope' });
      assert.equal(unknown.isError, true);
      assert.match(unknown.text, /No session with ID 'nope'\. Current sessions: .*kept/);
    } finally {
      await server.mcp.call('delete_capture_session', { sessionId: keep.id });
    }
  });

  it('refuses a fifth running session, and saveTo onto an existing file', async (t) => {
    if (!(await requireCapture(t))) return;
    const started: View[] = [];
    try {
      for (let i = 0; i < 4; i++) started.push(await start(server.mcp, { captureFilter: 'udp port 9' }));
      const fifth = await server.mcp.call('start_capture_session', { captureFilter: 'udp port 9' });
      assert.equal(fifth.isError, true);
      assert.match(
        fifth.text,
        /4 capture sessions already running .* Stop one with stop_capture_session first/,
      );
      const first = started[0];
      assert.ok(first);
      const target = path.join(server.dir, 'exists.pcapng');
      await server.mcp.call('stop_capture_session', { sessionId: first.id, saveTo: target });
      const again = await server.mcp.call('stop_capture_session', { sessionId: first.id, saveTo: target });
      assert.equal(again.isError, true);
      assert.match(again.text, /saveTo: ".*exists\.pcapng" already exists/);
    } finally {
      for (const s of started) await server.mcp.call('delete_capture_session', { sessionId: s.id });
    }
  });

  it("follows the seed's own integration flow: saved config, start, traffic, stop as JSON, count", async (t) => {
    if (!(await requireCapture(t))) return;
    const { tools } = await server.mcp.client.listTools();
    for (const name of [
      'start_capture_session',
      'stop_capture_session',
      'analyze_pcap_file',
      'manage_config',
    ]) {
      assert.ok(
        tools.some((tool) => tool.name === name),
        name,
      );
    }
    const target = http.createServer((_q, r) => r.end('seed'));
    const { port } = await listen(target);
    try {
      // The seed's integration_test configuration, on this machine's loopback and port.
      await server.mcp.call('manage_config', {
        action: 'save',
        name: 'integration_test',
        config: {
          description: 'Short capture for integration testing',
          captureFilter: `tcp port ${port}`,
          displayFilter: '',
          outputFormat: 'json',
          maxPackets: 100,
          timeout: 10,
          interface: 'lo0',
        },
      });
      const loaded = await server.mcp.call('manage_config', { action: 'load', name: 'integration_test' });
      assert.equal(loaded.isError, false, loaded.text);
      const session = await start(server.mcp, { configName: 'integration_test' });
      for (let i = 0; i < 3; i++) await httpGet(port, `/seed/${i}`);
      const keep = path.join(server.dir, 'seed.pcapng');
      const stop = await server.mcp.call('stop_capture_session', {
        sessionId: session.id,
        outputFormat: 'json',
        saveTo: keep,
        maxChars: 200_000,
        limit: 100,
      });
      assert.equal(stop.isError, false, stop.text);
      const packets = JSON.parse(resultBody(stop.text)) as unknown[];
      assert.equal(packets.length, await capinfosCount(keep));
      assert.ok(packets.length >= 3 * 8);
    } finally {
      await close(target);
    }
  });
});

describe('capture sessions within a small disk budget', () => {
  const server = useServer({ SHARKMCP_MAX_CAPTURE_MB: '5' });

  it('stops at the file size limit and refuses a capture once the budget is spent', async (t) => {
    if (!(await requireCapture(t))) return;
    const port = await freeUdpPort();
    const fill = async (maxFileMB: number): Promise<View> => {
      const session = await start(server.mcp, { captureFilter: `udp port ${port}`, maxFileMB, timeout: 60 });
      const socket = dgram.createSocket('udp4');
      const payload = Buffer.alloc(60_000, 7);
      try {
        for (
          let i = 0;
          i < 200 && (await sessions(server.mcp)).find((s) => s.id === session.id)?.phase === 'running';
          i++
        ) {
          await new Promise<void>((resolve, reject) =>
            socket.send(payload, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
          );
        }
      } finally {
        socket.close();
      }
      return waitUntilStopped(server.mcp, session.id, 8_000);
    };
    const first = await fill(3);
    assert.equal(first.reason, 'sizeLimit');
    assert.ok(first.bytes >= 2_900_000, `${first.bytes} bytes`);
    const second = await fill(3);
    assert.equal(second.reason, 'sizeLimit', 'the second session got what was left of the budget');
    assert.ok(second.bytes < 2_500_000, `${second.bytes} bytes`);
    const refused = await server.mcp.call('start_capture_session', { captureFilter: `udp port ${port}` });
    assert.equal(refused.isError, true);
    assert.match(refused.text, /Capture files already take .* of the 5\.0 MB allowed\. Delete sessions/);
  });
});

describe('capture sessions and the server process', () => {
  it('leaves no dumpcap behind when stdin closes', async (t) => {
    if (!(await requireCapture(t))) return;
    const mcp = await connect();
    // Closing is what this test does; should it fail before, the server is closed after it.
    t.after(() => mcp.close());
    const session = await start(mcp, { captureFilter: 'udp port 9', timeout: 600 });
    assert.ok(session.pid !== null && isProcessAlive(session.pid));
    await mcp.close();
    const end = Date.now() + 5_000;
    while (isProcessAlive(session.pid) && Date.now() < end) await delay(50);
    assert.equal(isProcessAlive(session.pid), false, `dumpcap ${session.pid} outlived the server`);
    assert.equal(existsSync(path.dirname(session.file)), false, "the server's private directory is removed");
  });

  it('after SIGKILL, dumpcap ends at its own timeout and the next server sweeps its files', async (t) => {
    if (!(await requireCapture(t))) return;
    // The servers' private directories in a temp directory of their own: a server that another
    // test file starts meanwhile would sweep the killed one's before this test could look.
    const tmp = await tempDir();
    const mcp = await connect({ TMPDIR: tmp });
    try {
      const session = await start(mcp, { captureFilter: 'udp port 9', timeout: 2 });
      assert.ok(mcp.pid !== null && session.pid !== null);
      process.kill(mcp.pid, 'SIGKILL');
      const end = Date.now() + 2_000 + 3_000;
      while (isProcessAlive(session.pid) && Date.now() < end) await delay(50);
      assert.equal(isProcessAlive(session.pid), false, 'dumpcap outlived its own timeout');
      const leftover = path.dirname(session.file);
      assert.equal(existsSync(leftover), true, 'a killed server cannot clean up after itself');
      const next = await connect({ TMPDIR: tmp });
      try {
        const swept = Date.now() + 5_000;
        while (existsSync(leftover) && Date.now() < swept) await delay(50);
        assert.equal(existsSync(leftover), false, "the next server swept the dead one's directory");
      } finally {
        await next.close();
      }
    } finally {
      await mcp.close().catch(() => undefined);
      await rm(tmp, { recursive: true, force: true });
    }
  });

  it('turns "no permission to capture" into advice that names the fix', async (t) => {
    if (!(await requireCapture(t))) return;
    if (process.getuid?.() !== 0) return t.skip('needs root, to run the server as an unprivileged user');
    const mcp = await connect({}, ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']);
    try {
      const answer = await mcp.call('start_capture_session', { timeout: 5 });
      assert.equal(answer.isError, true, answer.text);
      assert.match(answer.text, /No permission to capture on "lo"/);
      assert.match(answer.text, /wireshark" group/);
      assert.match(answer.text, /setcap cap_net_raw,cap_net_admin=eip/);
    } finally {
      await mcp.close();
    }
  });
});
