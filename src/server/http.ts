// Streamable HTTP at /mcp: bound to loopback unless a bearer token guards it, Host and Origin
// checked against DNS rebinding, one MCP session per client with its own server instance, and a
// session's captures stopped when it closes.
import { randomUUID, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import type { SharkServer } from './create-server.js';

export interface HttpOptions {
  readonly host: string;
  readonly port: number;
  /** Required before listening on anything but loopback. */
  readonly token?: string | undefined;
  readonly log?: (message: string) => void;
}

export interface HttpServer {
  readonly url: string;
  close(): Promise<void>;
}

const MAX_BODY = 4 * 1024 * 1024;

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** The error that refuses to listen, or undefined when the options are safe. */
export function httpOptionsProblem(options: HttpOptions): string | undefined {
  if (!isLoopbackHost(options.host) && (options.token === undefined || options.token === '')) {
    return `Refusing to listen on ${options.host} without a bearer token: anyone who can reach it could capture traffic. Give --token <secret> (or SHARKMCP_TOKEN), or listen on 127.0.0.1.`;
  }
  return undefined;
}

export async function serveHttp(app: SharkServer, options: HttpOptions): Promise<HttpServer> {
  const problem = httpOptionsProblem(options);
  if (problem) throw new Error(problem);
  const log = options.log ?? ((): void => undefined);
  const transports = new Map<string, NodeStreamableHTTPServerTransport>();
  // Hostnames a browser on this machine would send for this server; a rebinding attack sends another.
  const allowedHosts = new Set([
    'localhost',
    '127.0.0.1',
    '::1',
    options.host.replace(/^\[|\]$/g, '').toLowerCase(),
  ]);

  const reject = (
    res: http.ServerResponse,
    status: number,
    message: string,
    headers: Record<string, string> = {},
  ): void => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
  };

  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname !== '/mcp') return reject(res, 404, 'Not found: the MCP endpoint is /mcp.');
      const host = hostnameOf(req.headers.host);
      if (host === undefined || !allowedHosts.has(host)) {
        return reject(res, 403, `Forbidden: Host "${req.headers.host ?? ''}" is not this server.`);
      }
      const origin = req.headers.origin;
      if (origin !== undefined && !allowedHosts.has(originHostname(origin))) {
        return reject(res, 403, `Forbidden: Origin "${origin}" may not use this server.`);
      }
      if (options.token && !bearerMatches(req.headers.authorization, options.token)) {
        return reject(res, 401, 'Unauthorized: send Authorization: Bearer <token>.', {
          'www-authenticate': 'Bearer',
        });
      }

      const body = req.method === 'POST' ? await readJson(req) : undefined;
      if (body instanceof Error) return reject(res, 400, body.message);
      const sessionId = req.headers['mcp-session-id'];
      let transport = typeof sessionId === 'string' ? transports.get(sessionId) : undefined;
      if (!transport) {
        if (typeof sessionId === 'string') return reject(res, 404, 'Unknown MCP session: start a new one.');
        if (req.method !== 'POST')
          return reject(res, 400, 'No MCP session: send an initialize request first.');
        const created = new NodeStreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => {
            transports.set(id, created);
            log(`HTTP session ${id} opened`);
          },
        });
        created.onclose = () => {
          const id = created.sessionId;
          if (id === undefined) return;
          transports.delete(id);
          log(`HTTP session ${id} closed`);
          void app.sessions.deleteOwnedBy(id);
        };
        await app.createMcpServer().connect(created);
        transport = created;
      }
      await transport.handleRequest(req, res, body);
    })().catch((err: unknown) => {
      log(`HTTP request failed: ${err instanceof Error ? err.message : String(err)}`);
      if (!res.headersSent) reject(res, 500, 'Internal error.');
      else res.end();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${hostPart}:${address.port}/mcp`,
    close: async () => {
      await Promise.all([...transports.values()].map((t) => t.close().catch(() => undefined)));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function hostnameOf(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  try {
    return new URL(`http://${hostHeader}`).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  } catch {
    return undefined;
  }
}

function originHostname(origin: string): string {
  try {
    return new URL(origin).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  } catch {
    return '';
  }
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const m = header?.match(/^Bearer (.+)$/);
  if (!m?.[1]) return false;
  const given = Buffer.from(m[1]);
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function readJson(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        resolve(new Error('Request body too large.'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        resolve(new Error('The request body is not JSON.'));
      }
    });
    req.on('error', () => resolve(new Error('The request could not be read.')));
  });
}
