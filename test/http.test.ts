// Streamable HTTP through the SDK's HTTP client against the built `sharkmcp --http`: tools over
// HTTP, Host and Origin checks, the bearer token off loopback, and a closed session's captures
// stopped.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/client';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { isProcessAlive } from '../src/util/pid.js';
import { requireCapture } from './helpers/loopback-capture.js';
import { startHttpServer, stopChildren } from './helpers/http-server.js';
import { CLI } from './helpers/paths.js';

after(stopChildren);

async function connect(url: string, token?: string): Promise<Client> {
  const client = new Client({ name: 'http-test', version: '1' });
  await client.connect(
    new StreamableHTTPClientTransport(
      new URL(url),
      token ? { requestInit: { headers: { Authorization: `Bearer ${token}` } } } : {},
    ),
  );
  return client;
}

/** A raw POST, to send headers a browser or an attacker would. */
function post(url: string, headers: Record<string, string>): Promise<number> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...headers,
        },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'raw', version: '1' },
        },
      }),
    );
  });
}

describe('Streamable HTTP', () => {
  it('serves tools/list and a tool call on 127.0.0.1 at /mcp', async () => {
    const { url } = await startHttpServer([]);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    const client = await connect(url);
    try {
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === 'analyze_pcap_file'));
      const result = await client.callTool({ name: 'manage_config', arguments: { action: 'list' } });
      assert.equal(result.isError ?? false, false);
    } finally {
      await client.close();
    }
  });

  it('refuses a foreign Host or Origin (DNS rebinding)', async () => {
    const { url } = await startHttpServer([]);
    assert.equal(await post(url, { host: 'evil.example:80' }), 403);
    assert.equal(await post(url, { origin: 'http://evil.example' }), 403);
    assert.equal(await post(url, { origin: 'http://localhost:3000' }), 200);
  });

  it('will not listen off loopback without a token, and then wants it on every request', async () => {
    const refused = spawn(process.execPath, [CLI, '--http', '--host', '0.0.0.0', '--port', '0'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    refused.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise((resolve) => refused.on('exit', resolve));
    assert.equal(code, 2);
    assert.match(err, /Refusing to listen on 0\.0\.0\.0 without a bearer token/);

    const { url } = await startHttpServer(['--host', '0.0.0.0'], { SHARKMCP_TOKEN: 's3cret-token' });
    const local = url.replace('0.0.0.0', '127.0.0.1');
    assert.equal(await post(local, {}), 401);
    assert.equal(await post(local, { authorization: 'Bearer wrong' }), 401);
    const client = await connect(local, 's3cret-token');
    await client.listTools();
    await client.close();
  });

  it("stops a closed session's captures", async (t) => {
    if (!(await requireCapture(t))) return;
    const { url } = await startHttpServer([]);
    const client = await connect(url);
    const started = await client.callTool({
      name: 'start_capture_session',
      arguments: { captureFilter: 'udp port 9', timeout: 600 },
    });
    const pid = (started.structuredContent as { pid: number | null }).pid;
    assert.ok(pid !== null && isProcessAlive(pid));
    const transport = client.transport as StreamableHTTPClientTransport;
    await transport.terminateSession();
    await client.close();
    const end = Date.now() + 5_000;
    while (isProcessAlive(pid) && Date.now() < end) await delay(50);
    assert.equal(isProcessAlive(pid), false, "the closed session's dumpcap is gone");
  });
});
