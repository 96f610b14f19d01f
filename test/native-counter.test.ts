// The counter inside tshark (native/summary-counter.c) replaces tshark's `-z` statistics and the
// per-packet lines in summaries, because it is cheaper. It must give exactly what they give, and
// the summary must fall back to them wherever the counter cannot be trusted.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { interfacesAtHead } from '../src/analysis/framing.js';
import { planChunks } from '../src/analysis/summary/chunks.js';
import type { ChunkSizing } from '../src/analysis/summary/chunks.js';
import { defaultChunking, Summarizer } from '../src/analysis/summary/index.js';
import type { SummaryRequest } from '../src/analysis/summary/index.js';
import { captureFacts } from '../src/wireshark/capinfos.js';
import type { CaptureFacts } from '../src/wireshark/capinfos.js';
import { locateWiresharkTools } from '../src/wireshark/locate.js';
import { conversationCounter, NATIVE_DIR } from '../src/wireshark/native.js';
import type { CounterStatus } from '../src/wireshark/native.js';
import { ProcessGroup } from '../src/wireshark/process.js';
import { sharedMixedCapture } from './helpers/fixtures.js';
import { inTurns } from './helpers/in-turns.js';
import { requireCapture, tempDir } from './helpers/loopback-capture.js';
import { tsharkFields } from './helpers/tshark.js';
import { corpus, SHARED_CAPTURES } from './helpers/paths.js';

const run = promisify(execFile);

const group = new ProcessGroup();
let dir: string;

before(async () => {
  dir = await tempDir();
});
after(async () => {
  await group.close();
  await rm(dir, { recursive: true, force: true });
});

const OFF: CounterStatus = { available: false, reason: 'off in this test' };

function summarizer(findCounter: (version: string | undefined) => CounterStatus): Summarizer {
  const tools = locateWiresharkTools(group);
  return new Summarizer(
    group,
    () => tools,
    () => Promise.resolve(dir),
    defaultChunking(1),
    findCounter,
  );
}

/** A summarizer that reads every file in ranges of `sizing`, two workers at a time. */
function inRanges2(
  g: ProcessGroup,
  sizing: ChunkSizing,
  status: CounterStatus,
  /** Found through another group, so that finding them is not among g's runs. */
  tools = locateWiresharkTools(g),
): Summarizer {
  const chunking = { workers: 2, minFileBytes: 0, sizing };
  return new Summarizer(
    g,
    () => tools,
    () => Promise.resolve(dir),
    chunking,
    () => status,
  );
}

/** The counter built for the tshark here, or why there is none. */
async function builtCounter(): Promise<CounterStatus> {
  const tshark = (await locateWiresharkTools(group)).status('tshark');
  return conversationCounter(tshark.found ? tshark.version : undefined, {});
}

async function captureFiles(root: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && /\.(pcap|pcapng|cap)$/.test(entry.name))
      found.push(path.join(entry.parentPath, entry.name));
  }
  return found.sort();
}

describe('the counter inside tshark', () => {
  it('gives every corpus capture the summary that tshark statistics and per-packet lines give', async (t) => {
    const status = await builtCounter();
    if (!status.available) return t.skip(`no counter: ${status.reason}`);
    if (!corpus('MANIFEST.txt')) return t.skip('../shared/captures is absent');
    const counted = summarizer(() => status);
    const plain = summarizer(() => OFF);
    const files = await captureFiles(SHARED_CAPTURES);
    assert.ok(files.length >= 20, `${files.length} corpus captures`);
    // A file per core at a time: each summary of these small files is mostly tshark starting up.
    await inTurns(files, os.availableParallelism(), async (file) => {
      const request: SummaryRequest = { file, topN: 1000, timeoutMs: 120_000 };
      assert.deepEqual(await counted.summarize(request), await plain.summarize(request), file);
    });
  });

  it('gives a loopback capture, decrypted or not, the same summary', async (t) => {
    const status = await builtCounter();
    if (!status.available) return t.skip(`no counter: ${status.reason}`);
    if (!(await requireCapture(t))) return;
    const made = await sharedMixedCapture();
    const find = (): CounterStatus => status;
    for (const keylogFile of [undefined, made.keylog]) {
      const request: SummaryRequest = { file: made.file, topN: 1000, timeoutMs: 120_000, keylogFile };
      const counted = await summarizer(find).summarize(request);
      assert.deepEqual(counted, await summarizer(() => OFF).summarize(request));
      assert.ok(counted.conversations.some((c) => c.kind === 'tcp' && c.bytes > 0));
      assert.ok(counted.conversations.some((c) => c.kind === 'udp'));
      assert.ok(counted.endpoints.length > 0 && counted.expertTop.length > 0);
    }
  });

  it('counts what capinfos counts in every corpus capture cut into ranges, so capinfos reads only the head', async (t) => {
    const status = await builtCounter();
    if (!status.available) return t.skip(`no counter: ${status.reason}`);
    if (!corpus('MANIFEST.txt')) return t.skip('../shared/captures is absent');
    if (!(await requireCapture(t))) return;
    // Besides the corpus: a microsecond pcap merged with a nanosecond loopback pcapng, so that the
    // file has two interfaces, and its first and last time stamps two precisions.
    const made = await sharedMixedCapture();
    const usec = corpus('chrissanders-packets/ppa1e/http.cap') ?? '';
    const merged = path.join(dir, 'two-precisions.pcapng');
    await run('mergecap', ['-w', merged, usec, made.file]);
    const mergedFacts = await captureFacts(group, 'capinfos', merged);
    assert.equal(mergedFacts.interfaces.length, 2);

    const tools = locateWiresharkTools(group);
    /** The facts of `file` summarized in ranges of `sizing` by two workers, and the files capinfos read. */
    const inRanges = async (file: string, sizing: ChunkSizing): Promise<[CaptureFacts, string[]]> => {
      // Every capinfos run the summary makes, by the file it read.
      const watched = new ProcessGroup();
      const capinfosRead: string[] = [];
      const run0 = watched.run.bind(watched);
      watched.run = (options) => {
        if (path.basename(options.command) === 'capinfos') capinfosRead.push(options.args.at(-1) ?? '');
        return run0(options);
      };
      try {
        const summary = await inRanges2(watched, sizing, status, tools).summarize({
          file,
          topN: 1,
          timeoutMs: 120_000,
        });
        return [summary.facts, capinfosRead];
      } finally {
        await watched.close();
      }
    };
    let cut = 0;
    // A file per core at a time, as above.
    const files = [...(await captureFiles(SHARED_CAPTURES)), merged];
    await inTurns(files, os.availableParallelism(), async (file) => {
      const whole = await captureFacts(group, 'capinfos', file);
      const sizing = {
        chunkPackets: Math.max(1, Math.ceil((whole.packets ?? 0) / 3)),
        chunkBytes: Number.MAX_SAFE_INTEGER,
        warmupPackets: 5,
      };
      if (!(await planChunks(file, sizing))) return; // not cut: read in one pass, with capinfos
      cut++;
      const [facts, read] = await inRanges(file, sizing);
      assert.deepEqual(facts, whole, file);
      assert.ok(read.length > 0 && !read.includes(file), `${file}: capinfos read ${read.join(', ')}`);
    });
    assert.ok(cut >= 20, `${cut} captures cut into ranges`);

    // Two pcapng sections number their interfaces apart, which the ranges cannot see: capinfos
    // reads such a file whole.
    const sections = path.join(dir, 'two-sections.pcapng');
    await writeFile(sections, Buffer.concat([await readFile(made.file), await readFile(made.file)]));
    const sizing = { chunkPackets: 50, chunkBytes: Number.MAX_SAFE_INTEGER, warmupPackets: 5 };
    assert.equal((await planChunks(sections, sizing))?.sections, 2);
    const [facts, read] = await inRanges(sections, sizing);
    assert.deepEqual(facts, await captureFacts(group, 'capinfos', sections));
    assert.deepEqual(read, [sections]);
  });

  it('names the capture interfaces (hosts) each conversation was seen on, counter or not, whole or in ranges', async (t) => {
    const status = await builtCounter();
    if (!status.available) return t.skip(`no counter: ${status.reason}`);
    if (!(await requireCapture(t))) return;
    // Three interfaces, as a merged capture of three hosts has: the loopback capture twice (-I none
    // keeps both interfaces, so every one of its conversations is seen on two), and a capture of
    // other conversations on the third, where the corpus is here.
    const made = await sharedMixedCapture();
    const other = corpus('chrissanders-packets/ppa1e/http.cap');
    const merged = path.join(dir, 'three-hosts.pcapng');
    await run('mergecap', ['-I', 'none', '-w', merged, made.file, made.file, ...(other ? [other] : [])]);
    const names = (await captureFacts(group, 'capinfos', merged)).interfaces.map(
      (i, id) => i.name ?? i.description ?? `interface ${id}`,
    );
    assert.equal(names.length, other ? 3 : 2);
    // The interfaces a file describes before its first packet, read from its framing.
    assert.equal(await interfacesAtHead(merged), names.length);
    assert.equal(await interfacesAtHead(made.file), 1);
    if (other) assert.equal(await interfacesAtHead(other), 1, 'a pcap file has one');

    // The truth, from tshark: each TCP and UDP conversation's interfaces, by its ends.
    const seenOn = new Map<string, Set<number>>();
    for (const [id = '', src = '', dst = '', tsp = '', tdp = '', usp = '', udp = ''] of await tsharkFields(
      merged,
      ['frame.interface_id', 'ip.src', 'ip.dst', 'tcp.srcport', 'tcp.dstport', 'udp.srcport', 'udp.dstport'],
      { filter: '(tcp || udp) && ip && !icmp', occurrence: 'f' },
    )) {
      const kind = tsp !== '' ? 'tcp' : 'udp';
      const [sp, dp] = kind === 'tcp' ? [tsp, tdp] : [usp, udp];
      const key = [kind, `${src}:${sp}`, `${dst}:${dp}`].sort().join(' ');
      const ids = seenOn.get(key) ?? new Set<number>();
      seenOn.set(key, ids.add(Number(id)));
    }

    const request: SummaryRequest = { file: merged, topN: 1000, timeoutMs: 120_000 };
    const counted = await summarizer(() => status).summarize(request);
    assert.deepEqual(counted, await summarizer(() => OFF).summarize(request));
    const sizing = { chunkPackets: 20, chunkBytes: Number.MAX_SAFE_INTEGER, warmupPackets: 5 };
    assert.ok(await planChunks(merged, sizing), 'the file is cut into ranges');
    assert.deepEqual(
      (await inRanges2(group, sizing, status).summarize(request)).conversations,
      counted.conversations,
    );

    const ported = counted.conversations.filter((c) => c.kind === 'tcp' || c.kind === 'udp');
    assert.ok(ported.length >= 3);
    for (const c of ported) {
      const ids = seenOn.get([c.kind, c.a, c.b].sort().join(' '));
      assert.ok(ids, `${c.kind} ${c.a} ${c.b} is in tshark's own fields`);
      assert.deepEqual(
        c.capturedOn,
        [...ids].sort().map((id) => names[id]),
        `${c.a} <-> ${c.b}`,
      );
    }
    assert.ok(ported.some((c) => c.capturedOn?.length === 2));
    if (other) assert.ok(ported.some((c) => c.capturedOn?.length === 1));
    // Every conversation, IP ones too, names where it was seen.
    assert.ok(counted.conversations.every((c) => (c.capturedOn?.length ?? 0) > 0));
  });

  it('names no interface in a capture of one', async (t) => {
    if (!(await requireCapture(t))) return;
    const made = await sharedMixedCapture();
    const request: SummaryRequest = { file: made.file, topN: 1000, timeoutMs: 120_000 };
    const summary = await summarizer(() => OFF).summarize(request);
    assert.ok(summary.conversations.length > 0);
    assert.ok(summary.conversations.every((c) => c.capturedOn === undefined));
  });

  it('leaves a packet whose header is cut short to the per-packet pass', async (t) => {
    const status = await builtCounter();
    if (!status.available) return t.skip(`no counter: ${status.reason}`);
    const file = corpus('zeek/testing/btest/Traces/tcp/truncated-header.pcap');
    if (!file) return t.skip('../shared/captures is absent');
    const request: SummaryRequest = { file, topN: 1000, timeoutMs: 120_000 };
    const counted = await summarizer(() => status).summarize(request);
    assert.deepEqual(counted, await summarizer(() => OFF).summarize(request));
    // The cut-short first packet (the SYN) is still part of its conversation.
    const tcp = counted.conversations.find((c) => c.kind === 'tcp' && c.a.endsWith(':60827'));
    assert.ok(tcp, JSON.stringify(counted.conversations));
    assert.equal(tcp.framesAToB, 10);
  });

  it('falls back to tshark statistics when the counter does not load, and stops trying it', async (t) => {
    const status = await builtCounter();
    if (!status.available) return t.skip(`no counter: ${status.reason}`);
    const file = corpus('chrissanders-packets/ppa1e/http.cap');
    if (!file) return t.skip('../shared/captures is absent');
    let asked = 0;
    const broken = summarizer(() => {
      asked++;
      return { ...status, counter: { ...status.counter, library: path.join(dir, 'no-such-library.so') } };
    });
    const request: SummaryRequest = { file, topN: 1000, timeoutMs: 120_000 };
    const expected = await summarizer(() => OFF).summarize(request);
    assert.deepEqual(await broken.summarize(request), expected);
    assert.deepEqual(await broken.summarize(request), expected);
    assert.equal(asked, 1, 'after one failure the counter is not asked for again');
  });
});

describe('finding the counter', () => {
  it('says how to build it when it is not built', () => {
    const status = conversationCounter('4.0.17', {}, path.join(dir, 'nothing-here'));
    assert.equal(status.available, false);
    assert.match(status.available ? '' : status.reason, /npm run build.*libwireshark-dev/s);
  });

  it('trusts only a counter built for the very tshark version here', async () => {
    const built = path.join(dir, 'native-4.2');
    await mkdir(built, { recursive: true });
    await writeFile(path.join(built, 'build.json'), JSON.stringify({ wireshark: '4.2.5' }));
    const other = conversationCounter('4.0.17', {}, built);
    assert.equal(other.available, false);
    assert.match(other.available ? '' : other.reason, /built for Wireshark 4\.2\.5.*tshark here is 4\.0\.17/);
    assert.equal(conversationCounter('4.2.5', {}, built).available, true);
    await writeFile(path.join(built, 'build.json'), '{ not json');
    assert.match(JSON.stringify(conversationCounter('4.2.5', {}, built)), /cannot be read/);
  });

  it('is turned off by SHARKMCP_NATIVE=0', () => {
    const status = conversationCounter('4.0.17', { SHARKMCP_NATIVE: '0' }, NATIVE_DIR);
    assert.equal(status.available, false);
  });
});
