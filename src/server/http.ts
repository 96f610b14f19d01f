// Streamable HTTP at /mcp, through the SDK's own parts: its Host and Origin guards against DNS
// rebinding, its bearer-token check (a token is required before listening off loopback), and its
// handler for the 2026-07-28 revision (one server instance per request). 2025-era clients keep a
// session each: their own server instance and transport, and their captures end with it.
import { randomUUID, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import {
  hostHeaderValidation,
  NodeStreamableHTTPServerTransport,
  originValidation,
  toNodeHandler,
  toWebRequest,
} from '@modelcontextprotocol/node';
import {
  bearerAuthChallengeResponse,
  createMcpHandler,
  isJsonContentType,
  isLegacyRequest,
  OAuthError,
  OAuthErrorCode,
  verifyBearerToken,
} from '@modelcontextprotocol/server';
import type { AuthInfo } from '@modelcontextprotocol/server';
import type { SharkServer } from './create-server.js';
import { serveUpload } from './upload-endpoint.js';

export interface HttpOptions {
  readonly host: string;
  readonly port: number;
  /** Required before listening on anything but loopback. */
  readonly token?: string | undefined;
  /**
   * A 2025-era session with no request in flight, no open stream and no running capture for this
   * long is closed (a client that vanished without ending its session). Default: an hour.
   */
  readonly sessionIdleMs?: number | undefined;
  /** Every client sees every capture session (one shared pool) instead of only its own. */
  readonly sharedSessions?: boolean | undefined;
  readonly log?: (message: string) => void;
}

/**
 * Whose sessions 2026-07-28 requests see: such a request carries no MCP session, so the server
 * cannot tell two such clients apart; their captures form one pool of their own.
 */
export const STATELESS_OWNER = 'http-2026-07-28';

export interface HttpServer {
  readonly url: string;
  close(): Promise<void>;
}

const MAX_BODY = 4 * 1024 * 1024;
const DEFAULT_SESSION_IDLE_MS = 60 * 60_000;
/** A verified token never expires on its own: it is the operator's, valid while the server runs. */
const TOKEN_LIFETIME_S = 100 * 365 * 24 * 3600;

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

/**
 * Hostnames a client may name in Host (and Origin): loopback, the listening address, and when
 * listening on every address, this machine's own addresses and name. Any other name is a DNS
 * rebinding attempt. IPv6 addresses are bracketed, as the SDK's guards compare them.
 */
export function allowedHostnames(listenHost: string): string[] {
  const bracket = (h: string): string => (h.includes(':') ? `[${h.replace(/^\[|\]$/g, '')}]` : h);
  const names = new Set(['localhost', '127.0.0.1', '[::1]', bracket(listenHost.toLowerCase())]);
  if (listenHost === '0.0.0.0' || listenHost === '::' || listenHost === '[::]') {
    names.add(os.hostname().toLowerCase());
    for (const addrs of Object.values(os.networkInterfaces())) {
      for (const a of addrs ?? []) names.add(bracket(a.address.toLowerCase()));
    }
  }
  return [...names];
}

export async function serveHttp(app: SharkServer, options: HttpOptions): Promise<HttpServer> {
  const problem = httpOptionsProblem(options);
  if (problem) throw new Error(problem);
  const log = options.log ?? ((): void => undefined);
  const onerror = (err: Error): void => log(`HTTP: ${err.message}`);
  const transports = new Map<string, NodeStreamableHTTPServerTransport>();
  const shared = options.sharedSessions === true;
  const idleMs = options.sessionIdleMs ?? DEFAULT_SESSION_IDLE_MS;
  /** Per session: requests (and streams) open now, and when the last one ended. */
  const activity = new Map<string, { open: number; since: number }>();
  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const [id, a] of activity) {
        // Its captures end with it, so a running one keeps it (shared captures outlive sessions).
        const capturing =
          !shared &&
          app.sessions.listSync(id).some((s) => s.state.phase === 'running' || s.state.phase === 'starting');
        if (a.open > 0 || capturing || now - a.since < idleMs) continue;
        log(`HTTP session ${id} idle for ${Math.round((now - a.since) / 1000)} s: closing it`);
        activity.delete(id);
        void transports.get(id)?.close();
      }
    },
    Math.max(250, Math.min(idleMs / 4, 60_000)),
  );
  // A timer is not a process: it must not keep the server alive on its own.
  sweep.unref();
  const allowed = allowedHostnames(options.host);
  const validHost = hostHeaderValidation(allowed);
  const validOrigin = originValidation(allowed);
  const token = options.token ?? '';
  const verifier = {
    verifyAccessToken: (given: string): Promise<AuthInfo> =>
      tokensMatch(given, token)
        ? Promise.resolve({
            token: given,
            clientId: 'sharkmcp-token',
            scopes: [],
            expiresAt: Math.floor(Date.now() / 1000) + TOKEN_LIFETIME_S,
          })
        : Promise.reject(
            new OAuthError(OAuthErrorCode.InvalidToken, "The bearer token is not this server's."),
          ),
  };

  // 2026-07-28 requests: one server instance per request, built by the same factory.
  const modernOwner = shared ? undefined : STATELESS_OWNER;
  const modern = createMcpHandler((ctx) => app.createMcpServer({ era: ctx.era, owner: () => modernOwner }), {
    legacy: 'reject',
    onerror,
    maxRequestBodySize: MAX_BODY,
  });
  const serveModern = toNodeHandler(modern, { onerror, maxRequestBodySize: MAX_BODY });
  // Their clients hear of new and ended captures on their subscriptions/listen streams.
  const unwatch = app.sessions.onChange((session) => {
    if (session.owner === modernOwner) modern.notify.resourcesChanged();
  });

  const reject = (res: http.ServerResponse, status: number, message: string): void => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
  };

  const serveLegacy = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: unknown,
  ): Promise<void> => {
    const sessionId = req.headers['mcp-session-id'];
    let transport = typeof sessionId === 'string' ? transports.get(sessionId) : undefined;
    if (!transport) {
      if (typeof sessionId === 'string') return reject(res, 404, 'Unknown MCP session: start a new one.');
      if (req.method !== 'POST') return reject(res, 400, 'No MCP session: send an initialize request first.');
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
        activity.delete(id);
        log(`HTTP session ${id} closed`);
        // Its captures end with it, unless they are everyone's.
        if (!shared) void app.sessions.deleteOwnedBy(id);
      };
      await app
        .createMcpServer({ era: 'legacy', owner: () => (shared ? undefined : created.sessionId) })
        .connect(created);
      transport = created;
    }
    const known = transport.sessionId;
    const a = (known === undefined ? undefined : activity.get(known)) ?? { open: 0, since: Date.now() };
    if (known !== undefined) activity.set(known, a);
    a.open++;
    res.on('close', () => {
      a.open--;
      a.since = Date.now();
    });
    await transport.handleRequest(req, res, body);
    // The handshake names the session only now.
    if (known === undefined && transport.sessionId !== undefined) activity.set(transport.sessionId, a);
  };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const upload = url.pathname === '/uploads' || url.pathname.startsWith('/uploads/');
      if (url.pathname !== '/mcp' && !upload)
        return reject(res, 404, 'Not found: the MCP endpoint is /mcp (and captures are sent to /uploads).');
      if (!validHost(req, res) || !validOrigin(req, res)) return;
      if (token !== '') {
        try {
          await verifyBearerToken(req.headers.authorization, { verifier });
        } catch (err) {
          return await sendResponse(res, bearerAuthChallengeResponse(err));
        }
      }
      if (upload)
        return await serveUpload(app.uploads, req, res, url, { log, isSession: (id) => transports.has(id) });
      let body: unknown;
      if (req.method === 'POST') {
        if (!isJsonContentType(req.headers['content-type'])) {
          return reject(res, 415, 'Unsupported Media Type: send the request as application/json.');
        }
        body = await readJson(req);
        if (body instanceof Error)
          return reject(res, body.message.startsWith('Request body too large') ? 413 : 400, body.message);
      }
      const legacy = await isLegacyRequest(await toWebRequest(req, body ?? null), body ?? null, {
        maxRequestBodySize: MAX_BODY,
      });
      if (legacy) await serveLegacy(req, res, body);
      else await serveModern(req, res, body);
    })().catch((err: unknown) => {
      log(`HTTP request failed: ${err instanceof Error ? err.message : String(err)}`);
      if (!res.headersSent) reject(res, 500, 'Internal error.');
      else res.end();
    });
  };
  const server = http.createServer(handle);
  // "Expect: 100-continue" (curl sends it for large uploads): the body is asked for only once the
  // checks have passed, so an upload refused by its declared size is never sent.
  server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/uploads') (req as ContinueRequest).sendContinue = () => res.writeContinue();
    else res.writeContinue();
    handle(req, res);
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
      clearInterval(sweep);
      await Promise.all([...transports.values()].map((t) => t.close().catch(() => undefined)));
      unwatch();
      await modern.close().catch(() => undefined);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A request whose client waits for "100 Continue" before it sends the body. */
export type ContinueRequest = http.IncomingMessage & { sendContinue?: () => void };

function tokensMatch(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return token !== '' && a.length === b.length && timingSafeEqual(a, b);
}

/** Writes a web-standard Response (the SDK's token challenge) to a Node response. */
async function sendResponse(res: http.ServerResponse, response: Response): Promise<void> {
  res.writeHead(response.status, Object.fromEntries(response.headers.entries()));
  res.end(Buffer.from(await response.arrayBuffer()));
}

function readJson(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        resolve(new Error(`Request body too large: at most ${MAX_BODY} bytes.`));
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
