// The interface a capture may use is one that list_interfaces lists, nothing else: not a FIFO, a
// socket or a file (dumpcap would read any of them), not "TCP@host:port" (dumpcap would connect
// there). The refusal is the same whether a path exists or not, and names the real interfaces.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { EMPTY_PCAP } from '../src/wireshark/tshark.js';
import { requireCapture, tempDir } from './helpers/loopback-capture.js';
import { connect } from './helpers/in-process.js';
import type { Session } from './helpers/mcp-client.js';
import { childPids } from './helpers/processes.js';

const run = promisify(execFile);

/** Each start was refused, for the same reason, and no process of it is left. */
function assertRefused(answer: { isError: boolean; text: string }, name: string): void {
  assert.equal(answer.isError, true, `interface ${JSON.stringify(name)} was accepted:\n${answer.text}`);
  assert.match(
    answer.text,
    new RegExp(`interface ${escape(JSON.stringify(name))} is not a capture interface`),
  );
  assert.match(answer.text, /Capture interfaces here: .*\blo\b/);
  assert.match(answer.text, /call list_interfaces/);
  assert.doesNotMatch(answer.text, /dumpcap says/, 'dumpcap was never asked');
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('capture interfaces', () => {
  let dir = '';
  let outside = '';
  let mcp: Session;
  before(async () => {
    dir = await tempDir();
    outside = path.join(dir, 'outside');
    await mkdir(path.join(dir, 'allowed'));
    await mkdir(outside);
    mcp = await connect({ SHARKMCP_ALLOWED_DIRS: path.join(dir, 'allowed') });
  });
  after(async () => {
    try {
      await mcp?.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  const noDumpcapLeft = (): void => {
    assert.ok(mcp.pid !== null);
    assert.deepEqual(childPids(mcp.pid, 'dumpcap'), [], 'a dumpcap is still running');
  };

  it('refuses a FIFO outside the roots, even with a writer feeding it a capture', async (t) => {
    if (!(await requireCapture(t))) return;
    const fifo = path.join(outside, 'feed');
    await run('mkfifo', [fifo]);
    // Read-write, so the open does not wait for a reader: dumpcap would find a pcap header waiting.
    const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    try {
      writeSync(fd, EMPTY_PCAP);
      const answer = await mcp.call('start_capture_session', { interface: fifo, timeout: 5 });
      assertRefused(answer, fifo);
      const listed = await mcp.call('list_capture_sessions', {});
      assert.match(listed.text, /No capture sessions/);
      noDumpcapLeft();
    } finally {
      closeSync(fd);
    }
  });

  it('never connects to "TCP@host:port" or to a Unix socket', async (t) => {
    if (!(await requireCapture(t))) return;
    let connections = 0;
    const tcp = net.createServer((s) => {
      connections++;
      s.destroy();
    });
    const unix = net.createServer((s) => {
      connections++;
      s.destroy();
    });
    const socketPath = path.join(outside, 'capture.sock');
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => unix.listen(socketPath, resolve));
    try {
      const port = (tcp.address() as net.AddressInfo).port;
      for (const name of [`TCP@127.0.0.1:${port}`, socketPath]) {
        assertRefused(await mcp.call('start_capture_session', { interface: name, timeout: 5 }), name);
      }
      await delay(300);
      assert.equal(connections, 0, 'dumpcap connected');
      noDumpcapLeft();
    } finally {
      await new Promise((resolve) => tcp.close(resolve));
      await new Promise((resolve) => unix.close(resolve));
    }
  });

  it('answers a path that exists exactly as one that does not', async (t) => {
    if (!(await requireCapture(t))) return;
    const answers: string[] = [];
    for (const name of ['/etc/passwd', '/etc/no-such-file-here', '/etc', 'nosuch0']) {
      const answer = await mcp.call('start_capture_session', { interface: name, timeout: 5 });
      assertRefused(answer, name);
      answers.push(answer.text.replace(JSON.stringify(name), '<name>'));
    }
    assert.equal(new Set(answers).size, 1, answers.join('\n---\n'));
  });

  it("takes a listed interface by name, by dumpcap's number, and lo0 as lo", async (t) => {
    if (!(await requireCapture(t))) return;
    const { stdout } = await run('dumpcap', ['-D']);
    const number = /^(\d+)\. lo\b/m.exec(stdout)?.[1];
    assert.ok(number, stdout);
    for (const name of ['lo', number, 'lo0']) {
      const answer = await mcp.call('start_capture_session', {
        interface: name,
        captureFilter: 'udp port 9',
      });
      assert.equal(answer.isError, false, `${name}: ${answer.text}`);
      assert.match(answer.text, /\nInterface: lo\n/);
      const id = /Session ID: (\S+)/.exec(answer.text)?.[1] ?? '';
      await mcp.call('delete_capture_session', { sessionId: id });
    }
  });
});
