// Damaged copies of corpus captures, made here with a seeded PRNG (the seed is printed; set
// SHARKMCP_DAMAGE_SEED to replay one): cut short inside the file header, a record header or packet
// data; bit flips in record headers and in data; the file header zeroed; garbage appended. Every
// analysis tool reads each copy through a real MCP client and must answer within a bound, with a
// clear message when it cannot read the file and a warning that says where the damage is when it
// reads only part of it; the packets before the damage must be those `tshark -r` itself reads.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { planChunks } from '../src/analysis/summary/chunks.js';
import { defaultChunking, Summarizer } from '../src/analysis/summary/index.js';
import { locateWiresharkTools } from '../src/wireshark/locate.js';
import { ProcessGroup } from '../src/wireshark/process.js';
import { readAnswer, useServer } from './helpers/in-process.js';
import type { ToolAnswer } from './helpers/mcp-client.js';
import { inTurns } from './helpers/in-turns.js';
import { corpus } from './helpers/paths.js';
import { beyondChecksums } from './helpers/summaries.js';

/**
 * Longest any one call may take here: a hang, not slowness. The files are small (a few seconds
 * is normal alone), but nine calls run at once behind the server's tshark slots, and on two cores
 * shared with other test files compare_captures (two summaries, six digests, a packet pass) took
 * over 30 s three times in CI simulations at load 10 and more.
 */
const CALL_LIMIT_MS = 90_000;

interface Original {
  readonly name: string;
  readonly file: string;
  readonly keylog?: string | undefined;
  /** The digest inspect_protocol is asked for besides tcp_health. */
  readonly digest: string;
}

/** A seeded PRNG (mulberry32): the same seed makes the same damaged files. */
function prng(seed: number): { int(min: number, max: number): number } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { int: (min, max) => min + Math.floor(next() * (max - min + 1)) };
}

/** One record of the file: where it starts, its header's length and its whole length. */
interface FileRecord {
  readonly offset: number;
  readonly header: number;
  readonly length: number;
  readonly packet: boolean;
}

/**
 * The records of a pcap or pcapng file, read here independently of the product: the file header
 * (or the section header block) first, then each packet record or block.
 */
function records(bytes: Buffer): FileRecord[] {
  const out: FileRecord[] = [];
  if (bytes.readUInt32LE(0) === 0x0a0d0d0a) {
    for (let at = 0; at + 12 <= bytes.length;) {
      const type = bytes.readUInt32LE(at);
      const length = bytes.readUInt32LE(at + 4);
      // An enhanced packet block's header runs to its captured length (28 bytes).
      out.push({ offset: at, header: type === 6 ? 28 : 8, length, packet: type === 6 || type === 3 });
      at += length;
    }
    return out;
  }
  out.push({ offset: 0, header: 24, length: 24, packet: false });
  for (let at = 24; at + 16 <= bytes.length;) {
    const length = 16 + bytes.readUInt32LE(at + 8);
    out.push({ offset: at, header: 16, length, packet: true });
    at += length;
  }
  return out;
}

interface Damage {
  readonly kind: string;
  /** What was done, with offsets, to reproduce it by hand. */
  readonly what: string;
  readonly bytes: Buffer;
}

const DAMAGE_KINDS = [
  'cut in the file header',
  'cut in a record header',
  'cut in packet data',
  'bit flip in a record header',
  'bit flip in packet data',
  'bit flips across the file',
  'file header zeroed',
  'random bytes appended',
  'partial record appended',
] as const;

/** The damaged copies of one file, one of each of DAMAGE_KINDS. */
function damages(bytes: Buffer, rng: ReturnType<typeof prng>): Damage[] {
  const all = records(bytes);
  const packets = all.filter((r) => r.packet);
  const first = all.find((r) => r.packet);
  assert.ok(first && packets.length >= 4, 'a file of several packets');
  // A packet in the middle half, so that packets come before and after it.
  const pick = (): FileRecord => packets[rng.int(1, packets.length - 2)] ?? first;
  const flip = (b: Buffer, at: number): string => {
    const bit = rng.int(0, 7);
    b[at] = (b[at] ?? 0) ^ (1 << bit);
    return `bit ${bit} of byte ${at}`;
  };
  const out: Damage[] = [];
  const fileHeader = all[0]?.length ?? 24;
  const cutHeader = rng.int(1, fileHeader - 1);
  out.push({
    kind: 'cut in the file header',
    what: `cut at byte ${cutHeader}`,
    bytes: bytes.subarray(0, cutHeader),
  });
  let r = pick();
  const cutRecord = r.offset + rng.int(1, r.header - 1);
  out.push({
    kind: 'cut in a record header',
    what: `cut at byte ${cutRecord}, inside the header of the record at ${r.offset}`,
    bytes: bytes.subarray(0, cutRecord),
  });
  r = pick();
  const cutData = r.offset + rng.int(r.header, r.length - 1);
  out.push({
    kind: 'cut in packet data',
    what: `cut at byte ${cutData}, inside the record at ${r.offset}`,
    bytes: bytes.subarray(0, cutData),
  });
  r = pick();
  let copy = Buffer.from(bytes);
  // The record's length fields: pcap's captured length; pcapng's block length or captured length.
  const lengthField = r.header === 16 ? r.offset + 8 : r.offset + (rng.int(0, 1) === 0 ? 4 : 20);
  out.push({
    kind: 'bit flip in a record header',
    what: `${flip(copy, lengthField + rng.int(0, 3))}, a length field of the record at ${r.offset}`,
    bytes: copy,
  });
  r = pick();
  copy = Buffer.from(bytes);
  out.push({
    kind: 'bit flip in packet data',
    what: `${flip(copy, rng.int(r.offset + r.header, r.offset + r.length - 1))}, in the record at ${r.offset}`,
    bytes: copy,
  });
  copy = Buffer.from(bytes);
  const flips = Array.from({ length: 12 }, () => flip(copy, rng.int(first.offset, bytes.length - 1)));
  out.push({ kind: 'bit flips across the file', what: flips.join(', '), bytes: copy });
  copy = Buffer.from(bytes);
  copy.fill(0, 0, fileHeader);
  out.push({ kind: 'file header zeroed', what: `bytes 0-${fileHeader - 1} zeroed`, bytes: copy });
  const garbage = Buffer.from(Array.from({ length: rng.int(1, 2048) }, () => rng.int(0, 255)));
  out.push({
    kind: 'random bytes appended',
    what: `${garbage.length} random bytes appended`,
    bytes: Buffer.concat([bytes, garbage]),
  });
  r = pick();
  const partial = bytes.subarray(r.offset, r.offset + rng.int(r.header, r.length - 1));
  out.push({
    kind: 'partial record appended',
    what: `the first ${partial.length} bytes of the record at ${r.offset} appended`,
    bytes: Buffer.concat([bytes, partial]),
  });
  return out;
}

/** What tshark itself reads of a file: the frame numbers it prints, and what it says. */
interface Truth {
  readonly frames: number[];
  readonly stderr: string;
}

function tsharkReads(file: string): Promise<Truth> {
  return new Promise((resolve) => {
    execFile(
      'tshark',
      ['-r', file, '-T', 'fields', '-e', 'frame.number'],
      { maxBuffer: 64 * 1024 * 1024, timeout: CALL_LIMIT_MS },
      (_err, stdout, stderr) => {
        resolve({
          frames: stdout
            .split('\n')
            .filter((l) => l !== '')
            .map(Number),
          stderr: stderr
            .split('\n')
            .filter((l) => !l.startsWith('Running as user'))
            .join('\n')
            .trim(),
        });
      },
    );
  });
}

/** Signs of an answer that is not meant for a reader: a stack trace, a usage dump, a JS value. */
const UNCLEAR = [
  /\n\s+at \S.*:\d+:\d+\)?/,
  /Usage: tshark|^\s*-r <infile>|Capture interface:\n/m,
  /TypeError|RangeError|ReferenceError|\[object Object\]|\bundefined\b|\bNaN\b/,
];
/** What an error about a damaged file must name. */
const NAMES_PROBLEM = /damaged|corrupt|cut short|not a capture file|header|no (whole|complete) packet/i;
/** And what to do about it. */
const SAYS_WHAT_TO_DO = /\b(give|use|try|repair|capture it again|another copy|check)\b|\b[a-z]+_[a-z_]+ \{/i;

describe('damaged captures', () => {
  const server = useServer();

  const originals = (): Original[] | undefined => {
    const list: (Original | undefined)[] = [
      ['http.cap (pcap, HTTP)', 'chrissanders-packets/ppa1e/http.cap', undefined, 'http'],
      [
        'chrome-cloudflare-quic nosecrets (pcapng, TLS + QUIC, keylog)',
        '_derived/FoxIO-LLC-ja4/pcap/chrome-cloudflare-quic-with-secrets.nosecrets.pcapng',
        '_derived/FoxIO-LLC-ja4/pcap/chrome-cloudflare-quic-with-secrets.keylog.txt',
        'tls',
      ],
      ['dns_axfr.pcapng (pcapng, DNS over TCP)', 'chrissanders-packets/dns_axfr.pcapng', undefined, 'dns'],
    ].map(([name, file, keylog, digest]) => {
      const f = corpus(file ?? '');
      const k = keylog === undefined ? undefined : corpus(keylog);
      if (!f || (keylog !== undefined && !k)) return undefined;
      return { name: name ?? '', file: f, keylog: k, digest: digest ?? 'dns' };
    });
    return list.every((o) => o !== undefined) ? list : undefined;
  };

  const given = Number(process.env['SHARKMCP_DAMAGE_SEED']);
  const seed = Number.isInteger(given) && given > 0 ? given : Math.floor(Math.random() * 2 ** 31) + 1;
  const seedNote = `seed ${seed} (replay with SHARKMCP_DAMAGE_SEED=${seed})`;
  const list = originals();
  /** Every damaged copy, with what tshark itself reads of it. */
  const copies: { original: Original; whole: Truth; damage: Damage; file: string; truth: Truth }[] = [];

  before(async () => {
    if (!list) return;
    const rng = prng(seed);
    const made: Omit<(typeof copies)[number], 'truth'>[] = [];
    // Each file gets the two damages that leave nothing to read (cheap: refused at once) and three
    // of the seven others, in turn from a place the seed picks: over the files every kind is made,
    // some twice, and the test stays within a minute.
    const readable: string[] = DAMAGE_KINDS.filter(
      (k) => k !== 'cut in the file header' && k !== 'file header zeroed',
    );
    const from = rng.int(0, readable.length - 1);
    for (const [index, original] of list.entries()) {
      const bytes = await readFile(original.file);
      const whole = await tsharkReads(original.file);
      const chosen = [0, 1, 2].map((j) => readable[(from + 3 * index + j) % readable.length]);
      for (const damage of damages(bytes, rng)) {
        if (readable.includes(damage.kind) && !chosen.includes(damage.kind)) continue;
        const file = path.join(
          server.dir,
          `${path.basename(original.file).replace(/\..*$/, '')}-${damage.kind.replace(/\W+/g, '-')}${path.extname(original.file)}`,
        );
        await writeFile(file, damage.bytes);
        made.push({ original, whole, damage, file });
      }
    }
    copies.push(...(await inTurns(made, 2, async (c) => ({ ...c, truth: await tsharkReads(c.file) }))));
  });

  it('every tool answers each damaged copy clearly, with the packets before the damage', async (t) => {
    if (!list) return t.skip('../shared/captures is absent');
    t.diagnostic(seedNote);
    const failures: string[] = [];
    let calls = 0;
    let checked = 0;

    const ask = async (
      kind: 'tool' | 'resource',
      name: string,
      args: Record<string, unknown>,
    ): Promise<ToolAnswer | string> => {
      calls++;
      try {
        if (kind === 'resource') {
          const read = await server.mcp.client.readResource({ uri: name }, { timeout: CALL_LIMIT_MS });
          const text = read.contents.map((c) => ('text' in c ? c.text : '')).join('\n');
          return { text, isError: false, structured: undefined, links: [] };
        }
        return readAnswer(
          await server.mcp.client.callTool({ name, arguments: args }, { timeout: CALL_LIMIT_MS }),
        );
      } catch (err) {
        return `no answer: ${err instanceof Error ? err.message : String(err)}`;
      }
    };

    // Two copies at a time, so that both cores stay busy while one copy's last call finishes.
    await inTurns(copies, 2, async ({ original, whole, damage, file, truth }) => {
      const read = truth.frames.length;
      // tshark reads nothing, or a stub of a header (as JSON, MIME or MP4): nothing can be used.
      const unusable = read === 0 || damage.kind === 'cut in the file header';
      // tshark stopped at damage: what it read is the part before it.
      const stopped = /damaged|corrupt|cut short/.test(truth.stderr);
      const label = `${original.name}, ${damage.kind} (${damage.what}; tshark reads ${read} of ${whole.frames.length} packets${truth.stderr ? `, says: ${truth.stderr.replace(/\n/g, ' ')}` : ''})`;
      const fail = (what: string, answer?: ToolAnswer | string): void => {
        const text = typeof answer === 'string' ? answer : (answer?.text ?? '');
        failures.push(`${label}\n  ${what}\n    ${text.slice(0, 700).replace(/\n/g, '\n    ')}`);
      };

      /** The checks every answer gets; false when there is nothing more to check. */
      const common = (call: string, answer: ToolAnswer | string, mayFail = false): answer is ToolAnswer => {
        checked++;
        if (typeof answer === 'string') {
          fail(`${call}: ${answer}`);
          return false;
        }
        // The server's own words: an error, and the warnings (not the packets or payload shown).
        const own = answer.isError
          ? answer.text
          : answer.text
              .split('\n')
              .filter((l) => l.startsWith('Warning'))
              .join('\n');
        for (const sign of UNCLEAR)
          if (sign.test(own)) fail(`${call}: the answer is not clear (${String(sign)})`, answer);
        if (answer.isError) {
          if (!unusable && !mayFail) fail(`${call}: an error, though tshark reads ${read} packets`, answer);
          if (!NAMES_PROBLEM.test(answer.text) && !(mayFail && !unusable && !stopped))
            fail(`${call}: the error does not say what is wrong with the file`, answer);
          if (!SAYS_WHAT_TO_DO.test(answer.text)) fail(`${call}: the error does not say what to do`, answer);
          return false;
        }
        if (unusable) {
          fail(`${call}: a success, though tshark cannot read a single packet`, answer);
          return false;
        }
        return true;
      };
      /** A success that read to the end must say where the damage stopped it. */
      const warnsWhere = (call: string, answer: ToolAnswer, readToEnd = true): void => {
        if (!stopped || !readToEnd) return;
        const warning = answer.text
          .split('\n')
          .find((l) => /damaged|corrupt|cut short/i.test(l) && /Warning|warning/.test(l));
        if (!warning) return fail(`${call}: no warning that the file is damaged or cut short`, answer);
        if (!new RegExp(`\\b(packet ${read}|packet ${read + 1}|${read} packets?)\\b`).test(warning))
          fail(`${call}: the warning does not say where (after packet ${read})`, answer);
      };

      const source = { source: file };
      const keylog = original.keylog ? { sslKeylogFile: original.keylog } : {};
      const big = { limit: 10_000, maxChars: 200_000 };
      // The costlier calls on some damage kinds only, so that the test stays within a minute:
      // compare_captures (two summaries and six digests) where packets are lost to a cut, and
      // where nothing can be read; tcp_health where a record header is cut.
      const some = (
        yes: boolean,
        name: string,
        args: Record<string, unknown>,
      ): Promise<ToolAnswer | string> | undefined => (yes ? ask('tool', name, args) : undefined);
      const answers = await Promise.all([
        ask('tool', 'analyze_pcap_file', { filePath: file, ...keylog, ...big }),
        ask('tool', 'analyze_pcap_file', { ...source, outputFormat: 'fields', ...keylog, ...big }),
        ask('tool', 'analyze_pcap_file', { ...source, outputFormat: 'json', ...keylog, ...big }),
        ask('tool', 'summarize_capture', { ...source, ...keylog }),
        ask('tool', 'inspect_protocol', { ...source, kind: original.digest, ...keylog }),
        some(damage.kind === 'cut in a record header', 'inspect_protocol', {
          ...source,
          kind: 'tcp_health',
        }),
        ask('tool', 'follow_stream', { ...source, protocol: 'tcp', stream: 0 }),
        ask('tool', 'get_packet_details', {
          ...source,
          frames: `${Math.max(1, read)}-${read + 1}`,
          protocols: ['frame'],
        }),
        some(
          damage.kind === 'cut in packet data' ||
            (damage.kind === 'file header zeroed' && original === list[0]),
          'compare_captures',
          { baseline: original.file, candidate: file, ...keylog },
        ),
      ]);
      const [text, fields, json, summary, digest, health, follow, details, compare] = answers;

      // analyze_pcap_file: the packets shown are the first ones tshark reads.
      const formats: [string, ToolAnswer | string | undefined, (body: string) => number[]][] = [
        ['analyze_pcap_file text', text, (b) => lines(b).map((l) => Number(l.trim().split(/\s+/)[0]))],
        ['analyze_pcap_file fields', fields, (b) => lines(b).map((l) => Number(l.split('\t')[0]))],
        [
          'analyze_pcap_file json',
          json,
          (b) =>
            (JSON.parse(b) as { _source: { layers: { frame: Record<string, string> } } }[]).map((p) =>
              Number(p._source.layers.frame['frame.number']),
            ),
        ],
      ];
      for (const [call, answer, framesOf] of formats) {
        if (answer === undefined || !common(call, answer)) continue;
        const marker = 'Packet Analysis Results:\n';
        const at = answer.text.indexOf(marker);
        if (at === -1) {
          fail(`${call}: not an analysis answer`, answer);
          continue;
        }
        let shown: number[];
        try {
          shown = framesOf(answer.text.slice(at + marker.length));
        } catch (err) {
          fail(`${call}: the packets cannot be read back (${String(err)})`, answer);
          continue;
        }
        const more = answer.structured?.['moreMatch'] === true;
        if (JSON.stringify(shown) !== JSON.stringify(truth.frames.slice(0, shown.length)))
          fail(`${call}: shows frames ${shown.join(',')}, tshark reads ${truth.frames.join(',')}`, answer);
        else if (!more && shown.length !== read)
          fail(`${call}: shows ${shown.length} packets as all of them; tshark reads ${read}`, answer);
        warnsWhere(call, answer, !more);
      }

      if (summary !== undefined && common('summarize_capture', summary)) {
        const facts = summary.structured?.['facts'] as { packets?: number } | undefined;
        if (facts?.packets !== read)
          fail(`summarize_capture: facts.packets is ${facts?.packets}, tshark reads ${read}`, summary);
        const protocols = (summary.structured?.['protocols'] ?? []) as { depth: number; frames: number }[];
        const framed = protocols.filter((p) => p.depth === 0).reduce((n, p) => n + p.frames, 0);
        if (framed !== read)
          fail(`summarize_capture: the protocol tree counts ${framed} frames, tshark reads ${read}`, summary);
        warnsWhere('summarize_capture', summary);
        // The capture as a resource: its summary carries the same warning.
        const uri = summary.links[0];
        if (uri !== undefined && damage.kind.includes('cut in packet')) {
          const resource = await ask('resource', uri, {});
          if (common('resource read', resource)) warnsWhere('resource read', resource);
        }
      }
      for (const [call, answer] of [
        [`inspect_protocol ${original.digest}`, digest],
        ['inspect_protocol tcp_health', health],
      ] as const) {
        if (answer !== undefined && common(call, answer)) warnsWhere(call, answer);
      }
      // The stream may be lost to the damage: an error is fine then, if it names the damage.
      if (follow !== undefined && common('follow_stream', follow, true)) warnsWhere('follow_stream', follow);
      if (typeof follow !== 'string' && follow?.isError && stopped && !NAMES_PROBLEM.test(follow.text))
        fail('follow_stream: the error does not mention the damage', follow);
      if (details !== undefined && common('get_packet_details', details)) {
        if (read > 0 && !new RegExp(`^Frame ${read}:`, 'm').test(details.text))
          fail(`get_packet_details: frame ${read} (the last one tshark reads) is not shown`, details);
        warnsWhere('get_packet_details', details);
      }
      if (compare !== undefined && common('compare_captures', compare)) {
        const packets = compare.structured?.['packets'] as { candidate?: number | null } | undefined;
        if (packets?.candidate !== read)
          fail(
            `compare_captures: the candidate has ${packets?.candidate} packets, tshark reads ${read}`,
            compare,
          );
        warnsWhere('compare_captures', compare);
      }
    });
    t.diagnostic(`${calls} calls made, ${checked} answers checked, ${failures.length} failures`);
    assert.equal(
      failures.length,
      0,
      `${failures.length} failures (${seedNote}):\n\n${failures.join('\n\n')}`,
    );
  });

  it('a damaged copy read in ranges by two workers gets the single-pass summary', async (t) => {
    if (!list) return t.skip('../shared/captures is absent');
    t.diagnostic(seedNote);
    const group = new ProcessGroup();
    const work = await mkdtemp(path.join(os.tmpdir(), 'sharkmcp-damaged-'));
    try {
      const tools = locateWiresharkTools(group);
      const workDir = (): Promise<string> => Promise.resolve(work);
      const single = new Summarizer(group, () => tools, workDir, defaultChunking(1));
      const summaryOf = (s: Summarizer, file: string): Promise<unknown> =>
        s.summarize({ file, topN: 1000, timeoutMs: CALL_LIMIT_MS }).then(beyondChecksums, (err: unknown) => ({
          rejected: err instanceof Error ? err.message : String(err),
        }));
      // Besides the random copies, one made to fool the scan: a pcapng block whose own length is
      // right but whose captured length runs past it. The scan cuts ranges past it; tshark stops.
      const pcapng = list.find((o) => o.file.endsWith('.pcapng'));
      assert.ok(pcapng);
      const bytes = Buffer.from(await readFile(pcapng.file));
      const packets = records(bytes).filter((r) => r.packet);
      // A quarter in: the ranges well after it are warmed up on packets after it only.
      const middle = packets[Math.floor(packets.length / 4)];
      assert.ok(middle);
      bytes.writeUInt32LE(0x7fff0000, middle.offset + 20);
      const fooled = path.join(work, 'captured-length-past-its-block.pcapng');
      await writeFile(fooled, bytes);
      const fooling = {
        original: pcapng,
        damage: { kind: 'captured length past its block', what: `record at ${middle.offset}`, bytes },
        file: fooled,
        truth: await tsharkReads(fooled),
      };
      let compared = 0;
      for (const { original, damage, file, truth } of [fooling, ...copies]) {
        // Ranges of a third of the packets, each worker warmed up with everything before its
        // range (as in chunked-summary.test.ts): what differs then is only how the damage is read.
        const sizing = {
          chunkPackets: Math.max(1, Math.ceil(truth.frames.length / 3)),
          chunkBytes: Number.MAX_SAFE_INTEGER,
          warmupPackets: truth.frames.length,
        };
        // Only a copy that tshark reads up to damage, and whose framing the scanner trusts, is read
        // in ranges (others in one pass, as above).
        if (truth.stderr === '') continue;
        if (((await planChunks(file, sizing))?.chunks.length ?? 0) < 2) continue;
        const ranged = new Summarizer(group, () => tools, workDir, { workers: 2, minFileBytes: 0, sizing });
        assert.deepEqual(
          await summaryOf(ranged, file),
          await summaryOf(single, file),
          `${original.name}, ${damage.kind} (${damage.what})`,
        );
        compared++;
      }
      t.diagnostic(`${compared} damaged copies read in ranges and in one pass`);
      assert.ok(compared > 0, 'some damaged copy is read in ranges');
      await rm(fooled);
      assert.deepEqual(await readdir(work), [], 'no FIFO or directory is left behind');
    } finally {
      await group.close();
      await rm(work, { recursive: true, force: true });
    }
  });
});

function lines(body: string): string[] {
  return body.split('\n').filter((l) => l.trim() !== '');
}
