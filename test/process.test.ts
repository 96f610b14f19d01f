// The child-process runner with real programs: argument arrays reach the program untouched (no
// shell), a consumer can stop the output, time limits and aborts end the process, a process that
// ignores SIGTERM is killed, and closing the group leaves nothing alive. The cap on processes at
// once: never passed, waiting runs served call by call, a cancelled one leaves the queue at once.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { isProcessAlive } from '../src/util/pid.js';
import { after, describe, it } from 'node:test';
import { ProcessGroup, SpawnError } from '../src/wireshark/process.js';
import type { RunOptions } from '../src/wireshark/process.js';
import { defaultProcessCap, describeWait } from '../src/wireshark/slots.js';
import type { WaitNotice } from '../src/wireshark/slots.js';
import { tempDir } from './helpers/loopback-capture.js';

const node = process.execPath;

/** Groups a test makes of its own: closed when this file ends, should a test fail before it does. */
const owned: ProcessGroup[] = [];
after(() => Promise.all(owned.map((g) => g.close())));
function ownGroup(maxProcesses: number): ProcessGroup {
  const own = new ProcessGroup({ maxProcesses });
  owned.push(own);
  return own;
}

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
    const own = ownGroup(3);
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

/** A program that runs until it is stopped. */
const forever = (extra: Partial<RunOptions> = {}): RunOptions => ({
  command: node,
  args: ['-e', 'setInterval(() => {}, 1000)'],
  timeoutMs: 60_000,
  ...extra,
});
/** A program that exits by itself after `ms`. */
const sleeper = (ms: number, extra: Partial<RunOptions> = {}): RunOptions => ({
  command: node,
  args: ['-e', `setTimeout(() => {}, ${ms})`],
  timeoutMs: 60_000,
  ...extra,
});
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('ProcessGroup cap on processes at once', () => {
  it('sizes its default by cores and memory, never below 2', () => {
    const GB = 2 ** 30;
    assert.equal(defaultProcessCap(2, 24 * GB), 4);
    assert.equal(defaultProcessCap(16, 8 * GB), 8);
    assert.equal(defaultProcessCap(1, 0.5 * GB), 2);
    assert.equal(
      describeWait({ ahead: 1, capacity: 2 }),
      'waiting for a tshark slot: 1 call ahead (2 of 2 slots in use)',
    );
  });

  it('never runs more than the cap; the rest wait and all run', async () => {
    const own = ownGroup(2);
    let most = 0;
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        own.run(sleeper(100, { onStart: () => (most = Math.max(most, own.size)) })),
      ),
    );
    assert.deepEqual(
      results.map((r) => r.exitCode),
      Array.from({ length: 8 }, () => 0),
    );
    assert.equal(most, 2);
    assert.equal(own.slots.inUse, 0);
    await own.close();
  });

  it('leaves dumpcap-like runs (limited: false) outside the cap', async () => {
    const own = ownGroup(1);
    const held = own.start(forever());
    const free = own.start(forever({ limited: false }));
    assert.notEqual(free.pid, undefined);
    assert.equal(own.size, 2);
    await Promise.all([held.stop(), free.stop()]);
    await own.close();
  });

  it("serves an earlier call's next step before a later call's first", async () => {
    const own = ownGroup(1);
    const holder = own.start(forever());
    const started: string[] = [];
    const toldB: number[] = [];
    let goA!: () => void;
    const gate = new Promise<void>((resolve) => (goA = resolve));
    const a = own.withinCall(undefined, async () => {
      await gate; // its first step is done; its next one comes after B has lined up
      return own.run(sleeper(0, { onStart: () => started.push('a') }));
    });
    const b = own.withinCall(
      (n: WaitNotice) => toldB.push(n.ahead),
      () => own.run(sleeper(0, { onStart: () => started.push('b') })),
    );
    await turn();
    goA();
    await turn();
    assert.equal(own.slots.queued, 2);
    await holder.stop();
    await Promise.all([a, b]);
    assert.deepEqual(started, ['a', 'b']);
    assert.deepEqual(toldB, [0, 1, 0], 'B heard: no call ahead, then A, then none once A had its turn');
    await own.close();
  });

  it('runs what a finished call left behind (a session settling) before the calls in line', async () => {
    const own = ownGroup(1);
    const holder = own.start(forever());
    const started: string[] = [];
    let endSession!: () => void;
    const sessionEnds = new Promise<void>((resolve) => (endSession = resolve));
    let leftover: Promise<unknown> | undefined;
    await own.withinCall(undefined, () => {
      // Registered during the call, run after it: as a session's end is, after start_capture_session.
      leftover = sessionEnds.then(() => own.run(sleeper(0, { onStart: () => started.push('leftover') })));
      return Promise.resolve();
    });
    const later = own.withinCall(undefined, () =>
      own.run(sleeper(0, { onStart: () => started.push('later call') })),
    );
    await turn();
    endSession();
    await turn();
    assert.equal(own.slots.queued, 2);
    await holder.stop();
    await Promise.all([leftover, later]);
    assert.deepEqual(started, ['leftover', 'later call']);
    await own.close();
  });

  it('takes a cancelled call out of the queue at once, and the calls behind move up', async () => {
    const own = ownGroup(1);
    const holder = own.start(forever());
    const cancel = new AbortController();
    let bStarted = false;
    const toldC: number[] = [];
    const b = own.withinCall(undefined, () =>
      own.run(sleeper(0, { signal: cancel.signal, onStart: () => (bStarted = true) })),
    );
    const c = own.withinCall(
      (n: WaitNotice) => toldC.push(n.ahead),
      () => own.run(sleeper(0)),
    );
    await turn();
    assert.equal(own.slots.queued, 2);
    cancel.abort();
    const cancelled = await b; // settles while the holder still holds the only slot
    assert.equal(cancelled.aborted, true);
    assert.equal(cancelled.exitCode, null);
    assert.equal(own.slots.queued, 1);
    assert.deepEqual(toldC, [1, 0]);
    await holder.stop();
    assert.equal((await c).exitCode, 0);
    assert.equal(bStarted, false, 'the cancelled run never started');
    await own.close();
  });

  it('counts a time limit from the start of the process, not from its wait', async () => {
    const own = ownGroup(1);
    // It waits 3 s for the slot; counted from the wait, its 2.5 s limit would have passed.
    const first = own.run(sleeper(3_000));
    const waited = await own.run(sleeper(0, { timeoutMs: 2_500 }));
    assert.equal(waited.timedOut, false);
    assert.equal(waited.exitCode, 0);
    assert.equal((await first).exitCode, 0);
    await own.close();
  });

  it('refuses waiting runs when the group closes', async () => {
    const own = ownGroup(1);
    const holder = own.start(forever());
    const refused = assert.rejects(own.run(sleeper(0)), /shutting down/);
    await own.close(500);
    await refused;
    assert.equal(isProcessAlive(holder.pid ?? 0), false);
  });
});
