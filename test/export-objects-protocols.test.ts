// export_objects beyond HTTP (issue 16, point 5), on captures this file makes on loopback: mails
// sent to a small SMTP server (Node's net) come back as IMF objects, files fetched from a small
// TFTP server (Node's dgram: RRQ, DATA, ACK) as TFTP objects, each with the frame it came from
// (a direct tshark query tells which) and a content type (declared for mails, sniffed from the
// bytes for TFTP). And the disk budget: a gzip bomb served over HTTP stops tshark early.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { exportBytes, exportDirs } from './helpers/export-dirs.js';
import { useServer } from './helpers/in-process.js';
import { captureLoopback, captureUnavailable, requireCapture } from './helpers/loopback-capture.js';
import { tsharkFields } from './helpers/tshark.js';
import { close, listen } from './helpers/traffic.js';
import type { ExportedObject } from '../src/analysis/exports.js';

/** This file's loopback addresses (its own range, so that tests running beside it never meet). */
const SERVER = '127.83.61.10';
const CLIENT = '127.83.61.20';

/** A row of export_objects' structuredContent, as the tool's output schema types it. */
type ObjectRow = ExportedObject;

/** The mails the client sends: two with the same subject, one whose subject is a hostile path. */
const SUBJECTS = ['Quarterly numbers', 'Quarterly numbers', '../../etc/cron.d/x: <now>?'];

function mailOf(subject: string, i: number): string {
  return `From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: ${subject}\r\n\r\nMail ${i}: ${subject}\r\n`;
}

/** An SMTP server that accepts every command and every mail, just enough for a client to send. */
function smtpServer(): net.Server {
  return net.createServer((socket) => {
    socket.write('220 test ESMTP\r\n');
    let buffer = '';
    let inData = false;
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1');
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end < 0) return;
          buffer = buffer.slice(end + 5);
          inData = false;
          socket.write('250 queued\r\n');
          continue;
        }
        const eol = buffer.indexOf('\r\n');
        if (eol < 0) return;
        const line = buffer.slice(0, eol);
        buffer = buffer.slice(eol + 2);
        if (/^DATA/i.test(line)) {
          inData = true;
          socket.write('354 go on\r\n');
        } else if (/^QUIT/i.test(line)) {
          socket.end('221 bye\r\n');
          return;
        } else socket.write('250 OK\r\n');
      }
    });
  });
}

/** One SMTP session that sends `mail`: each command waits for the server's answer. */
function sendMail(port: number, mail: string): Promise<void> {
  const commands = [
    'EHLO client.test',
    'MAIL FROM:<alice@example.test>',
    'RCPT TO:<bob@example.test>',
    'DATA',
    `${mail}.`,
    'QUIT',
  ];
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: SERVER, port, localAddress: CLIENT });
    let step = 0;
    socket.on('data', () => {
      const next = commands[step++];
      if (next !== undefined) socket.write(`${next}\r\n`);
    });
    socket.on('error', reject);
    socket.on('close', () => resolve());
  });
}

/** What the TFTP server serves: several blocks, one block, an exact multiple of 512, a PNG. */
const PNG = Buffer.concat([
  Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex'),
  Buffer.alloc(40, 1),
]);
const TFTP_FILES = new Map<string, Buffer>([
  ['boot/pxelinux.0', Buffer.alloc(1_300, 7)],
  ['notes.txt', Buffer.from('hello over tftp\n')],
  ['exact.bin', Buffer.alloc(1_024, 1)],
  ['img/logo.png', PNG],
]);

function tftpPacket(opcode: number, block: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(opcode, 0);
  head.writeUInt16BE(block, 2);
  return Buffer.concat([head, data]);
}

/** A TFTP server on port 69 (RFC 1350, reads only, 512-byte blocks), each transfer from a port of its own. */
async function tftpServer(): Promise<{ port: number; close: () => void }> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(69, SERVER, resolve));
  socket.on('message', (request, client) => {
    if (request.readUInt16BE(0) !== 1) return;
    const body = TFTP_FILES.get(request.subarray(2, request.indexOf(0, 2)).toString());
    if (!body) return;
    const transfer = dgram.createSocket('udp4');
    let block = 1;
    const send = (): void =>
      transfer.send(
        tftpPacket(3, block, body.subarray((block - 1) * 512, block * 512)),
        client.port,
        client.address,
      );
    transfer.on('message', (ack) => {
      if (ack.readUInt16BE(0) !== 4 || ack.readUInt16BE(2) !== block) return;
      if (block * 512 > body.length) {
        transfer.close();
        return;
      }
      block++;
      send();
    });
    transfer.bind(0, SERVER, send);
  });
  return { port: (socket.address() as { port: number }).port, close: () => socket.close() };
}

/** Reads `name` over TFTP; resolves once the last block is acknowledged. */
function tftpGet(port: number, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    socket.on('error', reject);
    socket.on('message', (data, from) => {
      const block = data.readUInt16BE(2);
      const last = data.length - 4 < 512;
      socket.send(tftpPacket(4, block), from.port, from.address, () => {
        if (last) socket.close(() => resolve());
      });
    });
    socket.bind(0, CLIENT, () =>
      socket.send(Buffer.concat([Buffer.from([0, 1]), Buffer.from(`${name}\0octet\0`)]), port, SERVER),
    );
  });
}

describe('export_objects for mails (IMF) and TFTP transfers', () => {
  const server = useServer();
  let capture = '';

  before(async () => {
    if ((await captureUnavailable()) !== undefined) return;
    const smtp = smtpServer();
    // Well-known ports: tshark dissects SMTP on 25 and TFTP on 69 (as the existing HTTP test uses 80).
    const smtpPort = 25;
    await new Promise<void>((resolve) => smtp.listen(smtpPort, SERVER, resolve));
    const tftp = await tftpServer();
    try {
      capture = await captureLoopback(server.dir, 'mail-and-tftp', `host ${SERVER}`, async () => {
        for (const [i, subject] of SUBJECTS.entries()) await sendMail(smtpPort, mailOf(subject, i));
        for (const name of TFTP_FILES.keys()) await tftpGet(tftp.port, name);
      });
    } finally {
      tftp.close();
      await new Promise((resolve) => smtp.close(resolve));
    }
  });

  it('lists each mail with the frame that carried it, and saves it', async (t) => {
    if (!(await requireCapture(t))) return;
    const saveTo = path.join(server.dir, 'mails');
    const answer = await server.mcp.call('export_objects', { source: capture, protocol: 'imf', saveTo });
    assert.equal(answer.isError, false, answer.text);
    const rows = answer.structured?.['objects'] as ObjectRow[];
    // Independently: the frames tshark dissects a mail in, with their subjects.
    const mails = await tsharkFields(capture, ['frame.number', 'imf.subject'], { filter: 'imf' });
    assert.deepEqual(
      mails.map((m) => m[1]),
      SUBJECTS,
    );
    assert.deepEqual(
      rows.map((r) => r.frame),
      mails.map((m) => Number(m[0])),
    );
    for (const [i, row] of rows.entries()) {
      assert.equal(row.contentType, 'message/rfc822');
      assert.equal(row.contentTypeFrom, 'declared');
      const saved = await readFile(path.join(saveTo, row.name), 'latin1');
      assert.equal(saved, mailOf(SUBJECTS[i] ?? '', i), row.name);
      assert.equal(row.bytes, Buffer.byteLength(saved));
    }
    // Two mails of one subject, two names; the hostile subject stays one file inside saveTo.
    assert.equal(new Set(rows.map((r) => r.name)).size, rows.length);
    assert.doesNotMatch(rows[2]?.name ?? '', /[/\\]/);
    assert.doesNotMatch(answer.text, /could not be matched|are not shown/);
    assert.match(answer.text, /message\/rfc822\t\d+/);
    assert.deepEqual(await exportDirs(), []);
  });

  it('lists each TFTP file with the frame of its last block and a sniffed type, byte-equal when saved', async (t) => {
    if (!(await requireCapture(t))) return;
    const saveTo = path.join(server.dir, 'tftp');
    const answer = await server.mcp.call('export_objects', { source: capture, protocol: 'tftp', saveTo });
    assert.equal(answer.isError, false, answer.text);
    const rows = answer.structured?.['objects'] as ObjectRow[];
    // Independently: tshark marks each transfer's last block "(last)" in its Info column.
    const lasts = (
      await tsharkFields(capture, ['frame.number', 'tftp.destination_file', '_ws.col.Info'], {
        filter: 'tftp.opcode == 3',
      })
    ).filter((r) => r[2]?.includes('(last)'));
    assert.deepEqual(
      lasts.map((r) => r[1]),
      [...TFTP_FILES.keys()],
    );
    assert.deepEqual(
      rows.map((r) => [r.frame, r.bytes]),
      lasts.map((r) => [Number(r[0]), TFTP_FILES.get(r[1] ?? '')?.length]),
    );
    for (const [i, [, body]] of [...TFTP_FILES].entries()) {
      const row = rows[i];
      assert.ok(row);
      assert.deepEqual(await readFile(path.join(saveTo, row.name)), body, row.name);
    }
    const png = rows.find((r) => r.name === 'logo.png');
    assert.equal(png?.contentType, 'image/png');
    assert.equal(png?.contentTypeFrom, 'sniffed');
    assert.match(answer.text, /image\/png \(sniffed\)/);
    // Bytes no magic number names: no type rather than a guess.
    assert.equal(rows.find((r) => r.name === 'notes.txt')?.contentType, null);
    assert.deepEqual(await exportDirs(), []);
  });
});

/** One response body of zeros, gzip-compressed: tiny on the wire, BOMB_BYTES once inflated. */
const BOMB_BYTES = 20 * 1024 * 1024;
const BOMBS = 8;

describe('export_objects under a disk budget (a gzip bomb)', () => {
  const server = useServer();
  // tshark keeps every object in memory until the capture is read: this server lets it hold
  // 200 MB beyond maxBytes, less than the bombs inflate to with tshark's own memory (~160 MB).
  const tight = useServer({ SHARKMCP_EXPORT_MEMORY_MB: '200' });
  let capture = '';
  const gzipped = zlib.gzipSync(Buffer.alloc(BOMB_BYTES), { level: 9 });

  before(async () => {
    if ((await captureUnavailable()) !== undefined) return;
    const web = http.createServer((_req, res) => {
      res.setHeader('Content-Type', 'application/octet-stream');
      res.setHeader('Content-Encoding', 'gzip');
      res.end(gzipped);
    });
    const { host, port } = await listen(web, SERVER, 80);
    assert.equal(host, SERVER);
    try {
      capture = await captureLoopback(server.dir, 'bomb', `host ${SERVER}`, async () => {
        for (let i = 0; i < BOMBS; i++) {
          await new Promise<void>((resolve, reject) => {
            http
              .get(
                { host: SERVER, port, path: `/bomb${i}.bin`, localAddress: CLIENT, agent: false },
                (res) => {
                  res.resume();
                  res.on('end', resolve);
                },
              )
              .on('error', reject);
          });
        }
      });
    } finally {
      await close(web);
    }
  });

  it('stops tshark once what it wrote passes maxBytes, says what to do, and leaves nothing', async (t) => {
    if (!(await requireCapture(t))) return;
    const maxBytes = 1_000_000;
    let peak = 0;
    let watching = true;
    const watch = (async () => {
      while (watching) {
        peak = Math.max(peak, await exportBytes());
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const answer = await server.mcp.call('export_objects', {
      source: capture,
      protocol: 'http',
      maxBytes,
      saveTo: path.join(server.dir, 'never'),
    });
    watching = false;
    await watch;
    assert.equal(answer.isError, true, answer.text);
    assert.match(answer.text, /stopped tshark.*passed maxBytes \(1\.0 MB.*nothing was saved/s);
    assert.match(answer.text, /inflate far beyond.*larger maxBytes.*export_packets/s);
    const written = /after (\d+) files?/.exec(answer.text);
    assert.ok(written && Number(written[1]) < BOMBS, `tshark was not stopped early: ${answer.text}`);
    // The whole export would be BOMBS inflated bodies; what the watch saw stayed far below.
    t.diagnostic(`work directory peak: ${peak} bytes; answer: ${answer.text}`);
    assert.ok(peak < 3 * BOMB_BYTES, `the work directory reached ${peak} bytes`);
    assert.deepEqual(await exportDirs(), []);
    assert.equal(existsSync(path.join(server.dir, 'never')), false, 'nothing was saved');
  });

  it('stops tshark when the objects it holds in memory pass the budget, before any is written', async (t) => {
    if (!(await requireCapture(t))) return;
    const maxBytes = 1_000_000;
    const answer = await tight.mcp.call('export_objects', {
      source: capture,
      protocol: 'http',
      maxBytes,
      saveTo: path.join(tight.dir, 'never'),
    });
    assert.equal(answer.isError, true, answer.text);
    assert.match(answer.text, /stopped tshark: it held [\d.]+ [KMG]B in memory while reading the capture/);
    assert.match(
      answer.text,
      /more than maxBytes \(1\.0 MB.*200(\.0)? MB for the dissection, so nothing was saved/s,
    );
    assert.match(answer.text, /larger maxBytes.*export_packets/s);
    assert.deepEqual(await exportDirs(), []);
    assert.equal(existsSync(path.join(tight.dir, 'never')), false, 'nothing was saved');
  });
});
