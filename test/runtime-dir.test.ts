// The server's private directory: mode 0700, removed on close, and leftovers of a dead server
// swept by the next one (a live server's directory is left alone).
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { RuntimeDir } from '../src/storage/runtime-dir.js';
import { tempDir } from './helpers/loopback-capture.js';

describe('RuntimeDir', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('is private, and gone after close', async () => {
    const parent = await tempDir();
    dirs.push(parent);
    const runtime = new RuntimeDir(parent);
    const file = await runtime.writeFile('x.pcap', Buffer.from('abc'));
    const dir = path.dirname(file);
    if (process.platform !== 'win32') assert.equal(statSync(dir).mode & 0o777, 0o700);
    await runtime.close();
    assert.equal(existsSync(dir), false);
  });

  it('sweeps what a dead server left, and keeps a live one', async () => {
    const parent = await tempDir();
    dirs.push(parent);
    // A pid far above any pid_max this kernel hands out is a dead server's.
    const dead = path.join(parent, 'sharkmcp-99999999-AbC123');
    const live = path.join(parent, `sharkmcp-${process.ppid}-XyZ789`);
    await mkdir(dead);
    await mkdir(live);
    const runtime = new RuntimeDir(parent);
    await runtime.path();
    assert.equal(existsSync(dead), false);
    assert.equal(existsSync(live), true);
    await runtime.close();
  });
});
