// summarize_capture's "Capture limits" line, on captures made here that have each limit for real: a
// small snapshot length (dumpcap -s), segments ACKed but never captured (a data frame removed with
// editcap), duplicates (mergecap of a file with itself), time going backwards (mergecap -a of a file
// after itself), drops recorded by pcapng interface statistics, and a session's dumpcap drop count.
// Every count is checked against a direct tshark, editcap or capinfos query, with the summary
// counter and without it (SHARKMCP_NATIVE=0).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { captureLimitsNote, limitsLine } from '../src/analysis/capture-limits.js';
import type { CaptureLimits } from '../src/analysis/capture-limits.js';
import { DumpcapCapture } from '../src/capture/dumpcap.js';
import { locateWiresharkTools } from '../src/wireshark/locate.js';
import { captureUnavailable, group, LOOPBACK, requireCapture } from './helpers/loopback-capture.js';
import { connect, useServer } from './helpers/in-process.js';
import type { Session } from './helpers/in-process.js';
import { tsharkFields } from './helpers/tshark.js';

const run = promisify(execFile);

const CLIENT = '127.83.30.1';
const SERVER = '127.83.30.2';
const FILTER = `host ${SERVER}`;
const BODY = 'x'.repeat(40_000);

/** Three HTTP exchanges of 40 kB each between CLIENT and SERVER. */
async function traffic(): Promise<void> {
  const server = http.createServer((_req, res) => res.end(BODY));
  await new Promise<void>((resolve) => server.listen(0, SERVER, resolve));
  const { port } = server.address() as AddressInfo;
  try {
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve, reject) => {
        http
          .get({ host: SERVER, port, localAddress: CLIENT, path: `/${i}`, agent: false }, (res) => {
            res.resume();
            res.on('end', resolve);
          })
          .on('error', reject);
      });
    }
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

async function capture(file: string, snaplen?: number): Promise<void> {
  const tools = await locateWiresharkTools(group);
  const c = await DumpcapCapture.start(group, tools.require('dumpcap'), {
    interface: LOOPBACK,
    captureFilter: FILTER,
    file,
    snaplen,
  });
  try {
    await traffic();
    // 3 exchanges of at least 10 packets each.
    await c.waitForPackets(30, 10_000);
  } finally {
    await c.stop();
  }
}

/** One field of the packets that match `filter`, read with these preferences. */
async function field(file: string, filter: string, name: string, prefs: string[] = []): Promise<string[]> {
  const args = [
    '-n',
    '-r',
    file,
    ...prefs.flatMap((p) => ['-o', p]),
    '-Y',
    filter,
    '-T',
    'fields',
    '-e',
    name,
  ];
  const { stdout } = await run('tshark', args, { maxBuffer: 64 * 1024 * 1024 });
  return stdout.split('\n').filter((l) => l !== '');
}

async function count(file: string, filter: string, prefs: string[] = []): Promise<number> {
  return (await field(file, filter, 'frame.number', prefs)).length;
}

const CHECKSUM_PREFS = ['ip.check_checksum:TRUE', 'tcp.check_checksum:TRUE', 'udp.check_checksum:TRUE'];
const BAD = '(ip.checksum.status==0 || tcp.checksum.status==0 || udp.checksum.status==0) && !icmp && !icmpv6';

async function limitsOf(mcp: Session, source: string): Promise<{ limits: CaptureLimits; text: string }> {
  const answer = await mcp.call('summarize_capture', { source });
  assert.equal(answer.isError, false, answer.text);
  const limits = answer.structured?.['limits'] as CaptureLimits;
  assert.ok(limits, 'the structured answer has the limits');
  const line = answer.text.split('\n').find((l) => l.startsWith('Capture limits: '));
  assert.equal(line, limits.line, 'the text prints the same line as the structured answer');
  return { limits, text: answer.text };
}

/** The file with the drop options of its interface statistics blocks set to `drops`. */
async function withInterfaceDrops(file: string, out: string, drops: bigint): Promise<number> {
  const b = Buffer.from(await readFile(file));
  let patched = 0;
  for (let at = 0; at + 12 <= b.length;) {
    const type = b.readUInt32LE(at);
    const length = b.readUInt32LE(at + 4);
    if (type === 5) {
      for (let o = at + 20; o + 4 <= at + length - 4;) {
        const code = b.readUInt16LE(o);
        const len = b.readUInt16LE(o + 2);
        if (code === 0) break;
        if (code === 5 && len === 8) {
          b.writeBigUInt64LE(drops, o + 4);
          patched++;
        }
        o += 4 + Math.ceil(len / 4) * 4;
      }
    }
    at += length;
  }
  await writeFile(out, b);
  return patched;
}

describe('summarize_capture: capture limits', () => {
  const server = useServer();
  let fallback: Session | undefined;
  let full = '';
  let snapped = '';

  before(async () => {
    // Each test says why it skips (or fails under CI=true) through requireCapture.
    if ((await captureUnavailable()) !== undefined) return;
    full = path.join(server.dir, 'full.pcapng');
    snapped = path.join(server.dir, 'snapped.pcapng');
    await capture(full);
    await capture(snapped, 200);
    fallback = await connect({ SHARKMCP_NATIVE: '0' });
  });
  after(async () => {
    await fallback?.close();
  });

  /** Both servers' limits, which must agree. */
  async function both(file: string): Promise<CaptureLimits> {
    const a = await limitsOf(server.mcp, file);
    assert.ok(fallback);
    const b = await limitsOf(fallback, file);
    assert.deepEqual(b.limits, a.limits, 'with and without the summary counter');
    return a.limits;
  }

  it('counts packets cut by the snapshot length, and names the snaplen', async (t) => {
    if (!(await requireCapture(t))) return;
    const limits = await both(snapped);
    const cut = await count(snapped, 'frame.cap_len < frame.len');
    assert.ok(cut > 0, 'the 40 kB responses were cut at 200 bytes');
    assert.equal(limits.cutBySnaplen, cut);
    assert.equal(limits.snaplen, 200);
    assert.match(limits.line, new RegExp(`${cut} packets cut by the snapshot length \\(snaplen 200\\)`));
  });

  it('counts bad checksums, and says the capture host sent them (loopback: offload)', async (t) => {
    if (!(await requireCapture(t))) return;
    const limits = await both(full);
    const bad = await count(full, BAD, CHECKSUM_PREFS);
    assert.ok(limits.badChecksums, 'checksums were checked');
    assert.equal(limits.badChecksums.packets, bad);
    // Every address of this capture is a loopback address of this host.
    assert.equal(limits.badChecksums.fromCaptureHost, bad);
    if (bad > 0)
      assert.match(
        limits.line,
        new RegExp(`${bad} bad checksums on packets this host sent \\(checksum offload, not corruption\\)`),
      );
    const senders = new Set(await field(full, BAD, 'ip.src', CHECKSUM_PREFS));
    assert.deepEqual(new Set(limits.badChecksums.sources.map((s) => s.address)), senders);
    assert.equal(limits.cutBySnaplen, 0);
    assert.equal(limits.ackedUnseen, 0);
    assert.equal(limits.duplicates, 0);
    assert.equal(limits.timeBackwards, 0);
  });

  it('counts segments ACKed but never captured, when a data frame is missing', async (t) => {
    if (!(await requireCapture(t))) return;
    const data = await tsharkFields(full, ['frame.number'], { filter: `ip.src==${SERVER} && tcp.len > 0` });
    const middle = data[Math.floor(data.length / 2)]?.[0];
    assert.ok(middle);
    const holed = path.join(server.dir, 'holed.pcapng');
    await run('editcap', [full, holed, middle]);
    const limits = await both(holed);
    const unseen = await count(holed, 'tcp.analysis.ack_lost_segment');
    assert.ok(unseen > 0, 'tshark sees the ACK of the removed segment');
    assert.equal(limits.ackedUnseen, unseen);
    assert.match(
      limits.line,
      new RegExp(
        `${unseen} segments? ACKed but never captured \\(the capture missed them, not the network\\)`,
      ),
    );
  });

  it('has tcp_health name the capture limits beside its retransmission counts, and a clean capture not', async (t) => {
    if (!(await requireCapture(t))) return;
    const holed = path.join(server.dir, 'holed.pcapng');
    const unseen = await count(holed, 'tcp.analysis.ack_lost_segment');
    const digest = await server.mcp.call('inspect_protocol', { source: holed, kind: 'tcp_health' });
    assert.match(
      digest.text,
      new RegExp(
        `Capture limits apply: ${unseen} segments? ACKed but never captured; some of these retransmissions`,
      ),
    );
    const clean = await server.mcp.call('inspect_protocol', { source: full, kind: 'tcp_health' });
    assert.doesNotMatch(clean.text, /Capture limits apply/);
  });

  it('counts duplicated packets as editcap -d finds them', async (t) => {
    if (!(await requireCapture(t))) return;
    const doubled = path.join(server.dir, 'doubled.pcapng');
    await run('mergecap', ['-w', doubled, full, full]);
    const limits = await both(doubled);
    const { stderr, stdout } = await run('editcap', ['-d', doubled, path.join(server.dir, 'dedup.pcapng')]);
    const skipped = Number(/(\d+) packets skipped/.exec(stdout + stderr)?.[1]);
    const packets = (await tsharkFields(full, ['frame.number'])).length;
    assert.equal(skipped, packets, 'each packet once more');
    assert.equal(limits.duplicates, skipped);
    assert.match(limits.line, new RegExp(`${skipped.toLocaleString('en-US')} duplicated packets`));
  });

  it('counts time going backwards', async (t) => {
    if (!(await requireCapture(t))) return;
    const twice = path.join(server.dir, 'twice.pcapng');
    await run('mergecap', ['-a', '-w', twice, full, full]);
    const limits = await both(twice);
    const backwards = await count(twice, 'frame.time_delta < 0');
    assert.equal(backwards, 1);
    assert.equal(limits.timeBackwards, backwards);
    assert.match(limits.line, /time went backwards 1 time\b/);
  });

  it("reads the drops a pcapng file's interface statistics record", async (t) => {
    if (!(await requireCapture(t))) return;
    const dropped = path.join(server.dir, 'dropped.pcapng');
    assert.equal(await withInterfaceDrops(full, dropped, 7n), 1, "dumpcap's file has one statistics block");
    assert.equal((await both(dropped)).droppedByInterface, 7);
    assert.match(
      (await limitsOf(server.mcp, dropped)).limits.line,
      /7 packets dropped \(the file's interface statistics\)/,
    );
    // dumpcap recorded its (zero) drops: known, and not a limit.
    assert.equal((await limitsOf(server.mcp, full)).limits.droppedByInterface, 0);
  });

  it("gives a session's dumpcap drop count, and none found on a clean file", async (t) => {
    if (!(await requireCapture(t))) return;
    const started = await server.mcp.call('start_capture_session', {
      interface: LOOPBACK,
      captureFilter: FILTER,
      timeout: 30,
    });
    assert.equal(started.isError, false, started.text);
    const id = String(started.structured?.['id']);
    await traffic();
    const stopped = await server.mcp.call('stop_capture_session', {
      sessionId: id,
      outputFormat: 'fields',
      customFields: 'frame.number',
      limit: 1,
    });
    assert.equal(stopped.isError, false, stopped.text);
    const { limits } = await limitsOf(server.mcp, id);
    assert.equal(limits.droppedByDumpcap, 0, 'dumpcap said how many it dropped: none');
    assert.equal(
      (await limitsOf(server.mcp, full)).limits.droppedByDumpcap,
      null,
      'a file has no dumpcap count',
    );
    assert.equal(
      limitsLine({
        ...limits,
        badChecksums: { packets: 0, fromCaptureHost: 0, sources: [], moreSources: 0 },
      }),
      'Capture limits: none found',
    );
  });
});

describe('captureLimitsNote', () => {
  it('names the limits that can explain retransmissions or loss, and nothing when none apply', () => {
    assert.equal(captureLimitsNote({}), undefined);
    assert.equal(
      captureLimitsNote({ droppedByDumpcap: 0, droppedByInterface: null, ackedUnseen: 0 }),
      undefined,
    );
    const note = captureLimitsNote({ droppedByDumpcap: 12, ackedUnseen: 3 }, 'retransmissions');
    assert.match(note ?? '', /12 packets dropped by the capture, 3 segments ACKed but never captured/);
    assert.match(note ?? '', /retransmissions may be the capture's, not the network's/);
  });
});
