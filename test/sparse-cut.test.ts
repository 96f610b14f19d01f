// Drill-downs read from sparse cuts (src/analysis/sparse-read.ts): get_packet_details of frames and
// follow_stream of streams, read from the frames they need and told in the whole file's numbers,
// must equal what tshark prints reading the whole file. Cuts are forced on small captures with the
// threshold knob (minFrames 0) and a warm-up of a few frames, so the streams carry the state.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import http from 'node:http';
import dgram from 'node:dgram';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { Analyzer } from '../src/analysis/analyze-capture.js';
import { StreamFollower } from '../src/analysis/follow.js';
import type { FollowPageRequest, FollowProtocol } from '../src/analysis/follow.js';
import { frameFilter } from '../src/analysis/frames.js';
import { FrameIndexes } from '../src/analysis/index/frame-indexes.js';
import type { StreamIndex } from '../src/analysis/index/stream-index.js';
import { SparseReads } from '../src/analysis/sparse-read.js';
import { RuntimeDir } from '../src/storage/runtime-dir.js';
import { locateWiresharkTools } from '../src/wireshark/locate.js';
import type { WiresharkTools } from '../src/wireshark/locate.js';
import { fieldStreamIndex } from './helpers/field-streams.js';
import type { FieldStreamIndex } from './helpers/field-streams.js';
import { captureLoopback, group, requireCapture, tempDir } from './helpers/loopback-capture.js';
import { corpus } from './helpers/paths.js';
import { portReuseCapture } from './helpers/port-reuse.js';
import { indexesWithStreams } from './helpers/stream-indexes.js';

const run = promisify(execFile);
const HOST = '127.83.81.20';
const PEER = '127.83.81.21';

interface Sample {
  readonly name: string;
  readonly keylog?: string;
  readonly follow: readonly FollowProtocol[];
  /**
   * tshark numbers some of its UDP conversations by what came before the stream (SNMP here: frame
   * 48, 194:1161 -> 197:161, is stream 4 and the reply, frame 49, starts stream 5); a cut without
   * those frames numbers them otherwise, sees that, and reads the whole file instead.
   */
  readonly splits?: RegExp;
}

const SPLIT = /^the cut numbered the (tcp|udp) stream of frame \d+ otherwise than the file$/;
/** QUIC connection numbers count every connection before, which a cut does not hold. */
const QUIC = /^QUIC numbers its connections through the whole file$/;

/** Corpus captures: TLS 1.2 and 1.3 with keylogs, HTTP/2, QUIC with a keylog, DNS, SIP, a LAN mix. */
const SAMPLES: readonly Sample[] = [
  { name: 'FoxIO-LLC-ja4/pcap/http1.pcapng', follow: ['tcp', 'http'] },
  {
    name: '_derived/FoxIO-LLC-ja4/pcap/http2-with-cookies.nosecrets.pcapng',
    keylog: '_derived/FoxIO-LLC-ja4/pcap/http2-with-cookies.keylog.txt',
    follow: ['tcp', 'tls', 'http2'],
  },
  { name: 'FoxIO-LLC-ja4/pcap/latest.pcapng', follow: ['tcp', 'udp'] },
  {
    name: 'zeek/testing/btest/Traces/tls/tls12-decryption.pcap',
    keylog: '_derived/zeek/testing/btest/Traces/tls/tls12-decryption.keylog.txt',
    follow: ['tcp', 'tls', 'http'],
  },
  {
    name: 'illustrated-tls13/captures/capture.pcap',
    keylog: 'illustrated-tls13/captures/keylog.txt',
    follow: ['tcp', 'tls'],
  },
  {
    name: 'illustrated-quic/captures/capture.pcap',
    keylog: 'illustrated-quic/captures/keylog.txt',
    follow: ['udp'],
    splits: QUIC,
  },
  { name: 'chrissanders-packets/dns_tcp.pcapng', follow: ['tcp'] },
  {
    // Secrets in a decryption-secrets block: the cut's header carries it.
    name: 'FoxIO-LLC-ja4/pcap/chrome-cloudflare-quic-with-secrets.pcapng',
    follow: ['tcp', 'tls', 'http2', 'udp'],
    splits: QUIC,
  },
  { name: 'sipcapture-heplify/example/pcap/rtp_rtcp_sip_ipv4_udp.pcap', follow: ['udp'], splits: SPLIT },
  { name: 'chrissanders-packets/tcp_retransmissions.pcapng', follow: ['tcp'] },
];

/**
 * tshark's trees of `frames`, reading the whole file once, as get_packet_details does for a large
 * file (or twice, as it does for a small one). Every frame is dissected whatever the filter, so a
 * frame's tree is the same whichever others are printed with it: one read serves every cut point.
 */
async function wholeTrees(
  file: string,
  frames: readonly number[],
  keylog?: string,
  twoPass = false,
): Promise<Map<number, string>> {
  const args = twoPass ? ['-2', '-r', file] : ['-r', file];
  if (keylog) args.push('-o', `tls.keylog_file:${keylog}`);
  args.push('-Y', `frame.number in {${frames.join(', ')}}`, '-V');
  const { stdout } = await run('tshark', args, { maxBuffer: 256 * 1024 * 1024 });
  const trees = new Map<number, string>();
  // Each frame's tree starts with its "Frame N: ..." line, the only top-level line of that name.
  for (const tree of stdout.split(/^(?=Frame \d+: )/m)) {
    const n = /^Frame (\d+): /.exec(tree)?.[1];
    if (n !== undefined) trees.set(Number(n), norm(tree));
  }
  assert.deepEqual(
    [...trees.keys()],
    [...frames].sort((a, b) => a - b),
    `whole-file trees of ${file}`,
  );
  return trees;
}

/**
 * The whole file's tree of any one of `frames`, each read (one pass, or two) at most once; of
 * several frames, a read of their own. Printed alone, a frame is the first displayed: the one line
 * that depends on which frames are printed says so.
 */
function wholeTreesOf(
  file: string,
  frames: readonly number[],
  keylog?: string,
): (of: readonly number[], twoPass: boolean) => Promise<string> {
  const reads = new Map<boolean, Promise<Map<number, string>>>();
  return async (of, twoPass) => {
    if (of.length !== 1) {
      const trees = await wholeTrees(file, of, keylog, twoPass);
      return [...trees.values()].join('\n\n');
    }
    let read = reads.get(twoPass);
    if (!read) reads.set(twoPass, (read = wholeTrees(file, frames, keylog, twoPass)));
    const tree = (await read).get(of[0] ?? 0) ?? `(frame ${of[0]} not read)`;
    return tree.replace(
      /^( {4}\[Time delta from previous displayed frame: )[\d.]+( seconds\])$/m,
      '$10.000000000$2',
    );
  };
}

/** Several frames through a file: its start, quarters, its end. */
function cutPoints(count: number): number[] {
  return [...new Set([2, 3, Math.ceil(count / 4), Math.ceil(count / 2), Math.ceil((3 * count) / 4), count])]
    .filter((n) => n >= 1 && n <= count)
    .sort((a, b) => a - b);
}

const norm = (s: string): string => s.replace(/\n+$/, '');

describe('sparse cuts', () => {
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

  /** An analyzer that reads every drill-down from a cut, with a warm-up of `warmup` frames. */
  function cutting(streams: StreamIndex, warmup = 3, maxFrames = 100_000): Analyzer {
    return new Analyzer(group, () => Promise.resolve(tools), {
      timeoutMs: 60_000,
      runtimeDir,
      streamsOf: () => Promise.resolve(streams),
      sparse: { minFrames: 0, limits: { maxFrames, warmup } },
    });
  }

  /** get_packet_details of `frames`, as many as there are on one page. */
  function details(analyzer: Analyzer, file: string, frames: readonly number[], keylog?: string) {
    const ranges = frames.map((f) => ({ from: f, to: f }));
    return analyzer.analyze({
      file,
      displayFilter: frameFilter(ranges),
      frames: ranges,
      outputFormat: 'details',
      detail: { protocols: [], bytes: false },
      fields: [],
      keylogFile: keylog,
      offset: 0,
      limit: frames.length,
      maxChars: 50_000_000,
      reveal: true,
    });
  }

  /** get_packet_details of `frames` through the cut, and tshark's own whole-file trees. */
  async function compareDetails(
    analyzer: Analyzer,
    file: string,
    frames: readonly number[],
    whole: (of: readonly number[], twoPass: boolean) => Promise<string>,
    keylog?: string,
    splits?: RegExp,
  ): Promise<void> {
    const result = await details(analyzer, file, frames, keylog);
    const from = result.readFrom;
    if (splits && from && 'whole' in from) assert.match(from.whole, splits);
    else assert.ok(from && 'cut' in from, `frames ${frames.join(',')} read from a cut`);
    assert.equal(result.page.shown, frames.length);
    // Read whole, a small file's trees come from two passes (links to later frames filled in).
    const expected = await whole(frames, from !== undefined && 'whole' in from);
    assert.equal(norm(result.page.body), expected, `frames ${frames.join(',')} of ${file}`);
  }

  for (const sample of SAMPLES) {
    it(`shows ${path.basename(sample.name)}'s trees from cuts as the whole file does`, async (t) => {
      const file = corpus(sample.name);
      const keylog = sample.keylog === undefined ? undefined : corpus(sample.keylog);
      if (!file || (sample.keylog && !keylog)) return t.skip('the shared captures are not here');
      const streams = await fieldStreamIndex(file, keylog);
      const analyzer = cutting(streams);
      const points = cutPoints(streams.frames);
      const whole = wholeTreesOf(file, points, keylog);
      for (const f of points) await compareDetails(analyzer, file, [f], whole, keylog, sample.splits);
      // Several frames in one call, far apart: one cut holds all their streams.
      await compareDetails(analyzer, file, points.slice(-3), whole, keylog, sample.splits);
    });
  }

  for (const sample of SAMPLES) {
    it(`follows the streams of ${path.basename(sample.name)} (8 at most, spread) from cuts as the whole file does`, async (t) => {
      const file = corpus(sample.name);
      const keylog = sample.keylog === undefined ? undefined : corpus(sample.keylog);
      if (!file || (sample.keylog && !keylog)) return t.skip('the shared captures are not here');
      const streams = await fieldStreamIndex(file, keylog);
      const analyzer = cutting(streams);
      assert.ok(analyzer.sparse);
      const viaCut = new StreamFollower(group, () => Promise.resolve(tools), 60_000, {
        sparse: analyzer.sparse,
        dir: () => runtimeDir.path(),
      });
      const whole = new StreamFollower(group, () => Promise.resolve(tools), 60_000);
      let compared = 0;
      for (const protocol of sample.follow) {
        const kind = protocol === 'udp' ? 'udp' : 'tcp';
        for (const stream of spread(streams.count(kind), 8)) {
          const req: FollowPageRequest = {
            source: { file, label: file, sessionId: undefined, live: false },
            keylog: { keylogFile: keylog, warnings: [] },
            sourceArg: file,
            protocol,
            stream,
            ...(protocol === 'http2' ? { substream: 1 } : {}),
            reveal: true,
            limit: 1_000,
            maxChars: 10_000_000,
            call: { tool: 'follow_stream', args: {} },
          };
          const a = await viaCut.page(req).then(
            (r) => r.text,
            (err: Error) => `error: ${err.message}`,
          );
          const b = await whole.page(req).then(
            (r) => r.text,
            (err: Error) => `error: ${err.message}`,
          );
          assert.equal(a, b, `${protocol} stream ${stream}`);
          compared++;
        }
      }
      assert.ok(compared > 0);
    });
  }

  it('shows trees of a loopback capture of many flows, a long one and retransmissions from cuts', async (t) => {
    if (!(await requireCapture(t))) return;
    const file = await makeCapture(dir);
    const streams = await fieldStreamIndex(file);
    assert.ok(streams.frames > 500, `${streams.frames} frames captured`);
    const analyzer = cutting(streams, 20);
    // The long flow's frames deep in the file, and frames of short flows between.
    const long = streams.framesOf('tcp', longest(streams));
    const deep = [long[Math.floor(long.length / 2)] ?? 0, long.at(-3) ?? 0];
    const points = [...new Set([...cutPoints(streams.frames), ...deep])];
    const whole = wholeTreesOf(file, points);
    for (const f of points) await compareDetails(analyzer, file, [f], whole);
    await compareDetails(
      analyzer,
      file,
      [...new Set([...deep, streams.frames])].sort((a, b) => a - b),
      whole,
    );
    // No cut file is left behind.
    assert.deepEqual(
      (await readdir(await runtimeDir.path())).filter((n) => n.startsWith('sparse-')),
      [],
    );
  });

  it('shows a SYN on the ports of an old connection as the whole file does, from the stream index the summary pass makes', async (t) => {
    if (!(await requireCapture(t))) return;
    const file = await portReuseCapture(dir, HOST, PEER);
    const { stdout } = await run('tshark', [
      '-r',
      file,
      '-Y',
      'tcp.analysis.reused_ports',
      '-T',
      'fields',
      '-e',
      'frame.number',
    ]);
    const syn = Number(stdout.trim().split('\n')[0]);
    assert.ok(syn > 20, `the reusing SYN is frame ${syn}`);
    const streams = await indexesWithStreams(tools, runtimeDir, 60_000).ensureStreams(file);
    assert.ok(streams);
    assert.notEqual(streams.reusedFrom?.(streams.streamOf('tcp', syn)), undefined);
    const whole = wholeTreesOf(file, [syn]);
    assert.match(await whole([syn], false), /same ports as an earlier session/);
    await compareDetails(cutting(streams), file, [syn], whole);
  });

  it('reads the whole file when the stream is larger than the bound, and says why', async (t) => {
    const file = corpus('_derived/FoxIO-LLC-ja4/pcap/http2-with-cookies.nosecrets.pcapng');
    if (!file) return t.skip('the shared captures are not here');
    const streams = await fieldStreamIndex(file);
    const s = longest(streams);
    const last = streams.span('tcp', s)?.last ?? 0;
    const result = await details(cutting(streams, 3, 50), file, [last]);
    assert.deepEqual(result.readFrom, {
      whole: `the frames needed before frame ${last} are more than 50`,
    });
    assert.equal(result.page.shown, 1);
    // Below the threshold (the default, 100,000 frames), the file is read whole with no reason given.
    const small = new SparseReads({ indexes: new FrameIndexes(), streamsOf: () => Promise.resolve(streams) });
    assert.equal(await small.stream(file, 'tcp', s, dir), undefined);
  });
});

/** 0..count-1 when count <= most, else `most` of them spread evenly, the first and last included. */
function spread(count: number, most: number): number[] {
  if (count <= most) return Array.from({ length: count }, (_, i) => i);
  return [...new Set(Array.from({ length: most }, (_, i) => Math.round((i * (count - 1)) / (most - 1))))];
}

/** The TCP stream with the most frames. */
function longest(streams: FieldStreamIndex): number {
  let best = 0;
  for (let s = 0; s < streams.count('tcp'); s++)
    if (streams.framesOf('tcp', s).length > streams.framesOf('tcp', best).length) best = s;
  return best;
}

/**
 * A loopback capture: 150 HTTP requests each on its own connection, DNS-like UDP datagrams between
 * them, and one long TCP flow (a raw socket pair, written in bursts throughout) that spans the
 * capture; a small receive buffer and large writes make TCP window and ACK analysis busy.
 */
async function makeCapture(dir: string): Promise<string> {
  const web = http.createServer((req, res) => res.end(`reply to ${req.url ?? ''}\n`.repeat(60)));
  await new Promise<void>((resolve) => web.listen(0, HOST, resolve));
  const webPort = (web.address() as { port: number }).port;
  const sink = net.createServer((socket) => socket.resume());
  await new Promise<void>((resolve) => sink.listen(0, PEER, resolve));
  const sinkPort = (sink.address() as { port: number }).port;
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => udp.bind(0, PEER, resolve));
  udp.on('message', (msg, rinfo) => udp.send(msg, rinfo.port, rinfo.address));
  const udpPort = udp.address().port;
  try {
    return await captureLoopback(
      dir,
      'sparse',
      `host ${HOST} or host ${PEER}`,
      async () => {
        const long = net.connect(sinkPort, PEER);
        await new Promise<void>((resolve) => long.once('connect', resolve));
        const client = dgram.createSocket('udp4');
        await new Promise<void>((resolve) => client.bind(0, HOST, resolve));
        for (let i = 0; i < 150; i++) {
          await new Promise<void>((resolve, reject) => {
            const req = http.get({ host: HOST, port: webPort, path: `/r${i}`, agent: false }, (res) => {
              res.resume();
              res.on('end', resolve);
            });
            req.on('error', reject);
          });
          if (i % 10 === 0) client.send(Buffer.from(`ping ${i}`), udpPort, PEER);
          if (i % 5 === 0) long.write(Buffer.alloc(20_000, i % 256));
        }
        await new Promise<void>((resolve) => long.end(resolve));
        client.close();
      },
      1500,
    );
  } finally {
    web.closeAllConnections();
    await new Promise<void>((resolve) => web.close(() => resolve()));
    await new Promise<void>((resolve) => sink.close(() => resolve()));
    udp.close();
  }
}
