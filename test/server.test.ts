// The server as an MCP client sees it: the seed's tool surface in tools/list, nothing but protocol
// on stdout, and no child process left behind when the client goes away or cancels.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isProcessAlive } from '../src/util/pid.js';
import { after, before, describe, it } from 'node:test';
import { EMPTY_PCAP } from '../src/wireshark/tshark.js';
import { pidsIn, writeHangingTool } from './helpers/fake-tool.js';
import { tempDir } from './helpers/loopback-capture.js';
import { connect } from './helpers/mcp-client.js';
import { CLI } from './helpers/paths.js';
import { waitFor } from './helpers/processes.js';

describe('the sharkmcp server', () => {
  let dir = '';
  let capture = '';
  before(async () => {
    dir = await tempDir();
    capture = path.join(dir, 'empty.pcap');
    await writeFile(capture, EMPTY_PCAP);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('lists the seed tools with the seed parameters and defaults', async () => {
    const mcp = await connect({ SHARKMCP_CONFIG_DIR: path.join(dir, 'config') });
    try {
      const { tools } = await mcp.client.listTools();
      const byName = new Map(tools.map((t) => [t.name, t]));
      const analyze = byName.get('analyze_pcap_file');
      assert.ok(analyze);
      const props = analyze.inputSchema.properties as Record<string, { default?: unknown; enum?: unknown[] }>;
      for (const p of [
        'filePath',
        'displayFilter',
        'outputFormat',
        'customFields',
        'sslKeylogFile',
        'configName',
      ]) {
        assert.ok(props[p], `analyze_pcap_file lacks ${p}`);
      }
      // filePath or source: a seed client's filePath works as before, source also takes a session id.
      assert.ok(props['source'], 'analyze_pcap_file takes source');
      assert.equal(analyze.inputSchema.required, undefined);
      assert.equal(props['outputFormat']?.default, 'text');
      assert.deepEqual(props['outputFormat']?.enum, ['json', 'fields', 'text']);
      assert.equal(
        props['customFields']?.default,
        'frame.number,frame.time_relative,ip.src,ip.dst,tcp.srcport,tcp.dstport',
      );
      assert.equal(analyze.annotations?.readOnlyHint, true);

      const manage = byName.get('manage_config');
      assert.ok(manage);
      const mprops = manage.inputSchema.properties as Record<
        string,
        { enum?: unknown[]; properties?: object }
      >;
      assert.deepEqual(mprops['action']?.enum, ['save', 'load', 'list', 'view', 'delete']);
      // The seed's fields, and the decode-as rules and preferences added since.
      assert.deepEqual(Object.keys(mprops['config']?.properties ?? {}).sort(), [
        'captureFilter',
        'customFields',
        'decodeAs',
        'description',
        'displayFilter',
        'interface',
        'maxPackets',
        'outputFormat',
        'preferences',
        'timeout',
      ]);
      // Said once, where every agent reads it: the instructions, which explain configName.
      assert.match(manage.description ?? '', /configName/);
      assert.match(mcp.client.getInstructions() ?? '', /configName .* arguments given explicitly win/);
    } finally {
      await mcp.close();
    }
  });

  it('writes nothing but JSON-RPC messages on stdout', async (t) => {
    const child = spawn(process.execPath, [CLI], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, SHARKMCP_CONFIG_DIR: path.join(dir, 'config'), SHARKMCP_ALLOWED_DIRS: dir },
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    t.after(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    const send = (m: object): boolean => child.stdin.write(`${JSON.stringify(m)}\n`);
    send({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    });
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    send({
      jsonrpc: '2.0',
      id: 3,
      method: 'tools/call',
      params: { name: 'analyze_pcap_file', arguments: { filePath: capture } },
    });
    send({
      jsonrpc: '2.0',
      id: 4,
      method: 'tools/call',
      params: { name: 'manage_config', arguments: { action: 'list' } },
    });
    await waitFor('four answers', () => out.split('\n').filter((l) => l.includes('"id":')).length >= 4);
    const exited = new Promise((r) => child.once('exit', r));
    child.stdin.end();
    await exited;
    const lines = out.split('\n').filter((l) => l !== '');
    for (const line of lines) {
      const msg = JSON.parse(line) as { jsonrpc?: string };
      assert.equal(msg.jsonrpc, '2.0', line);
    }
    assert.match(out, /The capture file holds 0 packets/);
  });

  for (const how of ['stdin closed', 'SIGTERM', 'SIGINT'] as const) {
    it(`ends its running tshark when ${how === 'stdin closed' ? 'stdin closes' : `it gets ${how}`}`, async (t) => {
      const pidFile = path.join(dir, `pids-${how.replace(' ', '-')}`);
      const fake = await writeHangingTool(dir, `tshark-${how.replace(' ', '-')}`, pidFile);
      const child = spawn(process.execPath, [CLI], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: {
          ...process.env,
          SHARKMCP_TSHARK: fake,
          SHARKMCP_CONFIG_DIR: path.join(dir, 'config'),
          SHARKMCP_ALLOWED_DIRS: dir,
        },
      });
      child.stdout.resume();
      const send = (m: object): boolean => child.stdin.write(`${JSON.stringify(m)}\n`);
      send({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'raw', version: '1' },
        },
      });
      send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      send({
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'analyze_pcap_file', arguments: { filePath: capture } },
      });
      t.after(() => {
        if (child.exitCode === null) child.kill('SIGKILL');
        // A server killed that way cannot end its children: the test does, so none outlives it.
        for (const p of pidsIn(pidFile)) if (isProcessAlive(p)) process.kill(p, 'SIGKILL');
      });
      await waitFor('the analysis to start tshark', () => pidsIn(pidFile).length > 0);
      const [pid] = pidsIn(pidFile);
      assert.ok(pid !== undefined && isProcessAlive(pid));
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      if (how === 'stdin closed') child.stdin.end();
      else child.kill(how);
      const code = await exited;
      assert.equal(code, 0, 'the server shut down cleanly');
      assert.equal(isProcessAlive(pid), false, `tshark ${pid} outlived the server`);
    });
  }

  it('stops the tshark of a call the client cancels', async () => {
    const pidFile = path.join(dir, 'pids-cancel');
    const fake = await writeHangingTool(dir, 'tshark-cancel', pidFile);
    const mcp = await connect({ SHARKMCP_TSHARK: fake, SHARKMCP_CONFIG_DIR: path.join(dir, 'config') });
    try {
      const controller = new AbortController();
      const call = mcp.client.callTool(
        { name: 'analyze_pcap_file', arguments: { filePath: capture } },
        { signal: controller.signal },
      );
      await waitFor('the analysis to start tshark', () => pidsIn(pidFile).length > 0);
      const [pid] = pidsIn(pidFile);
      assert.ok(pid !== undefined);
      controller.abort();
      await assert.rejects(call);
      await waitFor(`tshark ${pid} to end within a second of the cancel`, () => !isProcessAlive(pid), 1_000);
    } finally {
      await mcp.close();
    }
  });

  it('answers --version and --help without starting a server', async () => {
    const run = (arg: string): Promise<{ code: number | null; out: string }> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [CLI, arg], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.on('exit', (code) => resolve({ code, out }));
      });
    const pkg = JSON.parse(
      readFileSync(path.join(path.dirname(CLI), '..', '..', 'package.json'), 'utf8'),
    ) as { version: string };
    assert.deepEqual(await run('--version'), { code: 0, out: `${pkg.version}\n` });
    const help = await run('--help');
    assert.equal(help.code, 0);
    assert.match(help.out, /Usage:/);
  });

  it('says nothing wrong about the tools when a client leaves at once', async () => {
    const child = spawn(process.execPath, [CLI], { stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.stdin.end();
    const code = await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(code, 0, err);
    assert.match(err, /shutting down \(stdin closed\)/);
    assert.doesNotMatch(err, /did not answer --version/);
  });
});
