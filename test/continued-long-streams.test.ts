// Filtered listings continued on a capture whose long-lived connections span the whole file (a
// keep-alive HTTP connection and a keep-alive HTTPS one, with a keylog), interleaved with short
// HTTP connections and DNS queries, in rounds. The streams open where a page starts need more
// earlier frames than a cut may hold, so the continuation keeps them light (their first frame
// only) and reads a stream's whole history only when the page's matches lie where it has packets
// (src/analysis/continued-read.ts). Every page must equal the same page read from the whole file:
// frame numbers, times, stream numbers, info text, expert messages.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Analyzer } from '../src/analysis/analyze-capture.js';
import type { AnalysisRequest } from '../src/analysis/analyze-capture.js';
import { DEFAULT_SPARSE_LIMITS } from '../src/analysis/index/sparse-cut.js';
import { RuntimeDir } from '../src/storage/runtime-dir.js';
import { locateWiresharkTools } from '../src/wireshark/locate.js';
import type { WiresharkTools } from '../src/wireshark/locate.js';
import { captureLoopback, group, requireCapture, tempDir } from './helpers/loopback-capture.js';
import { indexesWithStreams } from './helpers/stream-indexes.js';
import { tsharkFields } from './helpers/tshark.js';
import { close, dnsServer, httpGet, httpsServer, listen, makeCertificate } from './helpers/traffic.js';
import { queryFromPort } from './helpers/dns-query.js';

const NET = '127.83.89';
const WEB_HOST = `${NET}.10`;
const TLS_HOST = `${NET}.11`;
const DNS_HOST = `${NET}.1`;

/**
 * Per round, in phases: requests on each of the long HTTP connections (side by side), then on the
 * long HTTPS one, then short HTTP connections and DNS queries side by side. A phase's packets lie
 * apart from the others', so some pages have no packet of a long connection among them.
 */
const ROUNDS = 20;
const PER_ROUND = { long: 350, tls: 120, short: 40, dns: 60 };
/** The DNS queries' source ports: ROUNDS x PER_ROUND.dns of them from here, below 32768. */
const DNS_PORT_BASE = 23_000;
/** Long HTTP connections. */
const LONG = 3;
/**
 * A pause between phases: a connection's last delayed ACK (up to 200 ms on Linux) falls in it,
 * not among the next phase's packets.
 */
const PHASE_GAP_MS = 300;

/** Runs `f(0..n-1)` one after another. */
async function inTurn(n: number, f: (i: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < n; i++) await f(i);
}

function get(
  agent: http.Agent,
  mod: typeof http | typeof https,
  host: string,
  port: number,
  p: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    mod
      .get({ host, port, path: p, agent, rejectUnauthorized: false }, (res) => {
        res.resume();
        res.on('end', resolve);
      })
      .on('error', reject);
  });
}

/** Answers in three writes a tick apart: more segments (and frames) per request. */
function inPieces(req: http.IncomingMessage, res: http.ServerResponse): void {
  res.write(`reply to ${req.url ?? ''}\n`);
  setImmediate(() => {
    res.write('more\n');
    setImmediate(() => res.end('end\n'));
  });
}

/** The capture (over 100,000 frames) and its keylog. */
async function makeCapture(dir: string): Promise<{ file: string; keylog: string }> {
  const keylog = path.join(dir, 'keylog.txt');
  writeFileSync(keylog, '');
  const dns = await dnsServer(DNS_HOST, 53, '10.20.30.40');
  const plain = http.createServer(inPieces);
  const secure = httpsServer(await makeCertificate(dir), keylog, (req, res) =>
    res.end(`secret for ${req.url ?? ''}`),
  );
  const web = await listen(plain, WEB_HOST, 80);
  const tls = await listen(secure, TLS_HOST, 443);
  try {
    // tshark finds HTTP and TLS by their ports, and the capture filter names our hosts.
    assert.deepEqual(
      [web, tls],
      [
        { host: WEB_HOST, port: 80 },
        { host: TLS_HOST, port: 443 },
      ],
    );
    const file = await captureLoopback(dir, 'long-streams', `net ${NET}.0/24`, async () => {
      const long = new http.Agent({ keepAlive: true, maxSockets: LONG });
      const longTls = new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
      const lanes = (n: number, f: (lane: number) => Promise<void>): Promise<void[]> =>
        Promise.all(Array.from({ length: n }, (_, lane) => f(lane)));
      for (let r = 0; r < ROUNDS; r++) {
        await lanes(LONG, (l) =>
          inTurn(PER_ROUND.long, (i) => get(long, http, WEB_HOST, 80, `/long/${r}/${l}/${i}`)),
        );
        await delay(PHASE_GAP_MS);
        await inTurn(PER_ROUND.tls, (i) => get(longTls, https, TLS_HOST, 443, `/tls/${r}/${i}`));
        await delay(PHASE_GAP_MS);
        await Promise.all([
          inTurn(PER_ROUND.short, (i) => httpGet(80, `/short/${r}/${i}`, WEB_HOST)),
          // Each query from a port of its own: one UDP stream each, as the DNS pages need.
          inTurn(PER_ROUND.dns, (i) =>
            queryFromPort(DNS_HOST, 53, `q${r}-${i}.sharkmcp.test`, DNS_PORT_BASE + r * PER_ROUND.dns + i),
          ),
        ]);
      }
      long.destroy();
      longTls.destroy();
    });
    return { file, keylog };
  } finally {
    await close(plain);
    await close(secure);
    await new Promise<void>((resolve) => dns.socket.close(() => resolve()));
  }
}

interface ListingCase {
  readonly filter: string;
  readonly format: Pick<AnalysisRequest, 'outputFormat' | 'fields'>;
  /**
   * What the first packet of round `r` in the listing holds, where the listing's pages of a round
   * lie in one phase: then every continued page there must come from a cut (no long stream has
   * packets among its matches). Without it, pages start at shares of the listing.
   */
  readonly round?: (r: number) => string;
}

const LISTINGS: readonly ListingCase[] = [
  {
    filter: 'dns.flags.response == 0',
    format: { outputFormat: 'text', fields: [] },
    round: (r) => ` q${r}-0.sharkmcp.test`,
  },
  {
    filter: 'dns',
    format: {
      outputFormat: 'fields',
      fields: [
        'udp.stream',
        'dns.id',
        'dns.qry.name',
        'frame.time_delta_displayed',
        'dns.response_to',
        '_ws.expert.message',
      ],
    },
    round: (r) => `\tq${r}-0.sharkmcp.test\t`,
  },
  // Matches in the long HTTPS connection: its history is read for the page.
  {
    filter: 'http.request && tcp.port == 443',
    format: { outputFormat: 'text', fields: [] },
    round: (r) => ` /tls/${r}/0 `,
  },
  { filter: 'tcp.flags.syn == 1 || tcp.analysis.flags', format: { outputFormat: 'json', fields: [] } },
];

const LIMIT = 20;

describe('filtered listings continued past long-lived streams', () => {
  const runtimeDir = new RuntimeDir();

  it('pages deep in the file equal the whole file, read from light cuts', async (t) => {
    if (!(await requireCapture(t))) return;
    const dir = await tempDir();
    t.after(() => rm(dir, { recursive: true, force: true }));
    const tools: WiresharkTools = await locateWiresharkTools(group);
    const { file, keylog } = await makeCapture(dir);
    // The capture's shape, from tshark itself: over 100,000 frames, and the long connection
    // (the first TCP stream) spans it with more frames than a cut may hold.
    const rows = await tsharkFields(file, ['frame.number', 'tcp.stream']);
    const frames = rows.length;
    const long = rows.filter((r) => r[1] === '0').map((r) => Number(r[0]));
    assert.ok(frames > 100_000, `the capture has ${frames} frames`);
    assert.ok(long.length > DEFAULT_SPARSE_LIMITS.maxFrames, `the long connection has ${long.length} frames`);
    assert.ok((long.at(-1) ?? 0) > frames * 0.9, 'the long connection does not span the file');
    const indexes = indexesWithStreams(tools, runtimeDir, 300_000);
    assert.ok(await indexes.ensureStreams(file), 'no stream index of the capture made here');
    const common = { timeoutMs: 120_000, runtimeDir };
    const whole = new Analyzer(group, () => Promise.resolve(tools), { ...common, frameIndexes: null });
    const continuing = new Analyzer(group, () => Promise.resolve(tools), {
      ...common,
      frameIndexes: indexes,
      buildStreams: true,
      sparse: { minFrames: 0 },
    });

    for (const listing of LISTINGS) {
      const base = { file, keylogFile: keylog, displayFilter: listing.filter, ...listing.format };
      // The whole file's listing in one read: each page is a run of its packets.
      const all = await whole.analyze({ ...base, offset: 0, limit: 1_000_000, maxChars: 100_000_000 });
      assert.equal(all.page.moreMatch, false);
      const packets = packetsOf(listing.format.outputFormat, all.page.body);
      assert.ok(packets.length > 4 * LIMIT, `"${listing.filter}" matched ${packets.length} packets`);
      let continued = 0;
      let cut = 0;
      const why: string[] = [];
      // Two places in the file, each a page read as the first (from the whole file, or continued
      // from a page before), then pages continued from it.
      for (const share of [0.4, 0.85]) {
        const marker = listing.round?.(Math.floor(share * ROUNDS));
        const start = marker
          ? packets.findIndex((p) => p.includes(marker))
          : Math.floor((packets.length * share) / LIMIT) * LIMIT;
        assert.ok(start >= 0, `"${listing.filter}": no packet holds "${marker ?? ''}"`);
        for (let offset = start; offset < start + 3 * LIMIT && offset < packets.length; offset += LIMIT) {
          const got = await continuing.analyze({ ...base, offset, limit: LIMIT, maxChars: 400_000 });
          const where = `"${listing.filter}" ${listing.format.outputFormat} offset ${offset} of ${packets.length}`;
          const expected = pageOf(listing.format.outputFormat, packets.slice(offset, offset + LIMIT));
          assert.equal(got.page.body, expected, where);
          assert.equal(got.page.moreMatch, offset + LIMIT < packets.length, where);
          if (offset === start) continue;
          continued++;
          if (got.readFrom && 'cut' in got.readFrom) cut++;
          else why.push(`offset ${offset}: ${got.readFrom?.whole ?? 'read whole'}`);
        }
      }
      if (listing.round)
        assert.equal(
          cut,
          continued,
          `"${listing.filter}": ${cut} of ${continued} pages from a cut (${why.join('; ')})`,
        );
      t.diagnostic(
        `"${listing.filter}" ${listing.format.outputFormat}: ${cut} of ${continued} continued pages from a cut`,
      );
    }
  });
});

/** The packets of a page's body (text and fields: a line each; JSON: compact, one a line). */
function packetsOf(format: AnalysisRequest['outputFormat'], body: string): string[] {
  if (format !== 'json') return body === '' ? [] : body.split('\n');
  return body === '[]' ? [] : body.slice('[\n'.length, -'\n]'.length).split(',\n');
}

/** A page's body of `packets`, as the reader assembles it. */
function pageOf(format: AnalysisRequest['outputFormat'], packets: readonly string[]): string {
  if (format !== 'json') return packets.join('\n');
  return packets.length === 0 ? '[]' : `[\n${packets.join(',\n')}\n]`;
}
