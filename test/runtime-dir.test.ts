// The server's private directory: mode 0700, removed on close, and leftovers of a dead server
// swept by the next one (a live server's directory is left alone).
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
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

  it("starts though another user's dead leftover cannot be removed (a root server's, under a shared /tmp)", async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root, to make a leftover another user cannot remove');
    const parent = await tempDir();
    dirs.push(parent);
    await chmod(parent, 0o1777);
    const theirs = path.join(parent, 'sharkmcp-99999998-Root12');
    await mkdir(theirs, { mode: 0o700 });
    await writeFile(path.join(theirs, 'capture.pcapng'), 'x');
    const module = path.join(path.dirname(fileURLToPath(import.meta.url)), '../src/storage/runtime-dir.js');
    const script = `const { RuntimeDir } = await import(${JSON.stringify(module)}); const r = new RuntimeDir(${JSON.stringify(parent)}); console.log(await r.path()); await r.close();`;
    // As "nobody": the leftover is root's, in a sticky directory, so removing it fails with EACCES.
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      uid: 65534,
      gid: 65534,
      cwd: '/',
      timeout: 20_000,
    });
    assert.match(stdout, new RegExp(`^${parent}/sharkmcp-\\d+-`));
    assert.equal(existsSync(theirs), true, "the other user's leftover is left for them");
  });
});
