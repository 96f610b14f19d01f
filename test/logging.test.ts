// Logging through MCP logging notifications, at the level the client sets.
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { requireCapture } from './helpers/loopback-capture.js';
import { useServer } from './helpers/in-process.js';

describe('logging notifications', () => {
  const server = useServer();

  it('tells the client about captures at the level it sets, and nothing below it', async (t) => {
    if (!(await requireCapture(t))) return;
    const messages: { level: string; data: unknown }[] = [];
    server.mcp.client.setNotificationHandler('notifications/message', (n) => {
      messages.push({ level: n.params.level, data: n.params.data });
    });
    await server.mcp.client.setLoggingLevel('info');
    await server.mcp.call('start_capture_session', { sessionName: 'logged', captureFilter: 'udp port 9' });
    await server.mcp.call('stop_capture_session', { sessionId: 'logged' });
    const texts = (): string[] => messages.map((m) => `${m.level} ${String(m.data)}`);
    const expected = [
      /^info capture session logged started on lo with filter "udp port 9"/,
      /^info capture session logged finished \(stopped on request\)/,
    ];
    // Notifications come on their own: wait for them (a bounded time), not a fixed while.
    const end = Date.now() + 5_000;
    while (!expected.every((e) => texts().some((m) => e.test(m))) && Date.now() < end) await delay(20);
    for (const e of expected)
      assert.ok(
        texts().some((m) => e.test(m)),
        texts().join('\n'),
      );

    messages.length = 0;
    await server.mcp.client.setLoggingLevel('error');
    await server.mcp.call('start_capture_session', { sessionName: 'quiet', captureFilter: 'udp port 9' });
    await server.mcp.call('stop_capture_session', { sessionId: 'quiet' });
    await delay(200);
    assert.deepEqual(messages, [], 'info messages are not sent at level error');
  });
});
