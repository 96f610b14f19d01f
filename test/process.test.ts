// The child-process runner with real programs: argument arrays reach the program untouched (no
// shell), a consumer can stop the output, time limits and aborts end the process, a process that
// ignores SIGTERM is killed, and closing the group leaves nothing alive.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { isProcessAlive } from '../src/util/pid.js';
import { after, describe, it } from 'node:test';
import { ProcessGroup, SpawnError } from '../src/wireshark/process.js';
import { tempDir } from './helpers/loopback-capture.js';

const node = process.execPath;

describe('ProcessGroup', () => {
  const group = new ProcessGroup();
  let dir = '';
  after(async () => {
    await group.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('passes hostile arguments to the program as they are, with no shell', async () => {
    dir = await tempDir();
    const canary = path.join(dir, 'canary');
    const hostile = [`$(touch ${canary})`, `\`touch ${canary}\``, `; touch ${canary}`, `"'\n--help`];
    let out = '';
    const result = await group.run({
      command: node,
      args: ['-e', 'process.stdout.write(JSON.stringify(process.argv.slice(1)))', ...hostile],
      timeoutMs: 10_000,
      onStdout: (c) => {
        out += c.toString();
        return 'continue';
      },
    });
    assert.equal(result.exitCode, 0);
    assert.deepEqual(JSON.parse(out), hostile);
    assert.equal(existsSync(canary), false);
  });

  it('stops a program once the consumer has what it needs', async () => {
    let chunks = 0;
    const result = await group.run({
      command: node,
      args: ['-e', 'setInterval(() => process.stdout.write("x".repeat(1000) + "\\n"), 1)'],
      timeoutMs: 20_000,
      onStdout: () => (++chunks >= 3 ? 'stop' : 'continue'),
    });
    assert.equal(result.stoppedEarly, true);
    assert.equal(result.timedOut, false);
    assert.ok(result.durationMs < 10_000);
    assert.equal(group.size, 0);
  });

  it('ends a program that runs past its time limit', async () => {
    const result = await group.run({
      command: node,
      args: ['-e', 'setTimeout(() => {}, 60000)'],
      timeoutMs: 300,
    });
    assert.equal(result.timedOut, true);
    assert.equal(result.exitSignal, 'SIGTERM');
  });

  it('kills a program that ignores SIGTERM after the grace period', async () => {
    const result = await group.run({
      command: node,
      args: ['-e', 'process.on("SIGTERM", () => {}); setInterval(() => {}, 1000); console.log("ready")'],
      timeoutMs: 60_000,
      killGraceMs: 200,
      onStdout: () => 'stop',
    });
    assert.equal(result.exitSignal, 'SIGKILL');
  });

  it('ends the program when the request is aborted', async () => {
    const controller = new AbortController();
    const running = group.run({
      command: node,
      args: ['-e', 'setInterval(() => {}, 1000); console.log("up")'],
      timeoutMs: 60_000,
      signal: controller.signal,
      onStdout: () => {
        controller.abort();
        return 'continue';
      },
    });
    const result = await running;
    assert.equal(result.aborted, true);
    assert.equal(group.size, 0);
  });

  it('keeps a bounded stderr', async () => {
    const result = await group.run({
      command: node,
      args: ['-e', 'process.stderr.write("e".repeat(100000))'],
      timeoutMs: 10_000,
      maxStderrBytes: 1000,
    });
    assert.equal(result.stderr.length, 1000);
  });

  it('says clearly when a program does not exist', async () => {
    await assert.rejects(
      group.run({ command: '/nonexistent/tshark', args: [], timeoutMs: 1000 }),
      (err: unknown) => err instanceof SpawnError && /was not found/.test(err.message),
    );
  });

  it('close() ends every live child and refuses new ones', async () => {
    const own = new ProcessGroup();
    const handles = [1, 2, 3].map(() =>
      own.start({ command: node, args: ['-e', 'setInterval(() => {}, 1000)'], timeoutMs: 60_000 }),
    );
    const pids = handles.map((h) => h.pid).filter((p): p is number => p !== undefined);
    assert.equal(pids.length, 3);
    await own.close(500);
    for (const pid of pids) assert.equal(isProcessAlive(pid), false, `pid ${pid} still alive`);
    await assert.rejects(own.run({ command: node, args: ['-e', '0'], timeoutMs: 1000 }), /shutting down/);
  });
});
