// A filtered listing read a page at a time: each page after the first continues from where the
// previous one stopped (src/analysis/continued-read.ts) instead of dissecting the file from its
// first packet, and every page must equal the same page read from the whole file, in text, fields
// (stream numbers and frame links included) and JSON. Continuations are forced on small captures
// (minFrames 0) with a warm-up of a few frames, so the streams carry the state.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Analyzer } from '../src/analysis/analyze-capture.js';
import type { AnalysisRequest, AnalysisResult } from '../src/analysis/analyze-capture.js';
import { RuntimeDir } from '../src/storage/runtime-dir.js';
import { locateWiresharkTools } from '../src/wireshark/locate.js';
import type { WiresharkTools } from '../src/wireshark/locate.js';
import { captureLoopback, group, requireCapture, tempDir } from './helpers/loopback-capture.js';
import { corpus } from './helpers/paths.js';
import { portReuseCapture } from './helpers/port-reuse.js';
import { indexesWithStreams } from './helpers/stream-indexes.js';

const HOST = '127.83.85.10';

interface Listing {
  readonly file: string;
  readonly keylog?: string;
  readonly filter: string;
}

/** Corpus captures with filters whose matches lie all through them. */
const CORPUS: readonly { name: string; keylog?: string; filters: readonly string[] }[] = [
  { name: 'FoxIO-LLC-ja4/pcap/latest.pcapng', filters: ['tcp', 'udp || arp', 'tcp.analysis.flags || dns'] },
  {
    name: '_derived/FoxIO-LLC-ja4/pcap/http2-with-cookies.nosecrets.pcapng',
    keylog: '_derived/FoxIO-LLC-ja4/pcap/http2-with-cookies.keylog.txt',
    filters: ['http2', 'tcp.len > 0'],
  },
  {
    name: 'zeek/testing/btest/Traces/tls/tls12-decryption.pcap',
    keylog: '_derived/zeek/testing/btest/Traces/tls/tls12-decryption.keylog.txt',
    filters: ['http || tls', 'tcp'],
  },
  {
    name: 'chrissanders-packets/tcp_retransmissions.pcapng',
    filters: ['tcp.analysis.retransmission || tcp.flags.syn == 1'],
  },
  { name: 'sipcapture-heplify/example/pcap/rtp_rtcp_sip_ipv4_udp.pcap', filters: ['sip || rtcp', 'udp'] },
];

/** 120 HTTP requests, each on a connection of its own, and one keep-alive connection used throughout. */
async function makeCapture(dir: string): Promise<string> {
  const server = http.createServer((req, res) => res.end(`reply to ${req.url ?? ''}\n`.repeat(30)));
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const port = (server.address() as { port: number }).port;
  try {
    return await captureLoopback(dir, 'listing', `host ${HOST} and tcp port ${port}`, async () => {
      const keep = new http.Agent({ keepAlive: true, maxSockets: 1 });
      for (let i = 0; i < 120; i++) {
        await new Promise<void>((resolve, reject) => {
          const req = http.get(
            { host: HOST, port, path: `/r${i}`, agent: i % 10 === 0 ? keep : false },
            (res) => {
              res.resume();
              res.on('end', resolve);
            },
          );
          req.on('error', reject);
        });
      }
      keep.destroy();
    });
  } finally {
    server.close();
  }
}

const FORMATS: readonly Pick<AnalysisRequest, 'outputFormat' | 'fields'>[] = [
  { outputFormat: 'text', fields: [] },
  // No frame.number among them: the listing adds it for itself and takes it off again.
  {
    outputFormat: 'fields',
    fields: ['tcp.stream', 'udp.stream', 'tcp.seq', 'frame.time_delta_displayed', 'tcp.analysis.acks_frame'],
  },
  { outputFormat: 'json', fields: [] },
];

describe('filtered listings continued', () => {
  let dir = '';
  let tools: WiresharkTools;
  const runtimeDir = new RuntimeDir();
  before(async () => {
    dir = await tempDir();
    tools = await locateWiresharkTools(group);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * The whole-file reader, and one that continues listings from cuts told by the stream index the
   * summary's pass makes of `file` (built here; none when the pass finds it would not be exact).
   */
  async function analyzers(
    file: string,
  ): Promise<{ whole: Analyzer; continuing: Analyzer; indexed: boolean }> {
    const common = { timeoutMs: 60_000, runtimeDir };
    const indexes = indexesWithStreams(tools, runtimeDir, 120_000);
    const streams = await indexes.ensureStreams(file);
    return {
      whole: new Analyzer(group, () => Promise.resolve(tools), { ...common, frameIndexes: null }),
      continuing: new Analyzer(group, () => Promise.resolve(tools), {
        ...common,
        frameIndexes: indexes,
        buildStreams: true,
        sparse: { minFrames: 0, limits: { maxFrames: 100_000, warmup: 3 } },
      }),
      indexed: streams !== undefined,
    };
  }

  /** Pages through `listing` in `format` with both analyzers; returns how many pages came from a cut. */
  async function pageThrough(
    listing: Listing,
    format: (typeof FORMATS)[number],
    a: { whole: Analyzer; continuing: Analyzer },
    limit: number,
  ): Promise<{ pages: number; cut: number }> {
    let cut = 0;
    let pages = 0;
    for (let offset = 0; pages < 7; offset += limit) {
      const req: AnalysisRequest = {
        file: listing.file,
        keylogFile: listing.keylog,
        displayFilter: listing.filter,
        ...format,
        offset,
        limit,
        maxChars: 200_000,
      };
      const expected: AnalysisResult = await a.whole.analyze(req);
      const got: AnalysisResult = await a.continuing.analyze(req);
      const where = `${path.basename(listing.file)} "${listing.filter}" ${format.outputFormat} offset ${offset}`;
      assert.equal(got.page.body, expected.page.body, where);
      assert.equal(got.page.matchedSeen >= got.page.offset + got.page.shown, true, where);
      assert.equal(got.page.moreMatch, expected.page.moreMatch, where);
      pages++;
      if (got.readFrom && 'cut' in got.readFrom) cut++;
      if (!expected.page.moreMatch) break;
      // Far pages too: the listing continues from the nearest page read before.
      if (pages === 4) offset += 4 * limit;
    }
    return { pages, cut };
  }

  for (const sample of CORPUS) {
    it(`pages of ${sample.name} equal the whole file's`, async (t) => {
      const file = corpus(sample.name);
      if (!file) return t.skip('shared captures not present');
      const keylog = sample.keylog ? corpus(sample.keylog) : undefined;
      const a = await analyzers(file);
      for (const format of FORMATS) {
        let cut = 0;
        for (const filter of sample.filters)
          cut += (await pageThrough({ file, keylog, filter }, format, a, 4)).cut;
        // In each format the listings continue from cuts, where the capture has a stream index.
        if (a.indexed)
          assert.ok(cut > 0, `no ${format.outputFormat} page of ${sample.name} was read from a cut`);
        else assert.equal(cut, 0, `${sample.name} has no stream index, yet a page was read from a cut`);
      }
    });
  }

  it('pages past a SYN on the ports of a connection older than the cut equal the whole file', async (t) => {
    if (!(await requireCapture(t))) return;
    const file = await portReuseCapture(dir, HOST, '127.83.85.11');
    const a = await analyzers(file);
    assert.ok(a.indexed, 'no stream index of the capture made here');
    for (const filter of [
      'tcp.flags.syn == 1 || tcp.analysis.flags',
      'tcp.flags.syn == 1 && tcp.flags.ack == 0',
    ])
      for (const format of FORMATS) await pageThrough({ file, filter }, format, a, 2);
  });

  it('pages of a capture made here (port reuse, a keep-alive connection) equal the whole file', async (t) => {
    if (!(await requireCapture(t))) return;
    const file = await makeCapture(dir);
    const a = await analyzers(file);
    assert.ok(a.indexed, 'no stream index of the capture made here');
    for (const filter of ['http.request', 'tcp.flags.fin == 1', 'http.response.code == 200 && tcp.srcport']) {
      for (const format of FORMATS) {
        const { pages, cut } = await pageThrough({ file, filter }, format, a, 7);
        assert.ok(pages >= 6, `"${filter}" ${format.outputFormat}: ${pages} pages`);
        assert.ok(
          cut >= pages - 2,
          `"${filter}" ${format.outputFormat}: ${cut} of ${pages} pages from a cut`,
        );
      }
    }
  });
});
