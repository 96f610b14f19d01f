// plot_capture through a real MCP client on a capture made here: an HTTP download of a few MB on
// loopback whose client stops reading for a while (so its window shuts). Each kind's PNG is decoded
// and must be a picture (its size, many colours, much that is not background); the numbers beside
// it are checked against tshark queried directly, the flow's Mermaid text against what was sent.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import type net from 'node:net';
import { rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { PNG } from 'pngjs';
import { downsample, niceInterval, parseIoStat } from '../src/analysis/plot/data.js';
import { mermaidSequence } from '../src/analysis/plot/mermaid.js';
import { captureLoopback, captureUnavailable, tempDir } from './helpers/loopback-capture.js';
import { useServer } from './helpers/in-process.js';
import { requireCapture } from './helpers/loopback-capture.js';
import { tsharkFields } from './helpers/tshark.js';

const run = promisify(execFile);

/** This file's loopback range: the server and the client bind here, the capture keeps to it. */
const SERVER = '127.83.120.10';
const CLIENT = '127.83.120.11';
const BODY = 4 * 1024 * 1024;
const PAUSE_MS = 500;

interface Answer {
  isError: boolean;
  text: string;
  png: PNG | undefined;
  structured: Record<string, unknown>;
}

type Rows = Record<string, string | number | null>[];

describe('plot_capture on a loopback download', () => {
  const server = useServer();
  let dir = '';
  let file = '';

  before(async () => {
    if ((await captureUnavailable()) !== undefined) return;
    dir = await tempDir('sharkmcp-plot-');
    const body = Buffer.alloc(BODY, 'x');
    const web = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BODY });
      res.end(body);
    });
    await new Promise<void>((resolve) => web.listen(0, SERVER, resolve));
    const port = (web.address() as net.AddressInfo).port;
    try {
      file = await captureLoopback(dir, 'download', `host ${SERVER} and tcp port ${port}`, async () => {
        await new Promise<void>((resolve, reject) => {
          const req = http.get(
            {
              host: SERVER,
              port,
              path: '/big',
              localAddress: CLIENT,
              agent: false,
              headers: { connection: 'close' },
            },
            (res) => {
              // The client reads nothing for a while: its receive buffer fills and its window shuts.
              res.pause();
              setTimeout(() => res.resume(), PAUSE_MS);
              res.on('data', () => undefined);
            },
          );
          req.on('close', resolve);
          req.on('error', reject);
        });
      });
    } finally {
      await new Promise((resolve) => web.close(resolve));
    }
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function plot(args: Record<string, unknown>): Promise<Answer> {
    const result = await server.mcp.client.callTool({
      name: 'plot_capture',
      arguments: { source: file, ...args },
    });
    const content = result.content as { type: string; text?: string; data?: string; mimeType?: string }[];
    const image = content.find((c) => c.type === 'image');
    if (image) assert.equal(image.mimeType, 'image/png');
    return {
      isError: result.isError === true,
      text: content
        .filter((c) => c.type === 'text')
        .map((c) => c.text ?? '')
        .join('\n'),
      png: image?.data ? PNG.sync.read(Buffer.from(image.data, 'base64')) : undefined,
      structured: (result.structuredContent ?? {}) as Record<string, unknown>,
    };
  }

  /** A picture a person can read: its size, and much of it drawn (not white) in many colours. */
  function assertPicture(png: PNG | undefined, minHeight = 400): void {
    assert.ok(png, 'an image came back');
    assert.ok(png.width >= 800 && png.width <= 1200, `width ${png.width}`);
    assert.ok(png.height >= minHeight && png.height <= 7000, `height ${png.height}`);
    const colours = new Set<number>();
    let drawn = 0;
    for (let i = 0; i < png.data.length; i += 4) {
      const [r, g, b] = [png.data[i] ?? 0, png.data[i + 1] ?? 0, png.data[i + 2] ?? 0];
      colours.add((r << 16) | (g << 8) | b);
      if (r < 240 || g < 240 || b < 240) drawn++;
    }
    assert.ok(colours.size > 50, `colours: ${colours.size}`);
    assert.ok(drawn > 2000, `pixels drawn: ${drawn}`);
  }

  it("io: tshark's I/O graph numbers, one series per filter, as a picture", async (t) => {
    if (!(await requireCapture(t))) return;
    const answer = await plot({ kind: 'io', interval: 0.05, series: ['tcp', 'tcp.len > 0'] });
    assert.equal(answer.isError, false, answer.text);
    assertPicture(answer.png);
    const { stdout } = await run('tshark', ['-r', file, '-q', '-z', 'io,stat,0.05,tcp,tcp.len > 0']);
    const expected = parseIoStat(stdout);
    assert.ok(expected.length > 0);
    const rows = answer.structured['rows'] as Rows;
    assert.equal(answer.structured['total'], expected.length * 2);
    const sum = (series: string, col: 'packets' | 'bytes'): number =>
      rows.filter((r) => r['series'] === series).reduce((n, r) => n + Number(r[col]), 0);
    assert.equal(rows.length, expected.length * 2, 'every bucket listed');
    assert.equal(
      sum('1: tcp', 'packets'),
      expected.reduce((n, b) => n + (b.frames[0] ?? 0), 0),
    );
    assert.equal(
      sum('2: tcp.len > 0', 'bytes'),
      expected.reduce((n, b) => n + (b.bytes[1] ?? 0), 0),
    );
    // Every packet and byte of the capture, counted independently.
    const frames = await tsharkFields(file, ['frame.len']);
    assert.equal(
      expected.reduce((n, b) => n + (b.frames[0] ?? 0), 0),
      frames.length,
    );
    assert.match(answer.text, /^Interval: 0\.05 s;/m);
    assert.match(answer.text, /^start\tseries\tpackets\tbytes$/m);
  });

  it('io: "auto" picks about 100 buckets; a filter with a comma is refused with what to write', async (t) => {
    if (!(await requireCapture(t))) return;
    const answer = await plot({ kind: 'io' });
    assert.equal(answer.isError, false, answer.text);
    const interval = answer.structured['intervalSeconds'] as number;
    const { stdout } = await run('capinfos', ['-M', '-u', file]);
    const duration = Number(/Capture duration:\s+([\d.]+)/.exec(stdout)?.[1]);
    assert.equal(interval, niceInterval(duration));
    const buckets = answer.structured['total'] as number;
    assert.ok(buckets >= 20 && buckets <= 101, `buckets: ${buckets}`);
    const comma = await plot({ kind: 'io', series: ['tcp.port in {80, 443}'] });
    assert.equal(comma.isError, true);
    assert.match(comma.text, /comma .* split it with \|\|, e\.g\. "tcp\.port == 80 \|\| tcp\.port == 443"/);
  });

  it('tcp_stream: the data segments by sequence number, zero windows marked', async (t) => {
    if (!(await requireCapture(t))) return;
    const answer = await plot({ kind: 'tcp_stream', stream: 0 });
    assert.equal(answer.isError, false, answer.text);
    assertPicture(answer.png);
    const data = await tsharkFields(file, ['frame.number', 'tcp.seq'], {
      filter: `tcp.stream eq 0 && ip.src == ${SERVER} && tcp.len > 0`,
    });
    const zero = await tsharkFields(file, ['frame.number', 'tcp.ack'], {
      filter: `tcp.stream eq 0 && ip.src == ${CLIENT} && tcp.analysis.zero_window`,
    });
    assert.ok(zero.length > 0, 'the paused client shut its window');
    assert.equal(answer.structured['total'], data.length + zero.length);
    assert.match(answer.text, new RegExp(`^Direction: ${SERVER.replace(/\./g, '\\.')}:\\d+ `, 'm'));
    assert.match(answer.text, new RegExp(`zero windows: ${zero.length}\\.`));
    const rows = answer.structured['rows'] as Rows;
    assert.ok(rows.length <= 200);
    // Every listed point is one tshark reports, at its sequence (or ack) number.
    const byFrame = new Map([...data, ...zero].map(([f, v]) => [Number(f), Number(v)]));
    for (const r of rows)
      assert.equal(byFrame.get(Number(r['frame'])), Number(r['seq']), `frame ${r['frame']}`);
  });

  it("rtt: each ack's round-trip time, as tshark measured it", async (t) => {
    if (!(await requireCapture(t))) return;
    const answer = await plot({ kind: 'rtt', stream: 0 });
    assert.equal(answer.isError, false, answer.text);
    assertPicture(answer.png);
    const rtt = await tsharkFields(file, ['frame.number', 'tcp.analysis.ack_rtt'], {
      filter: 'tcp.stream eq 0 && tcp.analysis.ack_rtt',
    });
    assert.equal(answer.structured['total'], rtt.length);
    const expected = new Map(rtt.map(([f, s]) => [Number(f), Number(s) * 1000]));
    for (const r of answer.structured['rows'] as Rows)
      assert.ok(Math.abs(Number(r['rttMs']) - (expected.get(Number(r['frame'])) ?? NaN)) < 0.001);
  });

  it('throughput: payload bytes per interval and direction add up to what was sent', async (t) => {
    if (!(await requireCapture(t))) return;
    const answer = await plot({ kind: 'throughput', stream: 0, interval: 0.1 });
    assert.equal(answer.isError, false, answer.text);
    assertPicture(answer.png);
    const rows = answer.structured['rows'] as Rows;
    assert.equal(rows.length, answer.structured['total'], 'all intervals listed');
    const fromServer = rows
      .filter((r) => String(r['direction']).startsWith(`from ${SERVER}:`))
      .reduce((n, r) => n + Number(r['bytes']), 0);
    const payload = await tsharkFields(file, ['tcp.len'], {
      filter: `tcp.stream eq 0 && ip.src == ${SERVER}`,
    });
    assert.equal(
      fromServer,
      payload.reduce((n, [len]) => n + Number(len), 0),
    );
    // Not compared with BODY: on a loaded machine dumpcap may drop some of a 4 MB loopback burst.
    assert.ok(fromServer > 0, 'the download is there');
    for (const r of rows) assert.equal(r['bytesPerSecond'], Math.round(Number(r['bytes']) / 0.1));
  });

  it('flow: the first packets as a sequence diagram, and as Mermaid text', async (t) => {
    if (!(await requireCapture(t))) return;
    const answer = await plot({ kind: 'flow', limit: 12 });
    assert.equal(answer.isError, false, answer.text);
    assertPicture(answer.png, 300);
    const first = await tsharkFields(file, ['frame.number', 'ip.src', 'ip.dst']);
    const mermaid = String(answer.structured['mermaid']);
    const lines = mermaid.split('\n');
    assert.equal(lines[0], 'sequenceDiagram');
    // The client opened the connection, so it is the first participant.
    assert.deepEqual(lines.slice(1, 3), [`  participant P1 as ${CLIENT}`, `  participant P2 as ${SERVER}`]);
    const arrows = lines.slice(3);
    assert.equal(arrows.length, 12);
    const id = (addr: string | undefined): string => (addr === CLIENT ? 'P1' : 'P2');
    arrows.forEach((a, i) => {
      const [frame, src, dst] = first[i] ?? [];
      assert.ok(a.startsWith(`  ${id(src)}->>${id(dst)}: ${frame} `), a);
    });
    assert.match(arrows[0] ?? '', /TCP .*\[SYN\]/);
    assert.ok(
      arrows.some((a) => /HTTP GET \/big/.test(a)),
      'the request the test sent',
    );
    assert.match(answer.text, /```mermaid\nsequenceDiagram\n/);
    assert.match(answer.text, /more match: give a larger limit/);
  });

  it('a stream that is not there, or a kind without its stream, gets what to give instead', async (t) => {
    if (!(await requireCapture(t))) return;
    const missing = await plot({ kind: 'tcp_stream', stream: 7 });
    assert.equal(missing.isError, true);
    assert.match(missing.text, /No packets of TCP stream 7 .* inspect_protocol/);
    const none = await plot({ kind: 'rtt' });
    assert.equal(none.isError, true);
    assert.match(none.text, /needs stream: a TCP stream index/);
    // A series filter is checked like any display filter, before tshark runs over the capture.
    const bad = await plot({ kind: 'io', series: ['tcp', 'tcp.nosuchfield == 1'] });
    assert.equal(bad.isError, true);
    assert.match(bad.text, /tcp\.nosuchfield/);
    assert.equal(bad.png, undefined);
  });
});

describe('plot data', () => {
  it('reads the I/O graph table, the last bucket ending at "Dur"', () => {
    const out = [
      '| Interval | Frames |  Bytes | Frames |  Bytes |',
      '|----------------------------------------------|',
      '|  0 <> 2  |    895 | 610294 |    473 | 581779 |',
      '|  2 <> Dur|     61 |  41887 |     34 |  40055 |',
    ].join('\n');
    assert.deepEqual(parseIoStat(out), [
      { start: 0, frames: [895, 473], bytes: [610294, 581779] },
      { start: 2, frames: [61, 34], bytes: [41887, 40055] },
    ]);
  });

  it('picks 1, 2 or 5 times a power of ten', () => {
    assert.equal(niceInterval(10), 0.1);
    assert.equal(niceInterval(3), 0.05);
    assert.equal(niceInterval(150), 2);
    assert.equal(niceInterval(0), 0.001);
  });

  it('thins evenly but keeps the marked points', () => {
    const items = Array.from({ length: 1000 }, (_, i) => i);
    const kept = downsample(items, 100, (i) => i === 501);
    assert.ok(kept.length <= 100);
    assert.ok(kept.includes(0) && kept.includes(999) && kept.includes(501));
  });

  it('writes ; and # in Mermaid labels as entities', () => {
    const text = mermaidSequence([
      { frame: 1, time: 0, from: 'a', to: 'b', protocol: 'DNS', info: 'q #1; x' },
    ]);
    assert.equal(
      text,
      'sequenceDiagram\n  participant P1 as a\n  participant P2 as b\n  P1->>P2: 1 DNS q #35;1#59; x',
    );
  });
});
