// `sharkmcp demo`: SharkMCP doing its job with no MCP client installed. It starts local HTTP, DNS
// and HTTPS servers, runs the server over stdio behind the SDK's own MCP client, captures on
// loopback while it makes requests, stops, and prints what an agent would read. It cleans up after
// itself.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import {
  close,
  dnsServer,
  httpGet,
  httpsGet,
  httpsServer,
  listen,
  makeCertificate,
  resolveA,
} from './traffic.js';

const HOST = '127.83.77.20';
const DNS_HOST = '127.83.77.21';

type Out = (text: string) => void;

function textOf(result: { content?: unknown }): string {
  const content = (result.content ?? []) as { type: string; text?: string }[];
  return content
    .filter((c) => c.type === 'text')
    .map((c) => c.text ?? '')
    .join('\n');
}

/**
 * Runs the demo against the server `cli` (the command line that runs the demo: the bundle or tsc's
 * cli.js), writing what an agent would read to `out` (the CLI passes stdout).
 */
export async function runDemo(out: Out, cli: string): Promise<number> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sharkmcp-demo-'));
  const section = (title: string, body: string): void => out(`\n━━ ${title} ━━\n${body.trimEnd()}\n`);
  const keylog = path.join(dir, 'keylog.txt');
  await writeFile(keylog, '');
  const web = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.statusCode = req.url === '/missing' ? 404 : 200;
    res.end(JSON.stringify({ path: req.url, ok: res.statusCode === 200 }));
  });
  let tls: Awaited<ReturnType<typeof makeCertificate>> | undefined;
  try {
    tls = await makeCertificate(dir);
  } catch {
    out('(openssl is not installed: the demo skips its HTTPS part)\n');
  }
  const secure = tls
    ? httpsServer(tls, keylog, (req, res) => res.end(`secret for ${req.url ?? ''}`))
    : undefined;
  const client = new Client({ name: 'sharkmcp-demo', version: '1.0.0' });
  try {
    const webEnd = await listen(web, HOST, 80);
    const secureEnd = secure ? await listen(secure, HOST, 443) : undefined;
    const dns = await dnsServer(DNS_HOST, 53, '10.20.30.40').catch(() =>
      dnsServer('127.0.0.1', 0, '10.20.30.40'),
    );
    const dnsHost = dns.socket.address().address;
    const env = Object.fromEntries(
      Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined),
    );
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [cli],
        env: { ...env, SHARKMCP_ALLOWED_DIRS: dir, SHARKMCP_CONFIG_DIR: path.join(dir, 'config') },
        stderr: 'ignore',
      }),
    );
    const call = async (
      name: string,
      args: Record<string, unknown>,
    ): Promise<{ text: string; isError: boolean; structured: unknown }> => {
      const r = await client.callTool({ name, arguments: args });
      return { text: textOf(r), isError: r.isError === true, structured: r.structuredContent };
    };

    const filter = [
      `(host ${webEnd.host} and tcp port ${webEnd.port})`,
      ...(secureEnd ? [`(host ${secureEnd.host} and tcp port ${secureEnd.port})`] : []),
      `(host ${dnsHost} and udp port ${dns.port})`,
    ].join(' or ');
    const started = await call('start_capture_session', {
      captureFilter: filter,
      sessionName: 'demo',
      timeout: 60,
    });
    section('start_capture_session', started.text);
    if (started.isError) return 1;

    out(
      '\n(making traffic: 3 HTTP requests, a DNS lookup, an HTTPS request with its TLS keys in a keylog)\n',
    );
    for (const p of ['/api/users', '/api/orders?limit=5', '/missing'])
      await httpGet(webEnd.port, p, webEnd.host);
    await resolveA(dnsHost, dns.port, 'api.demo.test').catch(() => []);
    if (secureEnd) await httpsGet(secureEnd.port, '/account?token=demo', false, secureEnd.host);

    section(
      'stop_capture_session (the first packets)',
      (await call('stop_capture_session', { sessionId: 'demo', limit: 12 })).text,
    );
    section('summarize_capture', (await call('summarize_capture', { source: 'demo', topN: 3 })).text);
    section('inspect_protocol http', (await call('inspect_protocol', { source: 'demo', kind: 'http' })).text);
    section('inspect_protocol dns', (await call('inspect_protocol', { source: 'demo', kind: 'dns' })).text);
    if (secureEnd) {
      section(
        'inspect_protocol http, TLS decrypted with the keylog',
        (
          await call('inspect_protocol', {
            source: 'demo',
            kind: 'http',
            sslKeylogFile: keylog,
            displayFilter: `tcp.port == ${secureEnd.port}`,
          })
        ).text,
      );
    }
    await call('delete_capture_session', { sessionId: 'demo' });
    dns.socket.close();
    out('\nThat is what an agent reads. Point your MCP client at `sharkmcp` (see the README) to use it.\n');
    return 0;
  } finally {
    await client.close().catch(() => undefined);
    await close(web).catch(() => undefined);
    if (secure) await close(secure).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}
