// The frame index (src/analysis/index/): where each frame starts, checked against tshark's own
// count and times; extended when a file grows, rebuilt when it changes. And pages of
// analyze_pcap_file read from a cut of the file: the same lines as a whole-file tshark pass.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFile, copyFile, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { Analyzer, DEFAULT_FIELDS } from '../src/analysis/analyze-capture.js';
import type { AnalysisRequest } from '../src/analysis/analyze-capture.js';
import { BYTES_PER_FRAME } from '../src/analysis/index/frame-index.js';
import { DEFAULT_INDEX_LIMITS, FrameIndexes } from '../src/analysis/index/frame-indexes.js';
import { fileFrame, planCut, writeCut } from '../src/analysis/index/cut.js';
import { RuntimeDir } from '../src/storage/runtime-dir.js';
import { locateWiresharkTools } from '../src/wireshark/locate.js';
import type { WiresharkTools } from '../src/wireshark/locate.js';
import { captureLoopback, group, requireCapture, tempDir } from './helpers/loopback-capture.js';
import { portReuseCapture } from './helpers/port-reuse.js';
import { indexesWithStreams } from './helpers/stream-indexes.js';
import { corpus } from './helpers/paths.js';
import { tsharkFields } from './helpers/tshark.js';

const run = promisify(execFile);
const HOST = '127.83.79.10';
const CLIENT = '127.83.79.11';

/** Corpus captures of several shapes: pcap, pcapng, TLS with secrets, long TCP streams. */
const CORPUS = [
  'FoxIO-LLC-ja4/pcap/http1.pcapng', // classic pcap despite its name
  'FoxIO-LLC-ja4/pcap/http2-with-cookies.pcapng', // pcapng, one long TLS stream, a DSB
  'FoxIO-LLC-ja4/pcap/latest.pcapng', // a LAN mix
  'FoxIO-LLC-ja4/pcap/tls-handshake.pcapng',
];

/** tshark's own text lines of a whole-file pass: what a page must show. */
async function wholeFileLines(file: string, extra: readonly string[] = []): Promise<string[]> {
  const { stdout } = await run('tshark', ['-r', file, ...extra], { maxBuffer: 256 * 1024 * 1024 });
  return stdout.split('\n').filter((l) => l !== '');
}

/**
 * A capture made here: 300 HTTP requests, each on a connection of its own, and one keep-alive
 * connection used by the first request and the last: a stream older than any warm-up.
 */
async function makeCapture(dir: string): Promise<string> {
  const server = http.createServer((req, res) => res.end(`reply to ${req.url ?? ''}\n`.repeat(40)));
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const port = (server.address() as { port: number }).port;
  try {
    return await captureLoopback(
      dir,
      'made',
      `host ${HOST} and tcp port ${port}`,
      async () => {
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        for (let i = 0; i < 300; i++) {
          const own = i === 0 || i === 299 ? agent : false;
          await new Promise<void>((resolve, reject) => {
            const req = http.get({ host: HOST, port, path: `/r${i}`, agent: own }, (res) => {
              res.resume();
              res.on('end', resolve);
            });
            req.on('error', reject);
          });
        }
        agent.destroy();
      },
      1500,
    );
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe('frame index', () => {
  let dir = '';
  before(async () => {
    dir = await tempDir();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const name of CORPUS.slice(0, 2)) {
    it(`knows where each frame of ${path.basename(name)} starts, and its time`, async (t) => {
      const file = corpus(name);
      if (!file) return t.skip('the shared captures are not here');
      const index = await new FrameIndexes().get(file);
      assert.ok(index);
      const rows = await tsharkFields(file, ['frame.number', 'frame.time_epoch']);
      assert.equal(index.count, rows.length);
      for (const [i, row] of rows.entries()) {
        assert.ok(Math.abs((index.timeOf(i + 1) ?? 0) - Number(row[1])) < 1e-5, `frame ${i + 1}'s time`);
      }
      // Each cut of one frame (no warm-up) is that frame, as tshark reads it.
      const whole = await wholeFileLines(file, ['-T', 'fields', '-e', 'frame.len', '-e', 'frame.time_epoch']);
      for (const n of [1, 2, Math.floor(index.count / 2), index.count]) {
        const plan = planCut(index, n, n, 0);
        assert.ok(plan);
        const out = path.join(dir, `one-${n}`);
        await writeCut(index, file, plan, out);
        const lines = await wholeFileLines(out, [
          '-T',
          'fields',
          '-e',
          'frame.len',
          '-e',
          'frame.time_epoch',
        ]);
        assert.equal(lines.at(-1), whole[n - 1], `frame ${n}`);
        assert.equal(fileFrame(plan, lines.length), n);
      }
    });
  }

  it('extends the index of a file that grows, and rebuilds (and reports) that of a file replaced', async (t) => {
    const source = corpus(CORPUS[1] ?? '');
    if (!source) return t.skip('the shared captures are not here');
    const bytes = await readFile(source);
    const growing = path.join(dir, 'growing.pcapng');
    // Cut mid-record, as a running capture's file often is.
    await writeFile(growing, bytes.subarray(0, Math.floor(bytes.length / 2) + 7));
    // What the server logs of each index built (npm run bench reads it): builds, not extensions.
    const built: { frames: number; bytes: number }[] = [];
    const indexes = new FrameIndexes(DEFAULT_INDEX_LIMITS, (_file, { frames, bytes }) =>
      built.push({ frames, bytes }),
    );
    const half = await indexes.get(growing);
    const halfCount = half?.count ?? 0;
    assert.deepEqual(built, [{ frames: halfCount, bytes: half?.bytes }]);
    // tshark reads the whole frames of a file cut short, then says it was cut short.
    const expectedHalf = await run('tshark', ['-r', growing, '-T', 'fields', '-e', 'frame.number']).then(
      (r) => r.stdout,
      (err: { stdout: string }) => err.stdout,
    );
    assert.ok(expectedHalf.length > 0);
    assert.ok(halfCount > 0);
    assert.equal(halfCount, expectedHalf.split('\n').filter((l) => l !== '').length);
    await appendFile(growing, bytes.subarray(Math.floor(bytes.length / 2) + 7));
    const grown = await indexes.get(growing);
    assert.equal(grown, half, 'the same index, extended');
    assert.equal(grown?.count, (await tsharkFields(source, ['frame.number'])).length);
    assert.equal(built.length, 1, 'an extension is not a build');
    // Replaced by another file: a new index.
    const other = corpus(CORPUS[0] ?? '');
    if (other) {
      await rm(growing);
      await copyFile(other, growing);
      const replaced = await indexes.get(growing);
      assert.notEqual(replaced, half);
      assert.equal(replaced?.count, (await tsharkFields(other, ['frame.number'])).length);
      assert.deepEqual(built[1], { frames: replaced?.count, bytes: replaced?.bytes });
    }
  });
});

describe('frame indexes kept', () => {
  it('keeps the most recently used within its count and bytes', async (t) => {
    const files = CORPUS.map((n) => corpus(n)).filter((f): f is string => f !== undefined);
    if (files.length < 3) return t.skip('the shared captures are not here');
    const [a = '', b = '', c = ''] = files;
    const byCount = new FrameIndexes({ maxEntries: 2, maxBytes: 1 << 30 });
    const first = await byCount.get(a);
    const second = await byCount.get(b);
    assert.equal(await byCount.get(a), first, 'kept while within the count');
    await byCount.get(c); // b is now the least recently used, and goes
    assert.equal(await byCount.get(a), first);
    assert.notEqual(await byCount.get(b), second, 'b was dropped, and built again');
    const bytes = await byCount.bytes();
    // A bound of bytes that holds one index at most keeps only the last one asked for.
    const one = Math.max(first?.bytes ?? 0, second?.bytes ?? 0);
    const byBytes = new FrameIndexes({ maxEntries: 8, maxBytes: one + 1 });
    const kept = await byBytes.get(a);
    await byBytes.get(b);
    assert.notEqual(await byBytes.get(a), kept, 'a was dropped for b, and built again');
    assert.ok((await byBytes.bytes()) < bytes);
  });

  it('holds no more frames than its bytes allow', async (t) => {
    const file = corpus(CORPUS[1] ?? '');
    if (!file) return t.skip('the shared captures are not here');
    const index = await new FrameIndexes({ maxEntries: 1, maxBytes: 100 * BYTES_PER_FRAME }).get(file);
    assert.equal(index?.count, 100);
    assert.equal(index?.full, true);
    assert.ok((index?.bytes ?? 0) < 64 * 1024, 'the arrays of 100 frames and the metadata');
  });
});

describe('pages read from a cut', () => {
  let dir = '';
  let made: string | undefined;
  let analyzer: Analyzer;
  let tools: WiresharkTools;
  let runtimeDir: RuntimeDir;
  const WARMUP = 40;
  before(async () => {
    dir = await tempDir();
    tools = await locateWiresharkTools(group);
    runtimeDir = new RuntimeDir(dir);
    analyzer = new Analyzer(group, () => Promise.resolve(tools), {
      timeoutMs: 60_000,
      runtimeDir,
      cutWarmup: WARMUP,
    });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const page = (file: string, offset: number, format: 'text' | 'fields') =>
    analyzer.analyze({
      file,
      outputFormat: format,
      fields: [...DEFAULT_FIELDS],
      offset,
      limit: 25,
      maxChars: 1_000_000,
      reveal: true,
    } satisfies AnalysisRequest);

  /** Pages at several offsets, each equal to tshark's whole-file lines; how many came from a cut. */
  async function compare(t: TestContext, file: string): Promise<{ cut: number; whole: string[] }> {
    const text = await wholeFileLines(file);
    const fields = await wholeFileLines(file, ['-T', 'fields', ...DEFAULT_FIELDS.flatMap((f) => ['-e', f])]);
    const offsets = [WARMUP + 2, Math.floor(text.length / 3), Math.floor(text.length / 2), text.length - 10];
    const seen = { cut: 0, whole: [] as string[] };
    for (const offset of offsets.filter((o) => o > WARMUP + 1)) {
      const got = await page(file, offset, 'text');
      assert.deepEqual(
        got.page.body.split('\n'),
        text.slice(offset, offset + 25),
        `text page at offset ${offset}`,
      );
      assert.equal(got.page.matchedSeen, Math.min(text.length, offset + 26));
      assert.equal(got.page.moreMatch, offset + 25 < text.length);
      const gotFields = await page(file, offset, 'fields');
      assert.deepEqual(
        gotFields.page.body.split('\n'),
        fields.slice(offset, offset + 25),
        `fields page at offset ${offset}`,
      );
      for (const r of [got, gotFields]) {
        if (r.readFrom && 'cut' in r.readFrom) seen.cut++;
        else seen.whole.push(`offset ${offset}: ${r.readFrom?.whole ?? 'not considered'}`);
      }
    }
    t.diagnostic(
      `${path.basename(file)}: ${text.length} frames; pages at ${offsets.join(', ')} equal; ${seen.cut} read from a cut, ${seen.whole.length} from the whole file${seen.whole.length > 0 ? ` (${seen.whole.join('; ')})` : ''}`,
    );
    return seen;
  }

  for (const name of CORPUS) {
    it(`shows ${path.basename(name)} as a whole-file pass does`, async (t) => {
      const file = corpus(name);
      if (!file) return t.skip('the shared captures are not here');
      await compare(t, file);
    });
  }

  it('shows a capture made here as a whole-file pass does', { timeout: 120_000 }, async (t) => {
    if (!(await requireCapture(t))) return;
    made = await makeCapture(dir);
    const seen = await compare(t, made);
    // Fresh connections fit in the warm-up: most pages come from a cut.
    assert.ok(seen.cut >= 4, `${seen.cut} pages read from a cut`);
    // The last page holds the keep-alive connection opened at the start: refused, and rightly so.
    const last = await page(made, (await wholeFileLines(made)).length - 10, 'text');
    assert.match(
      last.readFrom && 'whole' in last.readFrom ? last.readFrom.whole : '',
      /TCP stream of frame \d+ began before the warm-up/,
    );
  });

  it('reads the whole file for a SYN on the ports of a connection older than the warm-up, once the stream index knows', async (t) => {
    if (!(await requireCapture(t))) return;
    const file = await portReuseCapture(dir, HOST, CLIENT);
    const text = await wholeFileLines(file);
    const flagged = text.findIndex((l) => l.includes('[TCP Port numbers reused]'));
    assert.ok(flagged > WARMUP + 20, `the reusing SYN is line ${flagged + 1}, past the warm-up of its page`);
    const offset = flagged - 3;
    const expected = text.slice(offset, offset + 25);
    // Without the stream index the cut cannot see the older connection: its SYN line lacks the flag.
    const blind = await page(file, offset, 'text');
    assert.ok(blind.readFrom && 'cut' in blind.readFrom);
    assert.notDeepEqual(blind.page.body.split('\n'), expected);
    // With it (as a follow or details call leaves it), the page reads the whole file, and says why.
    assert.ok(analyzer.frameIndexes);
    indexesWithStreams(tools, runtimeDir, 60_000, analyzer.frameIndexes);
    assert.ok(await analyzer.frameIndexes.ensureStreams(file));
    const seen = await page(file, offset, 'text');
    assert.deepEqual(seen.page.body.split('\n'), expected);
    assert.match(
      seen.readFrom && 'whole' in seen.readFrom ? seen.readFrom.whole : '',
      new RegExp(`^the SYN of frame ${flagged + 1} reuses the ports of a connection older than the warm-up$`),
    );
  });

  it('would show a stream older than the warm-up differently: why such pages read the whole file', async (t) => {
    if (!made) return t.skip('no capture was made');
    const text = await wholeFileLines(made);
    const indexes = new FrameIndexes();
    const index = await indexes.get(made);
    assert.ok(index);
    const plan = planCut(index, text.length - 9, text.length, WARMUP);
    assert.ok(plan);
    const out = path.join(dir, 'old-stream.pcapng');
    await writeCut(index, made, plan, out);
    const cutLines = (await wholeFileLines(out)).slice(plan.skip);
    const differing = cutLines.filter(
      (l, i) => l.replace(/^ *\d+ /, '') !== (text[text.length - 10 + i] ?? '').replace(/^ *\d+ /, ''),
    );
    // The keep-alive connection's relative sequence numbers count from its first packet in the cut.
    assert.ok(differing.length > 0, 'a cut without the stream start shows other sequence numbers');
    t.diagnostic(`${differing.length} of ${cutLines.length} lines differ, e.g. ${differing[0] ?? ''}`);
  });
});
