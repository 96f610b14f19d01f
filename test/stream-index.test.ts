// The stream index a summary pass makes: each frame's tcp.stream and udp.stream exactly as one
// whole-file `tshark -T fields` pass prints them, though the pass reads the file in small ranges,
// each numbering its streams from its own warm-up. Corpus captures, and loopback captures with
// reused ports (after FIN, after RST), many short flows and UDP flows.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { appendFile, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { FrameIndexes } from '../src/analysis/index/frame-indexes.js';
import type { StreamIndex, StreamKind } from '../src/analysis/index/stream-index.js';
import { NO_STREAM } from '../src/analysis/index/stream-index.js';
import { defaultChunking, Summarizer } from '../src/analysis/summary/index.js';
import type { Chunking } from '../src/analysis/summary/index.js';
import { locateWiresharkTools } from '../src/wireshark/locate.js';
import { ProcessGroup } from '../src/wireshark/process.js';
import { captureLoopback, requireCapture, tempDir } from './helpers/loopback-capture.js';
import { SHARED_CAPTURES } from './helpers/paths.js';

const run = promisify(execFile);
const group = new ProcessGroup();
const SERVER = '127.83.87.1';
const CLIENT = '127.83.87.2';
/** Where the summaries' FIFOs and the loopback capture go: removed, with every child, at the end. */
let dir = '';
before(async () => void (dir = await tempDir()));
after(() => Promise.all([group.close(), rm(dir, { recursive: true, force: true })]));

/** Each frame's streams, and the TCP streams whose first SYN tshark flags "[TCP Port numbers reused]". */
type Streams = Record<StreamKind, number[]> & { reused: Set<number> };

/** What a whole-file tshark pass prints: each frame's streams, or undefined for a frame with two. */
async function wholeFile(file: string): Promise<Streams | undefined> {
  const fields = ['tcp.stream', 'udp.stream', 'tcp.analysis.reused_ports'];
  const args = ['-n', '-r', file, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])];
  // A file cut short or damaged: tshark prints the frames before, then fails.
  const { stdout } = await run('tshark', args, { maxBuffer: 1 << 28 }).catch((err: { stdout?: string }) => ({
    stdout: err.stdout ?? '',
  }));
  const of: Streams = { tcp: [], udp: [], reused: new Set() };
  for (const line of stdout.split('\n').slice(0, -1)) {
    const [tcp = '', udp = '', reused = ''] = line.split('\t');
    if (tcp.includes(',') || udp.includes(',')) return undefined;
    of.tcp.push(tcp === '' ? NO_STREAM : Number(tcp));
    of.udp.push(udp === '' ? NO_STREAM : Number(udp));
    // Flagged on a stream's first packet: a SYN that began a stream on the ends of an earlier one
    // (tshark flags a SYN-ACK after a RST in the same stream too).
    if (reused !== '' && tcp !== '' && of.tcp.indexOf(Number(tcp)) === of.tcp.length - 1)
      of.reused.add(Number(tcp));
  }
  return of;
}

const tools = locateWiresharkTools(group);

/** A summarizer whose ranges are `packets` frames with a warm-up of `warmup`, keeping its indexes. */
function summarizer(
  chunking: Chunking,
  indexes = new FrameIndexes(),
): { s: Summarizer; indexes: FrameIndexes } {
  const s = new Summarizer(
    group,
    () => tools,
    () => Promise.resolve(dir),
    chunking,
    // The loopback captures here are small: their summaries record streams all the same.
  ).keepStreamsIn(indexes, 120_000, 0);
  return { s, indexes };
}

function small(packets: number, warmup: number): Chunking {
  return {
    workers: 2,
    minFileBytes: 0,
    sizing: { chunkPackets: packets, chunkBytes: Number.MAX_SAFE_INTEGER, warmupPackets: warmup },
  };
}

/** Every frame's streams, the counts and every stream's span, against the whole-file pass. */
function assertSame(index: StreamIndex | undefined, expected: Streams, what: string): void {
  assert.ok(index, `${what}: no stream index`);
  assert.equal(index.frames, expected.tcp.length, `${what}: frames`);
  for (const kind of ['tcp', 'udp'] as const) {
    const of = expected[kind];
    const wrong: number[] = of.flatMap((s, i) => (index.streamOf(kind, i + 1) === s ? [] : [i + 1]));
    assert.deepEqual(
      wrong.slice(0, 5).map((n) => `${n}: ${index.streamOf(kind, n)} != ${of[n - 1]}`),
      [],
      `${what}: ${kind}.stream of ${wrong.length} frames`,
    );
    const count = of.reduce((m, s) => Math.max(m, s + 1), 0);
    assert.equal(index.count(kind), count, `${what}: ${kind} streams`);
    for (let s = 0; s < count; s++) {
      const first = of.indexOf(s) + 1;
      const last = of.lastIndexOf(s) + 1;
      assert.deepEqual(index.span(kind, s), { first, last }, `${what}: span of ${kind} stream ${s}`);
    }
    assert.equal(index.span(kind, count), undefined);
  }
  const reused = Array.from({ length: index.count('tcp') }, (_, s) => s).filter(
    (s) => index.reusedFrom?.(s) !== undefined,
  );
  assert.deepEqual(
    reused,
    [...expected.reused].sort((a, b) => a - b),
    `${what}: TCP streams on reused ports`,
  );
}

async function corpusCaptures(): Promise<string[]> {
  const found: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (/\.(pcap|pcapng|cap)$/.test(e.name)) found.push(p);
    }
  };
  await walk(SHARED_CAPTURES).catch(() => undefined);
  return found.sort();
}

/**
 * Checks `file` cut into about `ranges` ranges (each a worker start: 0.2 s) with short warm-ups,
 * so that streams cross the cuts, and read in one pass.
 */
async function check(
  file: string,
  name: string,
  ranges: readonly [number, number][],
  inexact?: string[],
  onePass = true,
): Promise<void> {
  const expected = await wholeFile(file);
  if (!expected || expected.tcp.length === 0) return;
  const frames = expected.tcp.length;
  for (const [r, warmup] of ranges) {
    const packets = Math.max(3, Math.ceil(frames / r));
    const { indexes } = summarizer(small(packets, warmup));
    await indexes.ensureStreams(file);
    const what = `${name} in ranges of ${packets} (warm-up ${warmup})`;
    // Where the pass says it cannot be exact (a conversation another dissector made, whose stream
    // depends on packets before a warm-up), there is no index; wherever there is one, it is exact.
    const reason = await indexes.streamsNotExact(file);
    if (inexact && reason !== undefined) {
      assert.equal(await indexes.streams(file), undefined);
      inexact.push(`${what}: ${reason}`);
    } else assertSame(await indexes.streams(file), expected, what);
  }
  if (!onePass) return;
  const { indexes } = summarizer(defaultChunking(1));
  await indexes.ensureStreams(file);
  assertSame(await indexes.streams(file), expected, `${name} in one pass`);
}

describe('stream index', () => {
  it('numbers every frame of every corpus capture as a whole-file pass does', async (t) => {
    const files = await corpusCaptures();
    if (files.length === 0) return t.skip('no shared captures here');
    const inexact: string[] = [];
    for (const file of files) {
      // The frame framing of a damaged or compressed file gives no ranges: one pass reads it.
      await check(file, path.relative(SHARED_CAPTURES, file), [[3, 2]], inexact, false);
    }
    t.diagnostic(
      `${files.length} corpus captures, ${inexact.length} not exact in ranges: ${inexact.join('; ')}`,
    );
    // Most are exact: the rule is not an excuse.
    assert.ok(inexact.length <= files.length / 10, inexact.join('\n'));
  });

  it('numbers reused ports, many short flows and UDP flows as a whole-file pass does', async (t) => {
    if (!(await requireCapture(t))) return;
    const file = await captureLoopback(dir, 'streams', `host ${SERVER}`, traffic, 100);
    await check(file, 'loopback', [
      [6, 2],
      [7, 0],
      [30, 3],
    ]);
    // Without the summary counter (not built, or a header cut short): from per-packet lines.
    const expected = await wholeFile(file);
    assert.ok(expected);
    assert.ok(expected.reused.size >= 2, 'the capture reuses ports (after FIN, after RST)');
    const indexes = new FrameIndexes();
    // Registers itself as the index's builder.
    new Summarizer(
      group,
      () => tools,
      () => Promise.resolve(dir),
      small(Math.ceil(expected.tcp.length / 6), 2),
      () => ({
        available: false,
        reason: 'per-packet lines',
      }),
    ).keepStreamsIn(indexes, 120_000);
    await indexes.ensureStreams(file);
    assertSame(await indexes.streams(file), expected, 'loopback from per-packet lines');
    // A summary's pass records the streams as it goes, so no drill-down reads the file again for
    // them; a later summary of the same file keeps the index it finds.
    const fromSummary = summarizer(small(Math.ceil(expected.tcp.length / 6), 2));
    const request = { file, topN: 1, timeoutMs: 120_000 };
    await fromSummary.s.summarize(request);
    const kept = await fromSummary.indexes.streams(file);
    assertSame(kept, expected, 'loopback from a summary in ranges');
    await fromSummary.s.summarize(request);
    assert.equal(await fromSummary.indexes.streams(file), kept);
    // With the server's threshold, a file too small for drill-downs to read cuts records none.
    const unrecorded = new FrameIndexes();
    await new Summarizer(
      group,
      () => tools,
      () => Promise.resolve(dir),
      small(Math.ceil(expected.tcp.length / 6), 2),
    )
      .keepStreamsIn(unrecorded, 120_000)
      .summarize(request);
    assert.equal(await unrecorded.streams(file), undefined);
  });

  it('ensureStreams runs one pass for concurrent callers and keeps it beside the frame index', async () => {
    const file = (await corpusCaptures()).find((f) => f.endsWith('http_espn.pcapng'));
    if (!file) return;
    const { indexes } = summarizer(small(50, 5));
    assert.equal(await indexes.streams(file), undefined);
    const [a, b] = await Promise.all([indexes.ensureStreams(file), indexes.ensureStreams(file)]);
    assert.ok(a);
    assert.equal(a, b);
    assert.equal(await indexes.streams(file), a);
    assert.ok((await indexes.bytes()) >= a.bytes);
    const cancelled = new AbortController();
    cancelled.abort();
    const fresh = summarizer(small(50, 5)).indexes;
    await assert.rejects(fresh.ensureStreams(file, { signal: cancelled.signal }), { name: 'AbortError' });
  });

  it('extends the index of a file that grows over its new frames only, as a whole-file pass numbers them', async (t) => {
    if (!(await requireCapture(t))) return;
    const whole = await captureLoopback(dir, 'grows', `host ${SERVER}`, traffic, 100);
    const expected = await wholeFile(whole);
    assert.ok(expected);
    const frames = expected.tcp.length;
    const scanned = await new FrameIndexes().get(whole);
    assert.ok(scanned);
    // The file as a capture writes it: its first third, then up to two thirds, then all of it.
    const file = path.join(dir, 'growing.pcapng');
    const data = await readFile(whole);
    const ends = [Math.floor(frames / 3), Math.floor((2 * frames) / 3), frames];
    const endOf = (n: number): number => scanned.endOf(n) ?? data.length;
    await writeFile(file, data.subarray(0, endOf(ends[0] ?? 0)));
    const builds: string[] = [];
    const indexes = new FrameIndexes();
    const register = indexes.useStreamBuilder.bind(indexes);
    indexes.useStreamBuilder = (builder) =>
      register((f, o) => {
        builds.push(o.extend ? `extend from ${o.extend.assembler.frames + 1}` : 'build');
        return builder(f, o);
      });
    // Ranges of a tenth of the file with a warm-up of 2: the new frames' streams are mapped through it.
    summarizer(small(Math.ceil(frames / 10), 2), indexes);
    let from = 0;
    for (const end of ends) {
      if (from > 0) await appendFile(file, data.subarray(endOf(from), endOf(end)));
      const tcp = expected.tcp.slice(0, end);
      const reused = new Set([...expected.reused].filter((s) => tcp.includes(s)));
      const prefix = { tcp, udp: expected.udp.slice(0, end), reused };
      assertSame(await indexes.ensureStreams(file), prefix, `the file's first ${end} frames`);
      from = end;
    }
    assert.deepEqual(builds, [
      'build',
      `extend from ${(ends[0] ?? 0) + 1}`,
      `extend from ${(ends[1] ?? 0) + 1}`,
    ]);
    // Held, and not read again, while the file stays as it is.
    assertSame(await indexes.ensureStreams(file), expected, 'the whole file');
    assert.equal(builds.length, 3);
  });
});

/** Port reuse after FIN and after RST, 40 short connections, and UDP flows that pause and resume. */
async function traffic(): Promise<void> {
  const server = net.createServer((socket) => {
    socket.on('data', () => socket.end('bye'));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, SERVER, resolve));
  const port = (server.address() as net.AddressInfo).port;
  const connect = (localPort?: number, reset = false): Promise<void> =>
    new Promise((resolve, reject) => {
      const c = net.connect({ host: SERVER, port, localAddress: CLIENT, localPort }, () => c.write('hello'));
      c.on('data', () => {
        if (reset) {
          c.resetAndDestroy();
          resolve();
        } else c.end();
      });
      c.on('close', () => resolve());
      c.on('error', reject);
    });
  const udp = dgram.createSocket('udp4');
  udp.on('message', (m, from) => udp.send(m, from.port, from.address));
  await new Promise<void>((resolve) => udp.bind(0, SERVER, resolve));
  const udpPort = udp.address().port;
  const clients = await Promise.all(
    [0, 1, 2].map(
      () =>
        new Promise<dgram.Socket>((resolve) => {
          const c = dgram.createSocket('udp4');
          c.bind(0, CLIENT, () => resolve(c));
        }),
    ),
  );
  const ping = async (c: dgram.Socket): Promise<void> => {
    await new Promise<void>((resolve) => {
      c.once('message', () => resolve());
      c.send('ping', udpPort, SERVER);
    });
  };
  try {
    for (const c of clients) await ping(c);
    // The same client port again: the server closes first, so the port is free at once.
    const reused = 40000 + (process.pid % 20000);
    await connect(reused);
    await connect(reused);
    await connect(reused, true);
    await connect(reused);
    for (let i = 0; i < 40; i++) {
      await connect();
      if (i % 10 === 0) for (const c of clients) await ping(c);
    }
    await connect(reused, true);
    await connect(reused);
    for (const c of clients) await ping(c);
  } finally {
    for (const c of clients) c.close();
    udp.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
