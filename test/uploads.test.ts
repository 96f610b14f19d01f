// Captures sent over HTTP: a client on another machine PUTs a capture file to /uploads of the built
// `sharkmcp --http` and reads it with the tools by the id it gets back. The capture is one the test
// made on loopback, so its packets are known.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import http from 'node:http';
import { readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/client';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { existsSync } from 'node:fs';
import { Readable } from 'node:stream';
import { UploadStore } from '../src/capture/uploads.js';
import { RuntimeDir } from '../src/storage/runtime-dir.js';
import { locateWiresharkTools } from '../src/wireshark/locate.js';
import { ProcessGroup } from '../src/wireshark/process.js';
import { captureLoopback, requireCapture, tempDir } from './helpers/loopback-capture.js';
import { startHttpServer, stopChildren } from './helpers/http-server.js';
import type { HttpChild } from './helpers/http-server.js';
import { readAnswer } from './helpers/mcp-client.js';

after(stopChildren);

const TOKEN = 'upload-test-token';

/** The server's private directory (sharkmcp-<pid>-*), where uploads are kept. */
async function privateFiles(pid: number | undefined): Promise<string[]> {
  const dirs = (await readdir(os.tmpdir())).filter((d) => d.startsWith(`sharkmcp-${pid}-`));
  const files = await Promise.all(dirs.map((d) => readdir(path.join(os.tmpdir(), d)).catch(() => [])));
  return files.flat();
}

/**
 * A pcap file of `records` Ethernet frames of 1,000 zero bytes, framed by hand (a capture's record
 * framing, not its packets' dissection): a capture of a known size, made without capturing.
 */
function syntheticCapture(records: number): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65_535, 16);
  header.writeUInt32LE(1, 20); // Ethernet
  const record = Buffer.alloc(16 + 1_000);
  record.writeUInt32LE(1_000, 8);
  record.writeUInt32LE(1_000, 12);
  return Buffer.concat([header, ...Array.from({ length: records }, () => record)]);
}

describe('captures sent over HTTP (/uploads)', () => {
  let server: HttpChild;
  let base: string;
  let capture: Buffer;
  let captureFile: string;

  before(async () => {
    server = await startHttpServer(['--token', TOKEN], {
      SHARKMCP_MAX_UPLOAD_MB: '1',
      SHARKMCP_UPLOAD_QUOTA_MB: '2',
    });
    base = server.url.replace(/\/mcp$/, '');
  });

  const put = (body: Buffer | string, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(`${base}/uploads?name=probe.pcapng`, {
      method: 'PUT',
      body,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/octet-stream', ...headers },
    });

  it('takes a capture and answers with an id every tool reads as its source', async (t) => {
    if (!(await requireCapture(t))) return;
    const dir = await tempDir();
    // 12 datagrams to a port of the test's own.
    captureFile = await captureLoopback(
      dir,
      'upload',
      'udp port 47811',
      async () => {
        const s = dgram.createSocket('udp4');
        for (let i = 0; i < 12; i++)
          await new Promise((r) => s.send(`upload-probe-${i}`, 47811, '127.0.0.1', r));
        s.close();
      },
      12,
    );
    capture = await readFile(captureFile);
    const response = await put(capture);
    assert.equal(response.status, 201, await response.clone().text());
    const answer = (await response.json()) as {
      id: string;
      packets: number;
      bytes: number;
      expiresAt: string;
    };
    assert.match(answer.id, /^upload_[0-9a-f]{32}$/);
    assert.equal(answer.packets, 12);
    assert.equal(answer.bytes, capture.length);

    const client = new Client({ name: 'upload-test', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(server.url), {
        requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } },
      }),
    );
    try {
      const listing = readAnswer(
        await client.callTool({ name: 'analyze_pcap_file', arguments: { source: answer.id } }),
      );
      assert.equal(listing.isError, false, listing.text);
      assert.equal((listing.text.match(/47811/g) ?? []).length, 12, listing.text);
      const summary = readAnswer(
        await client.callTool({ name: 'summarize_capture', arguments: { source: answer.id } }),
      );
      assert.equal(summary.isError, false, summary.text);
      assert.match(summary.text, /12 packets/);
      // Gone once deleted: the tools say so and what to do.
      const removed = await fetch(`${base}/uploads/${answer.id}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      assert.equal(removed.status, 200);
      const after = readAnswer(
        await client.callTool({ name: 'analyze_pcap_file', arguments: { source: answer.id } }),
      );
      assert.equal(after.isError, true);
      assert.match(after.text, /no upload .* Send the capture again/);
    } finally {
      await client.close();
    }
    assert.deepEqual(
      (await privateFiles(server.child.pid)).filter((f) => f.startsWith('upload_')),
      [],
      'the deleted upload left no file',
    );
  });

  it('refuses what is not a capture, and what passes the size cap, keeping nothing', async () => {
    const text = await put('GET / HTTP/1.1\r\nHost: example\r\n\r\n');
    assert.equal(text.status, 415);
    assert.match(((await text.json()) as { error: string }).error, /not a capture file/);
    // Past the 1 MB cap: refused from its declared length before the body is sent (a client that
    // waits for "100 Continue", as curl does for large files), and cut off when it declares none.
    const declared = await new Promise<{ status: number; body: string; sentBody: boolean }>(
      (resolve, reject) => {
        let sentBody = false;
        const req = http.request(`${base}/uploads`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-length': 1_500_000, expect: '100-continue' },
        });
        req.on('continue', () => {
          sentBody = true;
          req.end(Buffer.alloc(1_500_000));
        });
        req.on('response', (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, sentBody }));
        });
        req.on('error', reject);
      },
    );
    assert.equal(declared.status, 413);
    assert.equal(declared.sentBody, false, 'the body was never asked for');
    assert.match(declared.body, /larger than the 1 MB/);
    const streamed = await fetch(`${base}/uploads`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < 15; i++) controller.enqueue(new Uint8Array(100_000));
          controller.close();
        },
      }),
      duplex: 'half',
    });
    assert.equal(streamed.status, 413);
    assert.deepEqual(
      (await privateFiles(server.child.pid)).filter((f) => f.startsWith('upload_')),
      [],
      'no partial upload is left',
    );
  });

  it('counts a quota per client, which a made-up session id does not escape, and a delete gives room back', async () => {
    // 0.8 MB each, under the 1 MB cap: two fit the 2 MB quota, a third does not.
    const big = syntheticCapture(780);
    const first = await put(big);
    assert.equal(first.status, 201, await first.clone().text());
    const second = await put(big);
    assert.equal(second.status, 201, await second.clone().text());
    const third = await put(big, { 'mcp-session-id': 'not-a-session-of-this-server' });
    assert.equal(third.status, 413);
    assert.match(((await third.json()) as { error: string }).error, /quota of 2 MB .*DELETE \/uploads/);
    const firstId = ((await first.json()) as { id: string }).id;
    const removed = await fetch(`${base}/uploads/${firstId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(removed.status, 200);
    const again = await put(big);
    assert.equal(again.status, 201, await again.clone().text());
    for (const answer of [second, again]) {
      const { id } = (await answer.json()) as { id: string };
      await fetch(`${base}/uploads/${id}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${TOKEN}` },
      });
    }
    assert.deepEqual(
      (await privateFiles(server.child.pid)).filter((f) => f.startsWith('upload_')),
      [],
    );
  });

  it('removes an upload whose client goes away half-way', async () => {
    const req = http.request(`${base}/uploads`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-length': 600_000 },
    });
    const ended = new Promise<void>((resolve, reject) => {
      req.on('error', () => resolve());
      req.on('close', () => resolve());
      req.on('response', () => reject(new Error('an answer to a body that never ended')));
    });
    await new Promise((r) => req.write(syntheticCapture(200), r));
    let partial: string[] = [];
    for (let i = 0; i < 50 && partial.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      partial = (await privateFiles(server.child.pid)).filter((f) => f.startsWith('upload_'));
    }
    assert.equal(partial.length, 1, 'the upload is being written');
    req.destroy();
    await ended;
    let left: string[] = [];
    for (let i = 0; i < 50; i++) {
      left = (await privateFiles(server.child.pid)).filter((f) => f.startsWith('upload_'));
      if (left.length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(left, [], 'the partial upload is removed');
  });

  it('asks for the token like /mcp does', async () => {
    const response = await fetch(`${base}/uploads`, { method: 'PUT', body: 'x' });
    assert.equal(response.status, 401);
    const wrongHost = await fetch(`${base}/uploads`, {
      method: 'PUT',
      body: 'x',
      headers: { authorization: `Bearer ${TOKEN}`, origin: 'http://evil.example' },
    });
    assert.equal(wrongHost.status, 403);
  });
});

describe("an upload's expiry", () => {
  it('removes an upload once unused for its time to live; each use starts that time again', async () => {
    const group = new ProcessGroup();
    const runtime = new RuntimeDir(await tempDir());
    const tools = locateWiresharkTools(group);
    const ttlMs = 1_000;
    const store = new UploadStore(group, () => tools, runtime, { maxBytes: 1e6, quotaBytes: 2e6, ttlMs });
    try {
      const u = await store.receive(Readable.from([syntheticCapture(3)]), { owner: 'address test' });
      assert.equal(u.packets, 3);
      const firstExpiry = u.expiresAt.getTime();
      await store.sweep(firstExpiry - 1);
      assert.ok(store.get(u.id), 'kept before its time');
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(store.file(u.id), u.file, 'a use finds it, and starts its time again');
      assert.ok(u.expiresAt.getTime() > firstExpiry);
      await store.sweep(firstExpiry + 1);
      assert.ok(store.get(u.id) && existsSync(u.file), 'kept past the first expiry, once used');
      // Then left alone: the store's own sweeps remove it, file and all.
      for (let i = 0; i < 50 && store.get(u.id); i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(store.get(u.id), undefined);
      assert.equal(existsSync(u.file), false, 'its file is gone');
    } finally {
      store.close();
      await runtime.close();
      await group.close();
    }
  });
});
