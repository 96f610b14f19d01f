// summarize_capture on large files cuts them into packet ranges read by several tshark workers.
// These tests use small ranges on small files, so that the cuts fall inside conversations, and
// check that the answer is the one a single pass gives.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { planChunks } from '../src/analysis/summary/chunks.js';
import { defaultChunking, Summarizer } from '../src/analysis/summary/index.js';
import type { SummaryRequest } from '../src/analysis/summary/index.js';
import { countPackets } from '../src/wireshark/capinfos.js';
import { locateWiresharkTools } from '../src/wireshark/locate.js';
import { ProcessGroup } from '../src/wireshark/process.js';
import { sharedMixedCapture } from './helpers/fixtures.js';
import { requireCapture, tempDir } from './helpers/loopback-capture.js';
import { corpus } from './helpers/paths.js';
import { beyondChecksums } from './helpers/summaries.js';

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

function summarizers(sizing: { chunkPackets: number; warmupPackets: number }): {
  one: Summarizer;
  many: Summarizer;
} {
  const tools = locateWiresharkTools(group);
  const work = (): Promise<string> => Promise.resolve(dir);
  return {
    // The single pass counts from per-packet lines and tshark's statistics; the ranges with the
    // counter inside tshark where it is built: the two ways must agree.
    one: new Summarizer(
      group,
      () => tools,
      work,
      defaultChunking(1),
      () => ({
        available: false,
        reason: 'per-packet lines',
      }),
    ),
    many: new Summarizer(group, () => tools, work, {
      workers: 2,
      minFileBytes: 0,
      sizing: { ...sizing, chunkBytes: Number.MAX_SAFE_INTEGER },
    }),
  };
}

async function fifosLeft(): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.startsWith('summary-'));
}

describe('chunked summaries', () => {
  it('give the single-pass answer on a loopback capture enlarged with time-shifted copies', async (t) => {
    if (!(await requireCapture(t))) return;
    const made = await sharedMixedCapture();
    const base = (await countPackets(group, 'capinfos', made.file)) ?? 0;
    // Six copies, each shifted past the one before, as the benchmark builds its captures: every
    // TCP stream then runs through all of them, across every cut.
    const parts: string[] = [];
    for (let i = 0; i < 6; i++) {
      const part = path.join(dir, `copy-${i}.pcapng`);
      await run('editcap', ['-t', String(i * 30), made.file, part]);
      parts.push(part);
    }
    const file = path.join(dir, 'copies.pcapng');
    await run('mergecap', ['-a', '-w', file, ...parts]);
    const sizing = { chunkPackets: Math.ceil(base * 1.5), warmupPackets: base + 1 };
    const plan = await planChunks(file, { ...sizing, chunkBytes: Number.MAX_SAFE_INTEGER });
    assert.ok(plan && plan.chunks.length >= 4, `the file is cut into ${plan?.chunks.length ?? 0} ranges`);
    assert.equal(
      plan.chunks.reduce((n, c) => n + c.packets, 0),
      base * 6,
      'the ranges hold every packet once',
    );

    const { one, many } = summarizers(sizing);
    for (const keylogFile of [undefined, made.keylog]) {
      const request: SummaryRequest = { file, topN: 1000, timeoutMs: 120_000, keylogFile };
      const single = await one.summarize(request);
      const chunked = await many.summarize(request);
      assert.deepEqual(beyondChecksums(chunked), beyondChecksums(single));
      const tcp = chunked.conversations.filter((c) => c.kind === 'tcp');
      assert.ok(tcp.length > 0 && tcp.every((c) => c.frames >= 6 * 8), 'each stream runs through all copies');
      if (keylogFile)
        assert.ok(
          chunked.protocols.some((p) => p.path.endsWith('tls:http')),
          'TLS decrypted',
        );
    }
    assert.deepEqual(await fifosLeft(), [], 'no FIFO or directory is left behind');
    assert.equal(group.size, 0, 'no worker is left running');
  });

  it('cuts a file of many packets into whole rounds of even ranges when told the workers', async (t) => {
    if (!(await requireCapture(t))) return;
    const made = await sharedMixedCapture();
    const base = (await countPackets(group, 'capinfos', made.file)) ?? 0;
    // More packets than the scan reads before it estimates the file's packets from their sizes.
    const parts: string[] = [];
    for (let i = 0; base * i < 60_000; i++) {
      const part = path.join(dir, `even-${i}.pcapng`);
      await run('editcap', ['-t', String(i * 30), made.file, part]);
      parts.push(part);
    }
    const file = path.join(dir, 'even.pcapng');
    await run('mergecap', ['-a', '-w', file, ...parts]);
    const total = base * parts.length;
    // A packet bound of 30% of the file: three full ranges and a short one, unless made even.
    const sizing = {
      chunkPackets: Math.ceil(total * 0.3),
      chunkBytes: Number.MAX_SAFE_INTEGER,
      warmupPackets: 100,
    };
    const counts = async (evenWorkers?: number): Promise<number[]> =>
      ((await planChunks(file, { ...sizing, evenWorkers }))?.chunks ?? []).map((c) => c.packets);
    const uneven = await counts();
    assert.equal(uneven.length, 4);
    assert.ok(
      Math.min(...uneven) < 0.5 * Math.max(...uneven),
      `uneven without the workers: ${uneven.join(', ')}`,
    );
    const even = await counts(2);
    assert.equal(even.length, 4, `two rounds of two ranges: ${even.join(', ')}`);
    assert.equal(
      even.reduce((a, b) => a + b, 0),
      total,
      'every packet once',
    );
    assert.ok(Math.min(...even) > 0.9 * Math.max(...even), `even with them: ${even.join(', ')}`);
  });

  it('all finish with one tshark slot: a worker waiting for a slot holds nothing the running ones need', async (t) => {
    if (!(await requireCapture(t))) return;
    const made = await sharedMixedCapture();
    const base = (await countPackets(group, 'capinfos', made.file)) ?? 0;
    const file = path.join(dir, 'three.pcapng');
    await run('mergecap', ['-a', '-w', file, made.file, made.file, made.file]);
    const chunking = {
      workers: 2,
      minFileBytes: 0,
      sizing: { chunkPackets: base, warmupPackets: base, chunkBytes: Number.MAX_SAFE_INTEGER },
    };
    const work = (): Promise<string> => Promise.resolve(dir);
    const request: SummaryRequest = { file, topN: 1000, timeoutMs: 60_000 };
    const alone = await new Summarizer(group, () => locateWiresharkTools(group), work, chunking).summarize(
      request,
    );
    // Five summaries of two workers each, one slot: nine workers wait while one runs. A worker that
    // opened its FIFO before its turn would hold one of libuv's four pool threads, and the running
    // worker, whose feed reads the file on that pool, would wait for them until its time limit.
    const narrow = new ProcessGroup({ maxProcesses: 1 });
    try {
      const tools = locateWiresharkTools(narrow);
      const summarizer = new Summarizer(narrow, () => tools, work, chunking);
      const t0 = performance.now();
      const answers = await Promise.all(Array.from({ length: 5 }, () => summarizer.summarize(request)));
      for (const answer of answers) assert.deepEqual(answer, alone);
      assert.ok(performance.now() - t0 < 50_000, 'no worker waited for its time limit');
    } finally {
      await narrow.close();
    }
    assert.deepEqual(await fifosLeft(), []);
  });

  it('give the single-pass answer on corpus files: pcap, pcapng with embedded secrets, a cut-short file', async (t) => {
    const files = [
      'FoxIO-LLC-ja4/pcap/http2-with-cookies.pcapng',
      'FoxIO-LLC-ja4/pcap/latest.pcapng',
      'chrissanders-packets/ppa1e/http.cap',
      '_derived/chrissanders-packets/ppa1e/http.truncated-midpacket.cap',
      'zeek/testing/btest/Traces/smb/smb2.pcap',
    ].map((f) => corpus(f));
    if (files.some((f) => f === undefined)) return t.skip('../shared/captures is absent');
    for (const file of files as string[]) {
      const packets = (await countPackets(group, 'capinfos', file)) ?? 0;
      // Ranges of a quarter of the file, each worker warmed up with everything before its range:
      // what this checks is the cutting, the headers (interfaces, decryption secrets) and the sums.
      const sizing = { chunkPackets: Math.ceil(packets / 4), warmupPackets: packets };
      const { one, many } = summarizers(sizing);
      const request: SummaryRequest = { file, topN: 1000, timeoutMs: 120_000 };
      const single = await one.summarize(request);
      assert.deepEqual(
        beyondChecksums(await many.summarize(request)),
        beyondChecksums(single),
        path.basename(file),
      );
    }
    assert.deepEqual(await fifosLeft(), []);
  });

  it('read in one pass where no FIFO can be made', async (t) => {
    const file = corpus('FoxIO-LLC-ja4/pcap/latest.pcapng');
    if (!file) return t.skip('../shared/captures is absent');
    const { one, many } = summarizers({ chunkPackets: 50, warmupPackets: 10 });
    const request: SummaryRequest = { file, topN: 1000, timeoutMs: 120_000 };
    const single = await one.summarize(request);
    // mkfifo is looked up on PATH; the Wireshark tools were located before, by absolute path.
    await locateWiresharkTools(group);
    const saved = process.env['PATH'];
    process.env['PATH'] = path.join(dir, 'no-such-dir');
    try {
      assert.deepEqual(await many.summarize(request), single);
    } finally {
      process.env['PATH'] = saved;
    }
    assert.deepEqual(await fifosLeft(), []);
  });

  it('stop every worker and leave nothing behind when the call is cancelled', async (t) => {
    const source = corpus('zeek/testing/btest/Traces/smb/smb2.pcap');
    if (!source) return t.skip('../shared/captures is absent');
    const file = path.join(dir, 'big.pcap');
    await run('mergecap', ['-a', '-F', 'pcap', '-w', file, ...Array<string>(40).fill(source)]);
    const { many } = summarizers({ chunkPackets: 2_000, warmupPackets: 100 });
    const controller = new AbortController();
    const started = many.summarize({ file, topN: 10, timeoutMs: 120_000 }, controller.signal, () =>
      controller.abort(),
    );
    await assert.rejects(started, /cancel/i);
    assert.equal(group.size, 0, 'no worker is left running');
    assert.deepEqual(await fifosLeft(), []);
  });
});
