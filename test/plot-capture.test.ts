// plot_capture through a real MCP client on a capture made here: an HTTP download of a few MB on
// loopback whose client stops reading for a while (so its window shuts). Each kind's PNG is decoded
// and must be a picture (its size, many colours, much that is not background); the numbers beside
// it are checked against tshark queried directly, the flow's Mermaid text against what was sent.
// A second capture holds a stream longer than a picture draws point by point, with retransmissions
// added (a copy of some of its segments merged in): the counts beside the thinned picture must
// still be tshark's exact ones.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { rm } from 'node:fs/promises';
import type { Client } from '@modelcontextprotocol/client';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { PNG } from 'pngjs';
import { PLOT_LIMITS } from '../src/analysis/plot/index.js';
import {
  BucketSums,
  downsample,
  Envelope,
  EvenSample,
  niceInterval,
  parseIoStat,
  Spread,
} from '../src/analysis/plot/data.js';
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

/** plot_capture's answer on `file`: its text, its PNG decoded, its structuredContent. */
async function plotOf(client: Client, file: string, args: Record<string, unknown>): Promise<Answer> {
  const result = await client.callTool({
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

  function plot(args: Record<string, unknown>): Promise<Answer> {
    return plotOf(server.mcp.client, file, args);
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
    // The interval sent as a string, as some clients send a number-or-word parameter: the same numbers.
    const asText = await plot({ kind: 'io', interval: '0.05', series: ['tcp', 'tcp.len > 0'] });
    assert.deepEqual(asText.structured['rows'], rows);
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

/** The long stream's loopback range: its own, so its capture sees nothing else. */
const SENDER = '127.83.63.21';
const RECEIVER = '127.83.63.20';
/** Writes of WRITE bytes without Nagle: on loopback about a segment each, well past rawPoints. */
const WRITES = 3 * PLOT_LIMITS.rawPoints;
const WRITE = 1000;

describe('plot_capture on a stream longer than a picture draws point by point', () => {
  const server = useServer();
  let dir = '';
  let file = '';

  before(async () => {
    if ((await captureUnavailable()) !== undefined) return;
    dir = await tempDir('sharkmcp-plot-long-');
    const sink = net.createServer((s) => {
      s.resume();
      s.on('end', () => s.end());
    });
    await new Promise<void>((resolve) => sink.listen(0, RECEIVER, resolve));
    const port = (sink.address() as net.AddressInfo).port;
    let captured: string;
    try {
      captured = await captureLoopback(dir, 'long', `host ${RECEIVER} and tcp port ${port}`, async () => {
        const client = net.connect({ host: RECEIVER, port, localAddress: SENDER });
        await new Promise<void>((resolve, reject) => client.once('connect', resolve).once('error', reject));
        client.setNoDelay(true);
        const chunk = Buffer.alloc(WRITE, 'y');
        for (let i = 0; i < WRITES; i++) {
          if (!client.write(chunk)) await new Promise((resolve) => client.once('drain', resolve));
          // A turn of the event loop now and then, so the writes leave as separate segments.
          if (i % 16 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
        await new Promise<void>((resolve) => client.end(resolve));
        await new Promise((resolve) => client.once('close', resolve));
      });
    } finally {
      await new Promise((resolve) => sink.close(resolve));
    }
    // Some data segments again, merged in beside the originals: tshark sees them as retransmissions.
    const data = await tsharkFields(captured, ['frame.number'], { filter: 'tcp.len > 0' });
    const again = data.filter((_, i) => i % 97 === 50).map(([n]) => `${n}-${n}`);
    const copies = path.join(dir, 'again.pcapng');
    await run('editcap', ['-r', captured, copies, ...again]);
    file = path.join(dir, 'long-with-retransmissions.pcapng');
    await run('mergecap', ['-w', file, captured, copies]);
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('tcp_stream: a thinned picture, with exact counts of segments, bytes and retransmissions', async (t) => {
    if (!(await requireCapture(t))) return;
    const answer = await plotOf(server.mcp.client, file, { kind: 'tcp_stream', stream: 0 });
    assert.equal(answer.isError, false, answer.text);
    assertPicture(answer.png);
    const data = await tsharkFields(
      file,
      ['frame.number', 'tcp.seq', 'tcp.len', 'tcp.analysis.retransmission'],
      { filter: `tcp.stream eq 0 && ip.src == ${SENDER} && tcp.len > 0` },
    );
    const zero = await tsharkFields(file, ['frame.number'], {
      filter: `tcp.stream eq 0 && ip.src == ${RECEIVER} && tcp.analysis.zero_window`,
    });
    assert.ok(data.length > PLOT_LIMITS.rawPoints, `${data.length} data segments: too few to thin`);
    const retransmissions = data.filter(([, , , r]) => r !== '').length;
    assert.ok(retransmissions > 0, 'the merged copies are retransmissions');
    const payload = data.reduce((n, [, , len]) => n + Number(len), 0);
    assert.deepEqual(answer.structured['counts'], {
      segments: data.length,
      payloadBytes: payload,
      retransmissions,
      zeroWindows: zero.length,
    });
    assert.equal(answer.structured['total'], data.length + zero.length);
    const drawn = answer.structured['drawn'] as number;
    assert.ok(drawn < data.length, `drawn ${drawn} of ${data.length}`);
    assert.ok(drawn <= 2 * PLOT_LIMITS.columns + 2 * PLOT_LIMITS.markers, `drawn ${drawn}`);
    assert.ok(
      answer.text.includes(
        `Segments: ${data.length} (${payload} bytes of payload), retransmissions: ${retransmissions}, zero windows: ${zero.length}.`,
      ),
      answer.text,
    );
    assert.ok(
      answer.text.includes(
        `The picture draws ${drawn} of them: the lowest and highest sequence number in each of ${PLOT_LIMITS.columns} time columns`,
      ),
      answer.text,
    );
    assert.ok(answer.text.includes(`every retransmission (${retransmissions})`), answer.text);
    // The listed points are drawn ones, each where tshark put it; the first segment is among them.
    const rows = answer.structured['rows'] as Rows;
    const seq = new Map(data.map(([f, s]) => [Number(f), Number(s)]));
    for (const r of rows) assert.equal(seq.get(Number(r['frame'])), Number(r['seq']), `frame ${r['frame']}`);
    assert.equal(Number(rows[0]?.['frame']), Number(data[0]?.[0]));
  });

  it('rtt and throughput: exact totals over every packet of the long stream', async (t) => {
    if (!(await requireCapture(t))) return;
    const rtt = await plotOf(server.mcp.client, file, { kind: 'rtt', stream: 0 });
    assert.equal(rtt.isError, false, rtt.text);
    assertPicture(rtt.png);
    const acks = (
      await tsharkFields(file, ['tcp.analysis.ack_rtt'], {
        filter: 'tcp.stream eq 0 && tcp.analysis.ack_rtt',
      })
    ).map(([s]) => Number((Number(s) * 1000).toFixed(3)));
    const counts = rtt.structured['counts'] as Record<string, number>;
    assert.equal(counts['acks'], acks.length);
    assert.equal(counts['minMs'], Math.min(...acks));
    assert.equal(counts['maxMs'], Math.max(...acks));
    assert.equal(rtt.structured['total'], acks.length);

    const through = await plotOf(server.mcp.client, file, { kind: 'throughput', stream: 0 });
    assert.equal(through.isError, false, through.text);
    const sent = await tsharkFields(file, ['tcp.len'], { filter: `tcp.stream eq 0 && ip.src == ${SENDER}` });
    const bytes = sent.reduce((n, [len]) => n + Number(len), 0);
    const perDirection = through.structured['counts'] as Record<string, number>;
    assert.equal(Object.entries(perDirection).find(([k]) => k.startsWith(`from ${SENDER}:`))?.[1], bytes);
    const summed = (through.structured['rows'] as Rows)
      .filter((r) => String(r['direction']).startsWith(`from ${SENDER}:`))
      .reduce((n, r) => n + Number(r['bytes']), 0);
    assert.equal(summed, bytes, 'the intervals add up to every byte sent');
  });
});

describe('plot data', () => {
  it('keeps exact extremes and mean of any number of values, the median exact or within 1 %', () => {
    const values = Array.from({ length: 30_001 }, (_, i) => ((i * 7919) % 30_001) / 100);
    const exact = new Spread(values.length);
    const sketched = new Spread(1000);
    for (const v of values) {
      exact.add(v);
      sketched.add(v);
    }
    const sorted = [...values].sort((a, b) => a - b);
    const median = sorted[Math.floor((sorted.length - 1) / 2)] ?? NaN;
    assert.deepEqual(exact.median(), { value: median, approximate: false });
    const estimate = sketched.median();
    assert.equal(estimate.approximate, true);
    assert.ok(Math.abs(estimate.value - median) <= median * 0.01, `${estimate.value} vs ${median}`);
    for (const s of [exact, sketched]) {
      assert.equal(s.n, values.length);
      assert.equal(s.min, sorted[0]);
      assert.equal(s.max, sorted[sorted.length - 1]);
      assert.ok(Math.abs(s.mean - values.reduce((a, b) => a + b, 0) / values.length) < 1e-9);
    }
  });

  it('thins a sample evenly by count, and counts all', () => {
    const sample = new EvenSample<number>(100);
    for (let i = 0; i < 10_000; i++) sample.add(i);
    assert.equal(sample.count, 10_000);
    const kept = sample.items;
    assert.ok(kept.length > 50 && kept.length <= 100, `kept ${kept.length}`);
    assert.equal(kept[0], 0);
    const steps = new Set(kept.slice(1).map((v, i) => v - (kept[i] ?? 0)));
    assert.equal(steps.size, 1, 'evenly spaced');
  });

  it("keeps each time column's lowest and highest point: the shape all points draw", () => {
    const opts = { raw: 500, columns: 100, time: (p: Point) => p.t, value: (p: Point) => p.v };
    type Point = { t: number; v: number };
    const env = new Envelope<Point>(opts);
    const all: Point[] = [];
    for (let i = 0; i < 100_000; i++) {
      // A saw with a spike and a dip: both must survive the thinning.
      const p = { t: i / 1000, v: i === 61_234 ? 1e6 : i === 7_777 ? -1e6 : i % 1000 };
      all.push(p);
      env.add(p);
    }
    assert.equal(env.count, all.length);
    assert.equal(env.thinned, true);
    const kept = env.items();
    assert.ok(kept.length <= 200, `kept ${kept.length}`);
    assert.ok(kept.some((p) => p.v === 1e6) && kept.some((p) => p.v === -1e6));
    assert.ok(
      kept.every((p, i) => i === 0 || p.t >= (kept[i - 1]?.t ?? 0)),
      'in time order',
    );
    const few = new Envelope<Point>(opts);
    for (const p of all.slice(0, 500)) few.add(p);
    assert.equal(few.thinned, false);
    assert.deepEqual(few.items(), all.slice(0, 500));
  });

  it('sums intervals as they stream, the auto interval picked at the end, as bucketing at it directly', () => {
    const auto = new BucketSums('auto', 2000);
    const items: { t: number; key: string; v: number }[] = [];
    // 50 s of rows a few ms apart, never on a millisecond boundary: past the fine buckets' cap.
    for (let ms = 0; ms < 50_000; ms += 1 + (ms % 7))
      items.push({ t: 3.0003 + ms / 1000, key: ms % 3 ? 'a' : 'b', v: ms % 1500 });
    for (const i of items) assert.equal(auto.add(i.t, i.key, i.v), true);
    const { interval, rows } = auto.result();
    assert.equal(interval, niceInterval((items[items.length - 1]?.t ?? 0) - 3.0003));
    const expected = new Map<string, number>();
    for (const i of items) {
      const id = `${Math.floor((i.t - 3.0003) / interval)}\t${i.key}`;
      expected.set(id, (expected.get(id) ?? 0) + i.v);
    }
    for (const r of rows)
      assert.equal(
        r.sum,
        expected.get(`${Math.round(r.start / interval)}\t${r.key}`) ?? 0,
        `${r.start} ${r.key}`,
      );
    assert.equal(
      rows.reduce((n, r) => n + r.sum, 0),
      items.reduce((n, i) => n + i.v, 0),
    );
    // A fixed interval says when the stream is longer than its buckets allow.
    const fixed = new BucketSums(0.001, 2000);
    assert.equal(fixed.add(0, 'a', 1), true);
    assert.equal(fixed.add(1.9985, 'a', 1), true);
    assert.equal(fixed.add(2.5, 'a', 1), false);
  });

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
