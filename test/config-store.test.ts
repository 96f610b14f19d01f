// Saved configurations: the seed's file format, validation with bounds, atomic writes, no lost
// saves under concurrent writers (in one process and across processes), and a corrupt file
// reported and left exactly as it was.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { after, beforeEach, describe, it } from 'node:test';
import {
  ConfigFileError,
  ConfigStore,
  CONFIG_FILE_NAME,
  defaultConfigDir,
} from '../src/config/config-store.js';
import { UserError } from '../src/errors.js';
import { tempDir } from './helpers/loopback-capture.js';
import { REPO } from './helpers/paths.js';

const run = promisify(execFile);

// The seed's own sharkmcp-configs.json, as it ships.
const SEED_FILE = {
  version: '1.0.0',
  configs: {
    tls_analysis: {
      name: 'tls_analysis',
      description: 'TLS traffic analysis with handshake details',
      captureFilter: 'port 443',
      displayFilter: 'tls.handshake',
      outputFormat: 'json',
      maxPackets: 500,
      interface: 'en0',
    },
    integration_test: {
      name: 'integration_test',
      description: 'Short capture for integration testing',
      captureFilter: '',
      displayFilter: '',
      outputFormat: 'json',
      maxPackets: 100,
      timeout: 10,
      interface: 'en0',
    },
  },
};

describe('ConfigStore', () => {
  const dirs: string[] = [];
  let dir = '';
  let store: ConfigStore;
  beforeEach(async () => {
    dir = await tempDir();
    dirs.push(dir);
    store = new ConfigStore(dir);
  });
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('reads a seed configuration file dropped in as it is', async () => {
    await writeFile(path.join(dir, CONFIG_FILE_NAME), JSON.stringify(SEED_FILE, null, 2));
    const names = (await store.list()).map((c) => c.name).sort();
    assert.deepEqual(names, ['integration_test', 'tls_analysis']);
    const tls = await store.get('tls_analysis');
    assert.equal(tls?.displayFilter, 'tls.handshake');
    assert.equal(tls?.maxPackets, 500);
  });

  it('saves, replaces and deletes, keeping the seed format and unknown keys', async () => {
    await writeFile(
      path.join(dir, CONFIG_FILE_NAME),
      JSON.stringify({
        ...SEED_FILE,
        extra: 'kept',
        configs: { ...SEED_FILE.configs, mine: { name: 'mine', future: 1 } },
      }),
    );
    assert.equal((await store.save('web', { displayFilter: 'http', timeout: 30 })).replaced, false);
    assert.equal((await store.save('web', { displayFilter: 'http.request' })).replaced, true);
    assert.equal(await store.delete('tls_analysis'), true);
    assert.equal(await store.delete('tls_analysis'), false);
    const file = JSON.parse(await readFile(store.filePath, 'utf8')) as {
      version: string;
      extra: string;
      configs: Record<string, Record<string, unknown>>;
    };
    assert.equal(file.version, '1.0.0');
    assert.equal(file.extra, 'kept');
    assert.deepEqual(file.configs['web'], { name: 'web', displayFilter: 'http.request' });
    assert.equal(file.configs['mine']?.['future'], 1);
    assert.equal(file.configs['tls_analysis'], undefined);
    assert.deepEqual((await readdir(dir)).sort(), [CONFIG_FILE_NAME], 'no temporary or lock file is left');
  });

  it('refuses values out of bounds and bad names, and writes nothing', async () => {
    await assert.rejects(store.save('x', { maxPackets: 0 }), UserError);
    await assert.rejects(store.save('x', { timeout: 1e9 }), UserError);
    await assert.rejects(store.save('../escape', {}), /not allowed/);
    await assert.rejects(store.save('a b', {}), /not allowed/);
    assert.deepEqual(await readdir(dir), []);
  });

  it('reports a corrupt file and leaves it byte for byte as it was', async () => {
    const corrupt = '{ "version": "1.0.0", "configs": { "a": { "name": "a", ';
    await writeFile(store.filePath, corrupt);
    await assert.rejects(
      store.list(),
      (err: unknown) =>
        err instanceof ConfigFileError &&
        /not valid JSON/.test(err.message) &&
        /left untouched/.test(err.message),
    );
    await assert.rejects(store.save('b', { displayFilter: 'dns' }), ConfigFileError);
    await assert.rejects(store.delete('a'), ConfigFileError);
    assert.equal(await readFile(store.filePath, 'utf8'), corrupt);
  });

  it('reports a file whose entries break the bounds, naming the entry', async () => {
    const bad = JSON.stringify({ version: '1.0.0', configs: { big: { name: 'big', maxPackets: -5 } } });
    await writeFile(store.filePath, bad);
    await assert.rejects(store.get('big'), /configs\.big\.maxPackets/);
    await assert.rejects(store.save('other', {}), ConfigFileError);
    assert.equal(await readFile(store.filePath, 'utf8'), bad);
  });

  it('loses no save when many writers in one process race', async () => {
    await Promise.all(Array.from({ length: 40 }, (_, i) => store.save(`c${i}`, { maxPackets: i + 1 })));
    const all = await store.list();
    assert.equal(all.length, 40);
  });

  it('loses no save when several processes write at once', async () => {
    const moduleUrl = pathToFileURL(path.join(REPO, 'dist', 'src', 'config', 'config-store.js')).href;
    const writer = (prefix: string): Promise<unknown> =>
      run(process.execPath, [
        '--input-type=module',
        '-e',
        `const { ConfigStore } = await import(${JSON.stringify(moduleUrl)});
         const store = new ConfigStore(${JSON.stringify(dir)});
         await Promise.all(Array.from({ length: 15 }, (_, i) => store.save('${prefix}' + i, { timeout: i + 1 })));`,
      ]);
    await Promise.all(['p', 'q', 'r'].map(writer));
    const names = (await store.list()).map((c) => c.name);
    assert.equal(names.length, 45, `saved: ${names.join(',')}`);
    assert.deepEqual((await readdir(dir)).sort(), [CONFIG_FILE_NAME]);
  });

  it('lives in SHARKMCP_CONFIG_DIR, else $XDG_CONFIG_HOME/sharkmcp', () => {
    assert.equal(defaultConfigDir({ SHARKMCP_CONFIG_DIR: '/x/y' }), '/x/y');
    if (process.platform !== 'win32') {
      assert.equal(defaultConfigDir({ XDG_CONFIG_HOME: '/cfg' }), '/cfg/sharkmcp');
    }
  });
});
