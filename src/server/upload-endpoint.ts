// PUT or POST /uploads: a client on another machine sends a capture file as the request's raw body
// and gets back an id every tool takes as its source; DELETE /uploads/<id> removes one. Behind the
// same Host, Origin and bearer-token checks as /mcp (http.ts). Uploads count against a quota per
// client: its MCP session (the Mcp-Session-Id header of a session this server has open) or, without
// one, its address; a made-up session id counts as the address, so it gives no quota of its own.
import type http from 'node:http';
import { UploadError } from '../capture/uploads.js';
import type { UploadStore } from '../capture/uploads.js';
import type { ContinueRequest } from './http.js';

function send(res: http.ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
}

function ownerOf(req: http.IncomingMessage, isSession: (id: string) => boolean): string {
  const session = req.headers['mcp-session-id'];
  return typeof session === 'string' && isSession(session)
    ? `session ${session}`
    : `address ${req.socket.remoteAddress ?? '?'}`;
}

export async function serveUpload(
  uploads: UploadStore,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
  server: {
    readonly log: (message: string) => void;
    /** Whether an MCP session of that id is open on this server. */
    readonly isSession: (id: string) => boolean;
  },
): Promise<void> {
  const { log } = server;
  const owner = ownerOf(req, server.isSession);
  const id = url.pathname.slice('/uploads/'.length);
  if (req.method === 'DELETE' && url.pathname.startsWith('/uploads/')) {
    const removed = await uploads.delete(id, owner);
    if (!removed) return send(res, 404, { error: `No upload '${id}' of yours on this server.` });
    return send(res, 200, { deleted: id });
  }
  if ((req.method !== 'PUT' && req.method !== 'POST') || url.pathname !== '/uploads') {
    res.setHeader('allow', 'PUT, POST, DELETE');
    return send(res, 405, {
      error:
        'Send a capture file as the raw body of PUT or POST /uploads (DELETE /uploads/<id> removes one).',
    });
  }
  const length = req.headers['content-length'];
  const declared = length === undefined ? undefined : Number(length);
  const name = url.searchParams.get('name') ?? undefined;
  try {
    uploads.admit(owner, Number.isFinite(declared) ? declared : undefined);
    (req as ContinueRequest).sendContinue?.();
    const u = await uploads.receive(req, {
      owner,
      name: name?.slice(0, 200),
      declaredBytes: Number.isFinite(declared) ? declared : undefined,
    });
    log(`upload ${u.id} received from ${owner}: ${u.bytes} bytes, ${u.packets} packets`);
    return send(res, 201, {
      id: u.id,
      source: u.id,
      bytes: u.bytes,
      packets: u.packets,
      name: u.name ?? null,
      expiresAt: u.expiresAt.toISOString(),
      use: `Give "${u.id}" as source (or filePath) to any tool. It is removed ${Math.round(uploads.limits.ttlMs / 60_000)} minutes after its last use, or with DELETE /uploads/${u.id}.`,
    });
  } catch (err) {
    if (err instanceof UploadError) {
      // The rest of an oversized body is not read: the connection closes after the answer.
      if (err.status === 413) res.setHeader('connection', 'close');
      return send(res, err.status, { error: err.message });
    }
    throw err;
  }
}
