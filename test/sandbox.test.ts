// The file sandbox through a real MCP client: a path outside the allowed directories, and a
// symlink that leads out of them, are refused with advice, before anything about the path is
// looked at (so the answer does not say whether it exists); the client's MCP roots are honoured
// and kept current when they change.
import assert from 'node:assert/strict';
import { realpathSync } from 'node:fs';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { EMPTY_PCAP } from '../src/wireshark/tshark.js';
import { requireCapture, tempDir } from './helpers/loopback-capture.js';
import { connect } from './helpers/in-process.js';
import { CLI } from './helpers/paths.js';

describe('file sandbox', () => {
  let dir = '';
  let allowed = '';
  let outside = '';
  before(async () => {
    dir = await tempDir();
    allowed = path.join(dir, 'allowed');
    outside = path.join(dir, 'outside');
    await mkdir(allowed);
    await mkdir(outside);
    await writeFile(path.join(allowed, 'in.pcap'), EMPTY_PCAP);
    await writeFile(path.join(outside, 'out.pcap'), EMPTY_PCAP);
    await writeFile(path.join(outside, 'keylog.txt'), '');
    await symlink(path.join(outside, 'out.pcap'), path.join(allowed, 'link.pcap'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('reads inside the allowed directories and refuses outside them, symlinks included', async () => {
    const mcp = await connect({ SHARKMCP_ALLOWED_DIRS: allowed });
    try {
      const inside = await mcp.call('analyze_pcap_file', { filePath: path.join(allowed, 'in.pcap') });
      assert.equal(inside.isError, false, inside.text);
      for (const [args, param] of [
        [{ filePath: path.join(outside, 'out.pcap') }, 'filePath'],
        [{ filePath: path.join(allowed, 'link.pcap') }, 'filePath'],
        [{ source: path.join(outside, 'out.pcap') }, 'source'],
        [
          { filePath: path.join(allowed, 'in.pcap'), sslKeylogFile: path.join(outside, 'keylog.txt') },
          'sslKeylogFile',
        ],
      ] as const) {
        const answer = await mcp.call('analyze_pcap_file', args);
        assert.equal(answer.isError, true, `${JSON.stringify(args)} was allowed`);
        assert.match(
          answer.text,
          new RegExp(`${param}: ".*" is outside the directories this server may use`),
        );
        assert.match(answer.text, /--allow-dir <dir> \(or SHARKMCP_ALLOWED_DIRS\)/);
      }
      const summary = await mcp.call('summarize_capture', { source: path.join(outside, 'out.pcap') });
      assert.equal(summary.isError, true);
    } finally {
      await mcp.close();
    }
  });

  it('answers a path outside the roots alike whether it exists, is missing or is a directory', async (t) => {
    const mcp = await connect({ SHARKMCP_ALLOWED_DIRS: allowed });
    const inside = path.join(allowed, 'in.pcap');
    await symlink(path.join(outside, 'gone.pcap'), path.join(allowed, 'dangling.pcap')).catch(
      () => undefined,
    );
    const paths = [
      path.join(outside, 'out.pcap'),
      path.join(outside, 'missing.pcap'),
      outside,
      path.join(outside, 'no-dir', 'x.pcap'),
      path.join(outside, 'out.pcap', 'x'),
      path.join(allowed, 'dangling.pcap'),
      path.join(allowed, '..', 'outside', 'missing.pcap'),
    ];
    const calls: [string, (p: string) => Record<string, unknown>, string][] = [
      ['analyze_pcap_file', (p) => ({ filePath: p }), 'filePath'],
      ['analyze_pcap_file', (p) => ({ source: p }), 'source'],
      ['analyze_pcap_file', (p) => ({ filePath: inside, sslKeylogFile: p }), 'sslKeylogFile'],
      ['summarize_capture', (p) => ({ source: p }), 'source'],
      ['compare_captures', (p) => ({ baseline: inside, candidate: p }), 'candidate'],
    ];
    try {
      for (const [tool, args, param] of calls) {
        const answers = new Set<string>();
        for (const p of paths) {
          const answer = await mcp.call(tool, args(p));
          assert.equal(answer.isError, true, `${tool} ${p}: ${answer.text}`);
          assert.match(
            answer.text,
            new RegExp(`${param}: ".*" is outside the directories this server may use`),
          );
          answers.add(answer.text.replace(/"[^"]*"/, '<path>'));
        }
        assert.equal(
          answers.size,
          1,
          `${tool} ${param} tells these paths apart:\n${[...answers].join('\n')}`,
        );
      }
      if (!(await requireCapture(t))) return;
      const started = await mcp.call('start_capture_session', { captureFilter: 'udp port 9', timeout: 1 });
      const id = /Session ID: (\S+)/.exec(started.text)?.[1] ?? '';
      const answers = new Set<string>();
      for (const p of [path.join(outside, 'new.pcapng'), path.join(outside, 'no-dir', 'new.pcapng')]) {
        const answer = await mcp.call('stop_capture_session', { sessionId: id, saveTo: p });
        assert.match(answer.text, /saveTo: ".*" is outside the directories this server may use/);
        answers.add(answer.text.replace(/"[^"]*"/, '<path>'));
      }
      assert.equal(answers.size, 1, [...answers].join('\n'));
    } finally {
      await mcp.close();
    }
  });

  it('uses the working directory when nothing else is allowed', async () => {
    const mcp = await connect({ SHARKMCP_ALLOWED_DIRS: '' });
    try {
      const answer = await mcp.call('analyze_pcap_file', { filePath: path.join(allowed, 'in.pcap') });
      assert.equal(answer.isError, true);
      assert.match(answer.text, /is outside the directories this server may use/);
      // The server runs in this test's working directory, wherever the checkout is.
      assert.ok(answer.text.includes(realpathSync(process.cwd())), answer.text);
    } finally {
      await mcp.close();
    }
  });

  it("honours the client's roots and follows their changes", async () => {
    let roots = [{ uri: `file://${allowed}`, name: 'allowed' }];
    const client = new Client(
      { name: 'roots-client', version: '1' },
      { capabilities: { roots: { listChanged: true } } },
    );
    client.setRequestHandler('roots/list', () => ({ roots }));
    const base = Object.fromEntries(
      Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined),
    );
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [CLI],
        env: { ...base, SHARKMCP_ALLOWED_DIRS: '' },
        stderr: 'pipe',
      }),
    );
    const call = async (file: string): Promise<boolean> => {
      const result = await client.callTool({ name: 'analyze_pcap_file', arguments: { filePath: file } });
      return result.isError !== true;
    };
    try {
      assert.equal(await call(path.join(allowed, 'in.pcap')), true);
      assert.equal(await call(path.join(outside, 'out.pcap')), false);
      roots = [{ uri: `file://${outside}`, name: 'outside' }];
      await client.sendRootsListChanged();
      assert.equal(await call(path.join(outside, 'out.pcap')), true);
      assert.equal(await call(path.join(allowed, 'in.pcap')), false);
    } finally {
      await client.close();
    }
  });
});
