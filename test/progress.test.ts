// Progress notifications through a real MCP client: an analysis reports packets read out of the
// total capinfos counts, and stop_capture_session with wait reports packets captured until the
// capture stops by itself.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { sharedMixedCapture } from './helpers/fixtures.js';
import { requireCapture } from './helpers/loopback-capture.js';
import { useServer } from './helpers/in-process.js';
import { freeUdpPort } from './helpers/traffic.js';

const run = promisify(execFile);

interface Progress {
  progress: number;
  total?: number;
  message?: string;
}

describe('progress', () => {
  const server = useServer();

  it('reports packets read out of the total during an analysis', async (t) => {
    if (!(await requireCapture(t))) return;
    const c = await sharedMixedCapture();
    const big = path.join(server.dir, 'big.pcapng');
    await run('mergecap', ['-a', '-w', big, ...Array.from({ length: 300 }, () => c.file)]);
    const { stdout } = await run('capinfos', ['-M', '-T', '-r', '-c', big]);
    const total = Number(stdout.trim().split('\t').at(-1));
    const seen: Progress[] = [];
    const result = await server.mcp.client.callTool(
      { name: 'analyze_pcap_file', arguments: { filePath: big, displayFilter: 'frame.number == 0' } },
      { onprogress: (p: Progress) => seen.push(p) },
    );
    assert.equal(result.isError ?? false, false);
    assert.ok(seen.length >= 2, `${seen.length} notifications`);
    const last = seen.at(-1);
    assert.equal(last?.total, total);
    assert.equal(last?.progress, total);
    assert.match(last?.message ?? '', new RegExp(`${total} of ${total} packets read`));
    for (let i = 1; i < seen.length; i++)
      assert.ok((seen[i]?.progress ?? 0) >= (seen[i - 1]?.progress ?? 0), 'progress only grows');
  });

  it('waits for a capture to stop by itself, reporting packets captured', async (t) => {
    if (!(await requireCapture(t))) return;
    const port = await freeUdpPort();
    const started = await server.mcp.call('start_capture_session', {
      captureFilter: `udp port ${port}`,
      timeout: 3,
      maxPackets: 1000,
    });
    const id = (started.structured as { id: string }).id;
    const socket = dgram.createSocket('udp4');
    const sender = setInterval(() => socket.send('tick', port, '127.0.0.1'), 50);
    const seen: Progress[] = [];
    try {
      const result = await server.mcp.client.callTool(
        {
          name: 'stop_capture_session',
          arguments: { sessionId: id, wait: true, outputFormat: 'fields', customFields: 'frame.number' },
        },
        { onprogress: (p: Progress) => seen.push(p), timeout: 20_000 },
      );
      const text = (result.content as { type: string; text: string }[])[0]?.text ?? '';
      assert.match(text, /\(timeout reached\)/, 'the capture ran until its own timeout');
      assert.ok(seen.length >= 2, `${seen.length} notifications`);
      assert.ok(
        seen.every((p) => p.total === 1000),
        'the total is the packet limit',
      );
      assert.ok(
        (seen.at(-1)?.progress ?? 0) > 0,
        `packets captured so far are reported: ${JSON.stringify(seen)}`,
      );
      assert.match(seen.at(-1)?.message ?? '', /packets? captured; stops at 3 s/);
    } finally {
      clearInterval(sender);
      socket.close();
    }
  });
});
