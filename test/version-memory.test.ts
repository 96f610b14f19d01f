// The tools' versions remembered between starts: a binary whose identity is unchanged is not run
// again for its version; one replaced or touched is asked again; a config directory that cannot
// be written leaves no file behind and changes nothing but the speed.
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { locateWiresharkTools } from '../src/wireshark/locate.js';
import { ProcessGroup } from '../src/wireshark/process.js';
import { binaryIdentity, VERSION_MEMORY_FILE, VersionMemoryFile } from '../src/wireshark/version-memory.js';

describe('remembered tool versions', () => {
  const group = new ProcessGroup();
  let dir: string;
  let tshark: string;
  let realVersion: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'sharkmcp-versions-'));
    const real = (await locateWiresharkTools(group, process.env, undefined, ['tshark'])).status('tshark');
    assert.ok(real.found);
    realVersion = real.version;
    // A copy of the real tshark of our own, whose times this test may change.
    tshark = path.join(dir, 'tshark');
    await copyFile(real.path, tshark);
    await utimes(tshark, new Date(), new Date());
  });
  after(async () => {
    await group.close();
    await rm(dir, { recursive: true, force: true });
  });

  const locate = (config: string): Promise<string | undefined> =>
    locateWiresharkTools(
      group,
      { PATH: '', SHARKMCP_TSHARK: tshark },
      [],
      ['tshark'],
      new VersionMemoryFile(config),
    ).then((tools) => {
      const s = tools.status('tshark');
      return s.found ? s.version : undefined;
    });

  it('asks once, then answers from the config directory while the binary is the same', async () => {
    const config = path.join(dir, 'config-a');
    assert.equal(await locate(config), realVersion);
    const saved = JSON.parse(await readFile(path.join(config, VERSION_MEMORY_FILE), 'utf8')) as Record<
      string,
      { identity: string; version: string }
    >;
    assert.deepEqual(saved[tshark], { identity: await binaryIdentity(tshark), version: realVersion });
    // A version tshark would never print: found only if the binary was not run again.
    saved[tshark] = { identity: await binaryIdentity(tshark), version: '0.0.1' };
    await writeFile(path.join(config, VERSION_MEMORY_FILE), JSON.stringify(saved));
    assert.equal(await locate(config), '0.0.1');
  });

  it('asks again once the binary changed', async () => {
    const config = path.join(dir, 'config-b');
    assert.equal(await locate(config), realVersion);
    const file = path.join(config, VERSION_MEMORY_FILE);
    const saved = JSON.parse(await readFile(file, 'utf8')) as Record<
      string,
      { identity: string; version: string }
    >;
    saved[tshark] = { identity: await binaryIdentity(tshark), version: '0.0.1' };
    await writeFile(file, JSON.stringify(saved));
    const later = new Date(Date.now() + 60_000);
    await utimes(tshark, later, later);
    assert.equal(await locate(config), realVersion);
    assert.equal(
      (JSON.parse(await readFile(file, 'utf8')) as Record<string, { version: string }>)[tshark]?.version,
      realVersion,
    );
  });

  it('works from an unreadable memory and a directory it cannot write, leaving nothing behind', async () => {
    const config = path.join(dir, 'config-c');
    await locate(config);
    await writeFile(path.join(config, VERSION_MEMORY_FILE), 'not json');
    assert.equal(await locate(config), realVersion);
    // A file where the directory should be: nothing can be written under it.
    const blocked = path.join(dir, 'blocked');
    await writeFile(blocked, '');
    assert.equal(await locate(path.join(blocked, 'config')), realVersion);
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.endsWith('.tmp')),
      [],
    );
  });
});
