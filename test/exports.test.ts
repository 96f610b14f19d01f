// export_packets and export_objects (issue 16, point 5) on a capture this file makes: a Node HTTP
// server on loopback serves files (text, binary, names that try to leave the directory, a Windows
// device name, a hidden name, a duplicate, a name longer than file systems allow) and curl fetches
// them. The objects listed are checked against a direct tshark query and what the server sent; the
// files saved must be byte-equal to what it served, all inside saveTo; the packets exported must be
// as many as a direct tshark count of the same filter. Refusals: an existing file, a path outside
// the allowed directories, a name that clashes in saveTo.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { isProcessAlive } from '../src/util/pid.js';
import { EMPTY_PCAP } from '../src/wireshark/tshark.js';
import { exportDirs } from './helpers/export-dirs.js';
import { pidsIn, writeHangingTool } from './helpers/fake-tool.js';
import { captureLoopback, captureUnavailable, requireCapture } from './helpers/loopback-capture.js';
import { connect, useServer } from './helpers/in-process.js';
import { corpus } from './helpers/paths.js';
import { waitFor } from './helpers/processes.js';
import { tsharkFields } from './helpers/tshark.js';
import { close, listen } from './helpers/traffic.js';
import type { ExportedObject } from '../src/analysis/exports.js';

const run = promisify(execFile);

/** This file's loopback addresses (its own range, so that tests running beside it never meet). */
const HOST = '127.83.140.10';
const CLIENT = '127.83.140.20';
/** Where the capture-session test sends its datagrams. */
const SESSION_HOST = '127.83.140.30';

interface Served {
  readonly body: Buffer;
  readonly type: string;
}

/** What the server serves, by the request path exactly as the client sends it. */
const SERVED = new Map<string, Served>([
  [
    '/files/report.txt',
    { body: Buffer.from('quarterly report\n'.repeat(40)), type: 'text/plain; charset=utf-8' },
  ],
  ['/img/logo.bin', { body: randomBytes(5_000), type: 'application/octet-stream' }],
  ['/../../etc/evil', { body: Buffer.from('root::0:0::/:/bin/sh\n'), type: 'text/plain' }],
  ['/a%2F..%2Fb', { body: Buffer.from('{"escaped":true}'), type: 'application/json' }],
  ['/dup/report.txt', { body: Buffer.from('another report with the same name\n'), type: 'text/plain' }],
  ['/CON', { body: Buffer.from('a Windows device name\n'), type: 'text/plain' }],
  ['/.hidden', { body: Buffer.from('a hidden name\n'), type: 'text/plain' }],
  [`/${'n'.repeat(300)}.txt`, { body: Buffer.from('a very long name\n'), type: 'text/plain' }],
  // An empty body is no object.
  ['/empty', { body: Buffer.alloc(0), type: 'text/plain' }],
]);

/** A POST: its request body is an object too, and so is the server's answer to it. */
const UPLOAD = { path: '/upload', body: 'name=capture&size=1234', type: 'application/x-upload' };
const UPLOAD_ANSWER = Buffer.from(`got ${UPLOAD.body.length} bytes\n`);
/** The objects the capture carries: every non-empty GET answer, the upload and its answer. */
const OBJECTS = [...SERVED.values()].filter((s) => s.body.length > 0).length + 2;

/** What the object a row lists must hold: what the client sent or the server served. */
function expectedBody(row: ObjectRow): Buffer | undefined {
  if (row.contentType === UPLOAD.type) return Buffer.from(UPLOAD.body);
  const p = pathOf(row.uri ?? '');
  return p === UPLOAD.path ? UPLOAD_ANSWER : SERVED.get(p)?.body;
}

async function fetchAll(port: number): Promise<void> {
  for (const p of SERVED.keys()) {
    // --path-as-is: curl would otherwise resolve "/../../etc/evil" itself before sending it.
    await run('curl', [
      '-s',
      '--path-as-is',
      '--interface',
      CLIENT,
      '-o',
      '/dev/null',
      `http://${HOST}:${port}${p}`,
    ]);
  }
  await run('curl', [
    '-s',
    '--interface',
    CLIENT,
    '-o',
    '/dev/null',
    '-H',
    `Content-Type: ${UPLOAD.type}`,
    '--data-binary',
    UPLOAD.body,
    `http://${HOST}:${port}${UPLOAD.path}`,
  ]);
}

/** A row of export_objects' structuredContent, as the tool's output schema types it. */
type ObjectRow = ExportedObject;

describe('export_objects and export_packets', () => {
  const server = useServer();
  let capture = '';

  before(async () => {
    // Each test says why it skips (or fails under CI) through requireCapture.
    if ((await captureUnavailable()) !== undefined) return;
    const web = http.createServer((req, res) => {
      if (req.method === 'POST') {
        req.resume();
        req.on('end', () => {
          res.setHeader('Content-Type', 'text/plain');
          res.end(UPLOAD_ANSWER);
        });
        return;
      }
      const served = SERVED.get(req.url ?? '');
      if (!served) {
        res.statusCode = 404;
        res.end();
        return;
      }
      res.setHeader('Content-Type', served.type);
      res.end(served.body);
    });
    const { host, port } = await listen(web, HOST, 80);
    assert.equal(host, HOST, 'the test server must listen on its own loopback address');
    try {
      capture = await captureLoopback(
        server.dir,
        'objects',
        `host ${HOST}`,
        () => fetchAll(port),
        (SERVED.size + 1) * 8,
      );
    } finally {
      await close(web);
    }
  });

  it('lists every HTTP object with its size, content type and frame, writing nothing', async (t) => {
    if (!(await requireCapture(t))) return;
    const before = await readdir(server.dir);
    const answer = await server.mcp.call('export_objects', { source: capture, protocol: 'http', limit: 100 });
    assert.equal(answer.isError, false, answer.text);
    const rows = answer.structured?.['objects'] as ObjectRow[];
    // Independently: the messages with a body as tshark sees them (answers with a length, and the
    // POST), their frames, content types and URIs.
    const messages = await tsharkFields(
      capture,
      ['frame.number', 'http.content_type', 'http.response_for.uri', 'http.request.full_uri'],
      { filter: '(http.response && http.content_length > 0) || http.request.method == "POST"' },
    );
    assert.equal(messages.length, OBJECTS);
    assert.deepEqual(
      rows.map((r) => [String(r.frame), r.contentType, r.uri]),
      messages.map((r) => [r[0], r[1], r[2] || r[3]]),
    );
    for (const row of rows) {
      const body = expectedBody(row);
      assert.ok(body, `nothing was sent for ${row.uri}`);
      assert.equal(row.bytes, body.length, row.uri ?? '');
      const served = SERVED.get(pathOf(row.uri ?? ''));
      if (served) assert.equal(row.contentType, served.type);
    }
    assert.equal(answer.structured?.['savedIn'], null);
    assert.match(answer.text, /Listed only: give saveTo/);
    // The 300-letter URI: its start in the text, all of it in structuredContent.
    const long = rows.find((r) => (r.uri ?? '').includes('n'.repeat(300)));
    assert.ok(long?.uri);
    assert.ok(answer.text.includes(`${long.uri.slice(0, 160)}…`), answer.text);
    assert.ok(!answer.text.includes(long.uri));
    assert.deepEqual(await readdir(server.dir), before, 'listing wrote into the directory');
    assert.deepEqual(await exportDirs(), []);
  });

  it('saves them byte-equal to what the server sent, all inside saveTo, under safe names', async (t) => {
    if (!(await requireCapture(t))) return;
    const saveTo = path.join(server.dir, 'saved');
    const answer = await server.mcp.call('export_objects', {
      source: capture,
      protocol: 'http',
      saveTo,
      limit: 100,
    });
    assert.equal(answer.isError, false, answer.text);
    const rows = answer.structured?.['objects'] as ObjectRow[];
    assert.equal(answer.structured?.['savedIn'], saveTo);
    assert.equal(rows.length, OBJECTS);
    // Exactly the listed names, as plain files directly inside saveTo.
    const inDir = await readdir(saveTo, { withFileTypes: true });
    assert.deepEqual(inDir.map((e) => e.name).sort(), rows.map((r) => r.name).sort());
    assert.ok(inDir.every((e) => e.isFile()));
    for (const row of rows) {
      // eslint-disable-next-line no-control-regex -- control characters are what these names must not hold
      assert.doesNotMatch(row.name, /[/\\\x00-\x1f]|^\.|^con(\.|$)/i, `unsafe name ${row.name}`);
      assert.ok(Buffer.byteLength(row.name) <= 210, `name too long: ${row.name.length}`);
      assert.deepEqual(await readFile(path.join(saveTo, row.name)), expectedBody(row), row.name);
    }
    // Nothing landed next to saveTo or where "../../etc/evil" points from it.
    assert.equal(existsSync(path.join(server.dir, 'evil')), false);
    assert.equal(existsSync(path.join(path.dirname(server.dir), 'etc')), false);
    assert.equal(existsSync(path.join(server.dir, 'b')), false);
    // The two report.txt got two names.
    assert.equal(rows.filter((r) => /^report.*\.txt$/.test(r.name)).length, 2);
    assert.deepEqual(await exportDirs(), []);
  });

  it('refuses to save over a file already in saveTo, and writes nothing', async (t) => {
    if (!(await requireCapture(t))) return;
    const saveTo = path.join(server.dir, 'occupied');
    await mkdir(saveTo);
    await writeFile(path.join(saveTo, 'report.txt'), 'mine');
    const answer = await server.mcp.call('export_objects', { source: capture, protocol: 'http', saveTo });
    assert.equal(answer.isError, true, answer.text);
    assert.match(
      answer.text,
      /already holds "report\.txt".*never overwrites.*Give a new or empty directory/s,
    );
    assert.deepEqual(await readdir(saveTo), ['report.txt']);
    assert.equal(await readFile(path.join(saveTo, 'report.txt'), 'utf8'), 'mine');
    assert.deepEqual(await exportDirs(), []);
  });

  it('refuses a saveTo outside the allowed directories, naming them', async (t) => {
    if (!(await requireCapture(t))) return;
    const calls = [
      ['export_objects', { protocol: 'http', saveTo: '/usr/local/sharkmcp-objects' }],
      ['export_packets', { stream: 0, saveTo: '/usr/local/sharkmcp-export.pcapng' }],
    ] as const;
    for (const [tool, args] of calls) {
      const saveTo = args.saveTo;
      const answer = await server.mcp.call(tool, { source: capture, ...args });
      assert.equal(answer.isError, true, answer.text);
      assert.match(
        answer.text,
        /saveTo: ".*" is outside the directories this server may use \(.+\).*--allow-dir/,
      );
      assert.equal(existsSync(saveTo), false);
    }
  });

  it('export_packets writes the packets a display filter selects: as many as tshark counts', async (t) => {
    if (!(await requireCapture(t))) return;
    const filter = 'http.request.uri contains "report"';
    const saveTo = path.join(server.dir, 'reports.pcapng');
    const answer = await server.mcp.call('export_packets', {
      source: capture,
      displayFilter: filter,
      saveTo,
    });
    assert.equal(answer.isError, false, answer.text);
    const expected = (await tsharkFields(capture, ['frame.number'], { filter })).length;
    assert.equal(expected, 2);
    assert.equal(await capinfosCount(saveTo), expected);
    assert.equal(answer.structured?.['packets'], expected);
    assert.equal(answer.structured?.['bytes'], (await stat(saveTo)).size);
    assert.deepEqual(
      (await tsharkFields(saveTo, ['http.request.uri'])).map((r) => r[0]),
      ['/files/report.txt', '/dup/report.txt'],
    );
    assert.match(answer.text, new RegExp(`Exported 2 packets of .* to ${saveTo}`));
    assert.ok(
      answer.links.some((l) => l.includes(encodeURIComponent(saveTo))),
      'no link to the new file',
    );
  });

  it('export_packets writes one TCP stream: as many packets as tshark counts in it', async (t) => {
    if (!(await requireCapture(t))) return;
    const saveTo = path.join(server.dir, 'stream1.pcapng');
    const answer = await server.mcp.call('export_packets', {
      source: capture,
      stream: 1,
      protocol: 'tcp',
      saveTo,
    });
    assert.equal(answer.isError, false, answer.text);
    const expected = (await tsharkFields(capture, ['frame.number'], { filter: 'tcp.stream eq 1' })).length;
    assert.ok(expected >= 8, `stream 1 has ${expected} packets`);
    assert.equal(await capinfosCount(saveTo), expected);
    assert.equal(answer.structured?.['filter'], 'tcp.stream eq 1');
  });

  it('export_packets embeds a keylog when asked, and says what is missing when it cannot', async (t) => {
    if (!(await requireCapture(t))) return;
    const keylog = path.join(server.dir, 'keys.log');
    const line = `CLIENT_RANDOM ${'ab'.repeat(32)} ${'cd'.repeat(48)}`;
    await writeFile(keylog, `${line}\n`);
    const saveTo = path.join(server.dir, 'with-keys.pcapng');
    const answer = await server.mcp.call('export_packets', {
      source: capture,
      stream: 0,
      saveTo,
      sslKeylogFile: keylog,
      embedKeylog: true,
    });
    assert.equal(answer.isError, false, answer.text);
    assert.equal(answer.structured?.['keylogEmbedded'], true);
    assert.ok((await readFile(saveTo)).includes(line), 'the keylog is not in the file');
    assert.equal(
      await capinfosCount(saveTo),
      (await tsharkFields(capture, ['frame.number'], { filter: 'tcp.stream eq 0' })).length,
    );

    const without = await server.mcp.call('export_packets', {
      source: capture,
      stream: 0,
      saveTo: path.join(server.dir, 'no-keys.pcapng'),
      embedKeylog: true,
    });
    assert.equal(without.isError, true, without.text);
    assert.match(without.text, /embedKeylog needs a TLS keylog: give sslKeylogFile/);
    assert.equal(existsSync(path.join(server.dir, 'no-keys.pcapng')), false);
  });

  it('export_packets reads a capture session by its id, and links the file it wrote', async (t) => {
    if (!(await requireCapture(t))) return;
    const started = await server.mcp.call('start_capture_session', {
      captureFilter: `host ${SESSION_HOST}`,
      timeout: 30,
    });
    assert.equal(started.isError, false, started.text);
    const id = String(started.structured?.['id']);
    await sendDatagrams(12);
    const stopped = await server.mcp.call('stop_capture_session', { sessionId: id });
    assert.equal(stopped.isError, false, stopped.text);
    const sessionFile = String((stopped.structured?.['session'] as { file: string }).file);
    const saveTo = path.join(server.dir, 'from-session.pcapng');
    const FILTER = 'udp.length > 16 && !icmp';
    const answer = await server.mcp.call('export_packets', {
      source: id,
      displayFilter: FILTER,
      saveTo,
    });
    assert.equal(answer.isError, false, answer.text);
    const expected = (await tsharkFields(sessionFile, ['frame.number'], { filter: FILTER })).length;
    // What the test sent: the 6 long datagrams (the ICMP errors quote them, so they are left out).
    assert.equal(expected, 6);
    assert.equal(await capinfosCount(saveTo), expected);
    assert.match(answer.text, new RegExp(`of session '${id}'`));
    assert.deepEqual(answer.links, [`sharkmcp://captures/file/${encodeURIComponent(saveTo)}`]);
  });

  it('export_packets never overwrites, and says what to do instead', async (t) => {
    if (!(await requireCapture(t))) return;
    const saveTo = path.join(server.dir, 'existing.pcapng');
    await writeFile(saveTo, 'keep me');
    const answer = await server.mcp.call('export_packets', {
      source: capture,
      displayFilter: 'http',
      saveTo,
    });
    assert.equal(answer.isError, true, answer.text);
    assert.match(
      answer.text,
      /already exists, and exports never overwrite a file\. Choose another file name/,
    );
    assert.equal(await readFile(saveTo, 'utf8'), 'keep me');
  });

  it('export_packets says what to give when nothing is selected or nothing matches', async (t) => {
    if (!(await requireCapture(t))) return;
    const saveTo = path.join(server.dir, 'none.pcapng');
    const nothing = await server.mcp.call('export_packets', { source: capture, saveTo });
    assert.equal(nothing.isError, true);
    assert.match(nothing.text, /Give the packets to export: a displayFilter .* or a stream/);
    const noMatch = await server.mcp.call('export_packets', {
      source: capture,
      displayFilter: 'dns',
      saveTo,
    });
    assert.equal(noMatch.isError, true);
    assert.match(noMatch.text, /No packet of .* matches dns, so nothing was written/);
    const badFilter = await server.mcp.call('export_packets', {
      source: capture,
      displayFilter: 'http.nonsense ==',
      saveTo,
    });
    assert.equal(badFilter.isError, true);
    assert.match(badFilter.text, /displayFilter/);
    assert.equal(existsSync(saveTo), false);
    assert.deepEqual(await exportDirs(), []);
  });
});

/** `count` UDP datagrams to SESSION_HOST, every other one longer than 8 bytes of payload. */
async function sendDatagrams(count: number): Promise<void> {
  const socket = dgram.createSocket('udp4');
  try {
    for (let i = 0; i < count; i++) {
      const payload = i % 2 === 0 ? `short${i % 10}` : `a longer datagram ${i}`;
      await new Promise<void>((resolve, reject) =>
        socket.send(payload, 9, SESSION_HOST, (err) => (err ? reject(err) : resolve())),
      );
    }
  } finally {
    socket.close();
  }
}

/** The request path of an absolute URI as the client sent it (no normalisation of "..", "%2F"). */
function pathOf(uri: string): string {
  return uri.replace(/^[a-z]+:\/\/[^/]*/, '');
}

async function capinfosCount(file: string): Promise<number> {
  const { stdout } = await run('capinfos', ['-M', '-T', '-r', '-c', file]);
  return Number(stdout.trim().split('\t').at(-1));
}

describe('export_objects on SMB2 (public capture, when present)', () => {
  const server = useServer();

  it('lists and saves the files an SMB2 session carried, as tshark itself exports them', async (t) => {
    const smb = corpus('zeek/testing/btest/Traces/smb/smb2.pcap');
    if (!smb) return t.skip('the shared captures are not here');
    // Independently: tshark's own export, into a directory of the test's.
    const direct = path.join(server.dir, 'direct');
    await mkdir(direct);
    await run('tshark', ['-r', smb, '-q', '--export-objects', `smb,${direct}`]);
    const expected = await readdir(direct);
    assert.ok(expected.length >= 2, expected.join(', '));
    // Independently: the Create requests and the paths they asked for (tshark's names add a "\\").
    const creates = await tsharkFields(smb, ['frame.number', 'smb2.filename'], {
      filter: 'smb2.cmd == 5 && smb2.flags.response == 0 && smb2.filename',
    });

    const saveTo = path.join(server.dir, 'smb');
    const answer = await server.mcp.call('export_objects', { source: smb, protocol: 'smb', saveTo });
    assert.equal(answer.isError, false, answer.text);
    const rows = answer.structured?.['objects'] as ObjectRow[];
    assert.equal(rows.length, expected.length);
    // tshark's names start with an escaped backslash ("%5c"); the saved ones are the same files.
    const sizes = await Promise.all(expected.map(async (n) => (await stat(path.join(direct, n))).size));
    const bySize = (a: number, b: number): number => a - b;
    assert.deepEqual(rows.map((r) => r.bytes).sort(bySize), [...sizes].sort(bySize));
    for (const [i, n] of expected.entries()) {
      const row = rows.find((r) => r.name === n);
      assert.ok(row, `${n} is not listed: ${rows.map((r) => r.name).join(', ')}`);
      assert.equal(row.bytes, sizes[i]);
      assert.deepEqual(await readFile(path.join(saveTo, n)), await readFile(path.join(direct, n)));
      // SMB declares no media type: a PDF is named by its magic bytes, and marked as sniffed.
      const pdf = (await readFile(path.join(direct, n))).subarray(0, 5).toString('latin1') === '%PDF-';
      if (pdf) assert.deepEqual([row.contentType, row.contentTypeFrom], ['application/pdf', 'sniffed']);
      // The frame is the Create that opened the file, when exactly one asked for its path.
      const opens = creates.filter((c) => `%5c${c[1]}` === n);
      assert.equal(row.frame, opens.length === 1 ? Number(opens[0]?.[0]) : null, n);
    }
    assert.ok(rows.some((r) => r.contentType === 'application/pdf'));
    assert.ok(
      rows.every((r) => r.frame !== null),
      'each file of this capture was opened once',
    );
    assert.doesNotMatch(answer.text, /no frame/);
  });
});

describe('a cancelled export', () => {
  const server = useServer();

  it('stops tshark and leaves neither its working files nor a half-made saveTo', async () => {
    // A tshark that hangs (a fault a real one cannot produce on demand) keeps the export running.
    const pidFile = path.join(server.dir, 'pids');
    const fake = await writeHangingTool(server.dir, 'tshark-hangs', pidFile);
    const source = path.join(server.dir, 'empty.pcap');
    await writeFile(source, EMPTY_PCAP);
    const mcp = await connect({
      SHARKMCP_TSHARK: fake,
      SHARKMCP_CONFIG_DIR: path.join(server.dir, 'config'),
    });
    const saveTo = path.join(server.dir, 'never');
    try {
      const controller = new AbortController();
      const call = mcp.client.callTool(
        { name: 'export_objects', arguments: { source, protocol: 'http', saveTo } },
        { signal: controller.signal },
      );
      await waitFor('the export to start tshark', () => pidsIn(pidFile).length > 0);
      const [pid] = pidsIn(pidFile);
      assert.ok(pid !== undefined);
      assert.notDeepEqual(await exportDirs(), [], 'the export works in a private directory');
      controller.abort();
      await assert.rejects(call);
      await waitFor(`tshark ${pid} to end`, () => !isProcessAlive(pid));
      await waitFor('the working files to go', async () => (await exportDirs()).length === 0);
      assert.equal(existsSync(saveTo), false);
    } finally {
      await mcp.close();
    }
  });
});
