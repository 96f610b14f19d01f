// manage_config through a real MCP client: the seed's actions and answers, the seed's file
// format, and a corrupt file reported and left as it was.
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from './helpers/loopback-capture.js';
import { connect, useServer } from './helpers/in-process.js';

describe('manage_config', () => {
  const server = useServer();

  it('saves, loads, lists, views and deletes as the seed does', async () => {
    assert.match(
      (await server.mcp.call('manage_config', { action: 'list' })).text,
      /^No saved configurations found/,
    );
    const saved = await server.mcp.call('manage_config', {
      action: 'save',
      name: 'web',
      config: {
        description: 'HTTP on 8080',
        captureFilter: 'tcp port 8080',
        displayFilter: 'http',
        timeout: 30,
        maxPackets: 500,
      },
    });
    assert.equal(saved.isError, false, saved.text);
    assert.match(saved.text, /^Configuration 'web' saved successfully!\n\nSaved config:\n\{/);
    await server.mcp.call('manage_config', { action: 'save', name: 'dns', config: { displayFilter: 'dns' } });

    const loaded = await server.mcp.call('manage_config', { action: 'load', name: 'web' });
    assert.match(loaded.text, /^Configuration 'web' loaded:\n\n/);
    assert.deepEqual(JSON.parse(loaded.text.slice(loaded.text.indexOf('{'))), {
      name: 'web',
      description: 'HTTP on 8080',
      captureFilter: 'tcp port 8080',
      displayFilter: 'http',
      timeout: 30,
      maxPackets: 500,
    });

    const brief = await server.mcp.call('manage_config', { action: 'list' });
    assert.match(brief.text, /^Available configurations \(2\):\n\n• web: HTTP on 8080\n• dns\n/);
    const detailed = await server.mcp.call('manage_config', { action: 'list', detailed: true });
    assert.match(
      detailed.text,
      /Name: web\n {2}Description: HTTP on 8080\n {2}Capture Filter: tcp port 8080/,
    );
    assert.match(detailed.text, /Timeout: 30s\n {2}Max Packets: 500/);
    const view = await server.mcp.call('manage_config', { action: 'view' });
    assert.match(view.text, /^All configurations \(2\) - Full Details:/);
    assert.deepEqual(
      (view.structured?.['configs'] as { name: string }[]).map((c) => c.name),
      ['web', 'dns'],
    );

    assert.match(
      (await server.mcp.call('manage_config', { action: 'delete', name: 'dns' })).text,
      /^Configuration 'dns' deleted successfully\./,
    );
    const gone = await server.mcp.call('manage_config', { action: 'load', name: 'dns' });
    assert.equal(gone.isError, true);
    assert.match(gone.text, /Configuration 'dns' not found\. Saved configurations: web\./);
  });

  it('says what is missing when save lacks a name or config, and refuses out-of-bounds values', async () => {
    const noConfig = await server.mcp.call('manage_config', { action: 'save', name: 'x' });
    assert.equal(noConfig.isError, true);
    assert.match(noConfig.text, /Both name and config are required/);
    const bad = await server.mcp.call('manage_config', {
      action: 'save',
      name: 'x',
      config: { maxPackets: -1 },
    });
    assert.equal(bad.isError, true);
    assert.match(bad.text, /maxPackets/);
    const noName = await server.mcp.call('manage_config', { action: 'load' });
    assert.match(noName.text, /name is required for the load action/);
  });

  it("keeps names that are also JavaScript's own (__proto__, constructor, ...) like any other", async () => {
    const names = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf'];
    for (const [i, name] of names.entries()) {
      const saved = await server.mcp.call('manage_config', {
        action: 'save',
        name,
        config: { displayFilter: `frame.number == ${i + 1}`, maxPackets: i + 1 },
      });
      assert.equal(saved.isError, false, saved.text);
      assert.match(saved.text, new RegExp(`^Configuration '${name}' saved successfully!`));
    }
    const file = JSON.parse(
      await readFile(path.join(server.dir, 'config', 'sharkmcp-configs.json'), 'utf8'),
    ) as { configs: object };
    for (const name of names) assert.ok(Object.hasOwn(file.configs, name), `${name} is in the file`);

    // A second server reads the file afresh.
    const other = await connect({ SHARKMCP_CONFIG_DIR: path.join(server.dir, 'config') });
    try {
      const listed = await other.call('manage_config', { action: 'list' });
      for (const name of names) assert.match(listed.text, new RegExp(`• ${name}\\n`));
      for (const [i, name] of names.entries()) {
        const loaded = await other.call('manage_config', { action: 'load', name });
        assert.equal(loaded.isError, false, loaded.text);
        assert.deepEqual(loaded.structured?.['configs'], [
          { name, displayFilter: `frame.number == ${i + 1}`, maxPackets: i + 1 },
        ]);
      }
    } finally {
      await other.close();
    }
    for (const name of names) {
      const deleted = await server.mcp.call('manage_config', { action: 'delete', name });
      assert.equal(deleted.isError, false, deleted.text);
      const again = await server.mcp.call('manage_config', { action: 'load', name });
      assert.equal(again.isError, true, `${name} is still there`);
    }
    const left = (await server.mcp.call('manage_config', { action: 'list' })).text;
    for (const name of names) assert.doesNotMatch(left, new RegExp(`• ${name}\\n`));
  });

  it('reports a corrupt file, keeps it byte for byte, and works again once it is fixed', async () => {
    const own = await tempDir();
    const configDir = path.join(own, 'config');
    await mkdir(configDir);
    const file = path.join(configDir, 'sharkmcp-configs.json');
    const corrupt = '{"version": "1.0.0", "configs": {"a": ';
    await writeFile(file, corrupt);
    const session = await connect({ SHARKMCP_CONFIG_DIR: configDir });
    try {
      const listed = await session.call('manage_config', { action: 'list' });
      assert.equal(listed.isError, true);
      assert.match(listed.text, /sharkmcp-configs\.json is not usable: it is not valid JSON/);
      assert.match(listed.text, /left untouched/);
      const save = await session.call('manage_config', {
        action: 'save',
        name: 'b',
        config: { displayFilter: 'dns' },
      });
      assert.equal(save.isError, true);
      assert.equal(await readFile(file, 'utf8'), corrupt);

      await writeFile(file, JSON.stringify({ version: '1.0.0', configs: {} }));
      const again = await session.call('manage_config', {
        action: 'save',
        name: 'b',
        config: { displayFilter: 'dns' },
      });
      assert.equal(again.isError, false, again.text);
    } finally {
      await session.close();
      await rm(own, { recursive: true, force: true });
    }
  });
});
