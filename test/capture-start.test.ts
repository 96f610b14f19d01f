// A capture start that waits on its interface: listed while it starts, stopped by the client's
// cancel, and given up after a short start timeout, with no dumpcap and no file left behind
// (dumpcap is a fake that never reports capture start: a real one cannot be made to hang on
// demand). Concurrent starts keep to the session cap and to unique names.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { CAPTURE_START_TIMEOUT_MS } from '../src/capture/dumpcap.js';
import { isProcessAlive } from '../src/util/pid.js';
import { pidsIn, writeStuckDumpcap } from './helpers/fake-tool.js';
import { requireCapture, tempDir } from './helpers/loopback-capture.js';
import { connect } from './helpers/in-process.js';
import type { Session } from './helpers/mcp-client.js';
import { childPids } from './helpers/processes.js';

interface View {
  id: string;
  phase: string;
  pid: number | null;
  file: string;
}

async function waitFor<T>(what: string, get: () => Promise<T | undefined>, ms = 5_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await get();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await delay(50);
  }
}

describe('a capture whose interface never starts', () => {
  let dir = '';
  let pidFile = '';
  let mcp: Session;
  before(async () => {
    dir = await tempDir();
    pidFile = path.join(dir, 'dumpcap-pids');
    const dumpcap = await writeStuckDumpcap(dir, pidFile);
    mcp = await connect({ SHARKMCP_DUMPCAP: dumpcap, SHARKMCP_CONFIG_DIR: path.join(dir, 'config') });
  });
  after(async () => {
    try {
      await mcp?.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  const listed = async (): Promise<View[]> =>
    (await mcp.call('list_capture_sessions', {})).structured?.['sessions'] as View[];

  it('is listed as starting, and the client cancelling the call ends dumpcap and the session', async () => {
    const controller = new AbortController();
    const call = mcp.client.callTool(
      { name: 'start_capture_session', arguments: { sessionName: 'stuck', timeout: 60 } },
      { signal: controller.signal },
    );
    call.catch(() => undefined);
    const view = await waitFor('the start to be listed', async () =>
      (await listed()).find((s) => s.id === 'stuck' && s.pid !== null),
    );
    assert.equal(view.phase, 'starting');
    await waitFor('the listed pid to be the fake dumpcap', () =>
      Promise.resolve(pidsIn(pidFile).includes(view.pid ?? 0) ? true : undefined),
    );
    const text = (await mcp.call('list_capture_sessions', {})).text;
    assert.match(text, /• stuck: starting for [\d.]+s: waiting for interface lo to begin capturing/);

    controller.abort();
    await assert.rejects(call);
    const pid = view.pid ?? 0;
    await waitFor('dumpcap to end after the cancel', () =>
      Promise.resolve(isProcessAlive(pid) ? undefined : true),
    );
    await waitFor('the session to go', async () => ((await listed()).length === 0 ? true : undefined));
    assert.equal(existsSync(view.file), false, 'the capture file is removed');
  });

  it(
    `gives up after ${CAPTURE_START_TIMEOUT_MS / 1000} s, saying the interface did not start`,
    { timeout: 40_000 },
    async () => {
      const before = pidsIn(pidFile).length;
      const started = Date.now();
      const answer = await mcp.call('start_capture_session', { timeout: 60 });
      const took = Date.now() - started;
      assert.equal(answer.isError, true, answer.text);
      assert.match(
        answer.text,
        new RegExp(`interface "lo" did not start capturing within ${CAPTURE_START_TIMEOUT_MS / 1000} s`),
      );
      assert.ok(
        took >= CAPTURE_START_TIMEOUT_MS - 500 && took < CAPTURE_START_TIMEOUT_MS + 5_000,
        `${took} ms`,
      );
      const pid = pidsIn(pidFile)[before];
      assert.ok(pid !== undefined);
      assert.equal(isProcessAlive(pid), false, 'dumpcap is stopped');
      assert.deepEqual(await listed(), []);
    },
  );

  it('is ended by delete_capture_session while it starts, and the start says so', async () => {
    const call = mcp.call('start_capture_session', { sessionName: 'doomed', timeout: 60 });
    const view = await waitFor('the start to be listed', async () =>
      (await listed()).find((s) => s.id === 'doomed' && s.pid !== null),
    );
    const deleted = await mcp.call('delete_capture_session', { sessionId: 'doomed' });
    assert.equal(deleted.isError, false, deleted.text);
    const answer = await call;
    assert.equal(answer.isError, true);
    assert.match(answer.text, /Session 'doomed' was deleted before capture began/);
    assert.equal(isProcessAlive(view.pid ?? 0), false);
    assert.equal(existsSync(view.file), false);
    assert.deepEqual(await listed(), []);
  });
});

describe('concurrent starts', () => {
  let dir = '';
  let mcp: Session;
  before(async () => {
    dir = await tempDir();
    mcp = await connect({ SHARKMCP_CONFIG_DIR: path.join(dir, 'config') });
  });
  after(async () => {
    try {
      await mcp?.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  /** Every dumpcap the server runs belongs to a listed session. */
  const accountedFor = async (): Promise<View[]> => {
    const views = (await mcp.call('list_capture_sessions', {})).structured?.['sessions'] as View[];
    assert.ok(mcp.pid !== null);
    const listedPids = new Set(views.map((v) => v.pid));
    for (const pid of childPids(mcp.pid, 'dumpcap'))
      assert.ok(listedPids.has(pid), `dumpcap ${pid} runs for no listed session`);
    return views;
  };

  const deleteAll = async (views: View[]): Promise<void> => {
    for (const v of views) {
      const deleted = await mcp.call('delete_capture_session', { sessionId: v.id });
      assert.equal(deleted.isError, false, deleted.text);
    }
    assert.ok(mcp.pid !== null);
    assert.deepEqual(childPids(mcp.pid, 'dumpcap'), []);
  };

  it('start exactly as many as the cap allows, and refuse the rest', async (t) => {
    if (!(await requireCapture(t))) return;
    const answers = await Promise.all(
      Array.from({ length: 8 }, () =>
        mcp.call('start_capture_session', { captureFilter: 'udp port 9', timeout: 60 }),
      ),
    );
    const refused = answers.filter((a) => a.isError);
    assert.equal(answers.length - refused.length, 4, answers.map((a) => a.text.split('\n')[0]).join('\n'));
    for (const a of refused)
      assert.match(a.text, /4 capture sessions already running .* Stop one with stop_capture_session first/);
    const views = await accountedFor();
    assert.equal(views.length, 4);
    await deleteAll(views);
  });

  it('start one of two sessions of the same name, and refuse the other', async (t) => {
    if (!(await requireCapture(t))) return;
    const answers = await Promise.all(
      [1, 2].map(() =>
        mcp.call('start_capture_session', { sessionName: 'twin', captureFilter: 'udp port 9' }),
      ),
    );
    assert.deepEqual(
      answers.map((a) => a.isError).sort(),
      [false, true],
      answers.map((a) => a.text).join('\n'),
    );
    assert.match(answers.find((a) => a.isError)?.text ?? '', /Session 'twin' already exists/);
    const views = await accountedFor();
    assert.deepEqual(
      views.map((v) => v.id),
      ['twin'],
    );
    await deleteAll(views);
  });
});
