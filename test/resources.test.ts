// Resources through a real MCP client: captures (analysed files and sessions) listed under stable
// URIs, read as a summary and their bytes; answers link to them; the saved configurations.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ResourceNotFoundError } from '@modelcontextprotocol/client';
import { EMPTY_PCAP } from '../src/wireshark/tshark.js';
import { requireCapture } from './helpers/loopback-capture.js';
import { useServer } from './helpers/in-process.js';
import { writeFile } from 'node:fs/promises';

describe('resources', () => {
  const server = useServer();

  it('lists an analysed file and a capture session, and reads them back', async (t) => {
    if (!(await requireCapture(t))) return;
    const file = path.join(server.dir, 'empty.pcap');
    await writeFile(file, EMPTY_PCAP);
    const analysed = await server.mcp.client.callTool({
      name: 'analyze_pcap_file',
      arguments: { filePath: file },
    });
    const link = (analysed.content as { type: string; uri?: string }[]).find(
      (c) => c.type === 'resource_link',
    );
    assert.ok(link?.uri, 'the answer links to the capture');
    assert.match(link.uri, /^sharkmcp:\/\/captures\/file\//);

    await server.mcp.call('start_capture_session', { sessionName: 'res', captureFilter: 'udp port 9' });
    await server.mcp.call('stop_capture_session', { sessionId: 'res' });

    const { resources } = await server.mcp.client.listResources();
    const uris = resources.map((r) => r.uri);
    assert.ok(uris.includes(link.uri));
    assert.ok(uris.includes('sharkmcp://captures/session/res'));
    assert.ok(uris.includes('sharkmcp://configs'));

    const read = await server.mcp.client.readResource({ uri: link.uri });
    const text = read.contents.find((c) => 'text' in c);
    const blob = read.contents.find((c) => 'blob' in c);
    assert.match(text && 'text' in text ? text.text : '', /File: pcap, 0 packets/);
    assert.deepEqual(Buffer.from(blob && 'blob' in blob ? blob.blob : '', 'base64'), await readFile(file));

    const session = await server.mcp.client.readResource({ uri: 'sharkmcp://captures/session/res' });
    assert.match(JSON.stringify(session.contents), /Summary of session 'res'/);
  });

  it('gives the saved configurations as JSON', async () => {
    await server.mcp.call('manage_config', {
      action: 'save',
      name: 'web',
      config: { displayFilter: 'http' },
    });
    const read = await server.mcp.client.readResource({ uri: 'sharkmcp://configs' });
    const first = read.contents[0];
    assert.deepEqual(JSON.parse(first && 'text' in first ? first.text : '[]'), [
      { name: 'web', displayFilter: 'http' },
    ]);
  });
});

describe('resources that change or are not there', () => {
  const server = useServer();

  it('answers an unknown or refused capture URI with "resource not found", not an internal error', async () => {
    for (const uri of [
      'sharkmcp://captures/session/no-such-session',
      `sharkmcp://captures/file/${encodeURIComponent('/etc/passwd')}`,
      'sharkmcp://captures/other/x',
    ]) {
      await assert.rejects(server.mcp.client.readResource({ uri }), (err: unknown) => {
        assert.ok(err instanceof ResourceNotFoundError, `${uri}: ${String(err)}`);
        assert.equal(err.uri, uri);
        assert.match(err.message, /No capture at .*list resources/);
        return true;
      });
    }
  });

  it('says why a capture analysed earlier can no longer be read', async () => {
    const file = path.join(server.dir, 'later-damaged.pcap');
    await writeFile(file, EMPTY_PCAP);
    await server.mcp.call('analyze_pcap_file', { filePath: file });
    await writeFile(file, Buffer.alloc(64));
    const uri = `sharkmcp://captures/file/${encodeURIComponent(file)}`;
    await assert.rejects(
      server.mcp.client.readResource({ uri }),
      (err: { code?: number; message?: string }) => {
        assert.equal(err.code, -32602, String(err.message));
        assert.match(String(err.message), /zero|header|not a capture/i);
        return true;
      },
    );
  });

  it('tells the client when a capture session appears, ends and is deleted', async (t) => {
    if (!(await requireCapture(t))) return;
    let changes = 0;
    server.mcp.client.setNotificationHandler('notifications/resources/list_changed', () => {
      changes++;
    });
    const waitFor = async (n: number): Promise<void> => {
      const end = Date.now() + 5_000;
      while (changes < n && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      assert.ok(changes >= n, `${changes} list_changed notifications, wanted ${n}`);
    };
    await server.mcp.call('start_capture_session', { sessionName: 'changes', captureFilter: 'udp port 9' });
    await waitFor(1);
    await server.mcp.call('stop_capture_session', { sessionId: 'changes' });
    await waitFor(2);
    await server.mcp.call('delete_capture_session', { sessionId: 'changes' });
    await waitFor(3);
  });
});
