// The bundle's entry (src/launch.ts) keeps V8's code cache of the server in the config directory:
// a start after the first skips compiling it. A cache that is damaged or made by another build
// must never stop the server from starting, and caches of other builds do not pile up.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CODE_CACHE_DIR } from '../src/launch.js';
import { connect } from './helpers/mcp-client.js';

describe('code cache of the bundled server', () => {
  let config = '';
  let cacheDir = '';
  before(async () => {
    config = await mkdtemp(path.join(os.tmpdir(), 'sharkmcp-launch-'));
    cacheDir = path.join(config, CODE_CACHE_DIR);
  });
  after(() => rm(config, { recursive: true, force: true }));

  /** Starts the bundle with this test's config directory, lists the tools, and closes it. */
  async function startAndList(): Promise<void> {
    const session = await connect({ SHARKMCP_CONFIG_DIR: config });
    try {
      const { tools } = await session.client.listTools();
      assert.ok(
        tools.some((t) => t.name === 'summarize_capture'),
        'the server answered',
      );
    } finally {
      await session.close();
    }
  }

  const caches = (): string[] => (existsSync(cacheDir) ? readdirSync(cacheDir) : []);

  it('is written by the first start, for this Node, and read by the next', async () => {
    await startAndList();
    const written = caches();
    assert.equal(written.length, 1, `one cache file, no temporary left: ${written.join(', ')}`);
    assert.match(written[0] ?? '', new RegExp(`-${process.version}-${process.arch}\\.bin$`));
    const first = readFileSync(path.join(cacheDir, written[0] ?? ''));
    assert.ok(first.length > 10_000, `V8's compiled code, not an empty file (${first.length} bytes)`);
    await startAndList();
    assert.deepEqual(caches(), written, 'the same cache, not another');
  });

  it('starts the server when the cache is damaged, and writes it again', async () => {
    const [name] = caches();
    assert.ok(name !== undefined);
    const file = path.join(cacheDir, name);
    writeFileSync(file, 'not a code cache');
    await startAndList();
    assert.ok(readFileSync(file).length > 10_000, 'rewritten with compiled code');
  });

  it("removes other builds' caches when it writes its own", async () => {
    const [name] = caches();
    assert.ok(name !== undefined);
    await mkdir(cacheDir, { recursive: true });
    writeFileSync(path.join(cacheDir, `0000000000000000-${process.version}-${process.arch}.bin`), 'old');
    // Its own cache is missing: this start writes it, and clears the other build's.
    await rm(path.join(cacheDir, name));
    await startAndList();
    assert.deepEqual(caches(), [name]);
  });
});
