// compare_captures down to the packet, through a real MCP client: a loopback capture of HTTP
// requests, DNS queries and a UDP exchange (each datagram sent twice, as a client that retries
// does), then copies made with editcap: one packet dropped, the whole capture shifted in time. The
// test knows which frame it dropped and asks tshark what that frame is; the answer must name that
// packet alone, with its stream and summary, and the transaction count that changed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import http from 'node:http';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { captureLoopback, requireCapture } from './helpers/loopback-capture.js';
import { useServer } from './helpers/in-process.js';
import { tsharkFields } from './helpers/tshark.js';
import { leftOver, parseDetails, transactionLabels, unmatchedFrames } from '../src/analysis/packet-match.js';
import type { PacketKeys, PacketValues } from '../src/analysis/packet-match.js';
import { close, dnsServer, httpGet, listen, resolveA } from './helpers/traffic.js';

const run = promisify(execFile);

interface Unmatched {
  frame: number;
  time: number;
  stream: string;
  source: string;
  destination: string;
  protocol: string;
  info: string;
}
interface Side {
  total: number;
  offset: number;
  shown: Unmatched[];
  nextOffset: number | null;
}
interface PacketAnswer {
  packetsCompared: { baseline: number; candidate: number; cap: number; capped: boolean; pastCut: number };
  onlyInBaselinePackets: Side;
  onlyInCandidatePackets: Side;
  transactions: {
    differ: { what: string; baseline: number; candidate: number }[];
    same: { what: string; count: number }[];
    sameTotal: number;
  };
}

const HTTP_HOST = '127.83.130.1';
const DNS_HOST = '127.83.130.2';
const UDP_HOST = '127.83.130.3';
const CLIENT_HOST = '127.83.130.4';

/** Sends `payload` to the echo server twice from one socket and waits for both echoes. */
async function udpTwice(port: number, payload: string): Promise<void> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, CLIENT_HOST, resolve));
  try {
    const echoes = new Promise<void>((resolve, reject) => {
      let got = 0;
      const timer = setTimeout(() => reject(new Error('no UDP echo')), 3000);
      socket.on('message', () => {
        got += 1;
        if (got === 2) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    socket.send(payload, port, UDP_HOST);
    socket.send(payload, port, UDP_HOST);
    await echoes;
  } finally {
    socket.close();
  }
}

describe('compare_captures packet by packet', () => {
  const server = useServer();

  it('names the one packet a copy lost, both ways round, and nothing for the same traffic', async (t) => {
    if (!(await requireCapture(t))) return;
    const dir = server.dir;
    const web = http.createServer((req, res) => res.end(`page ${req.url ?? ''}`));
    const dns = await dnsServer(DNS_HOST, 53, '10.83.130.9');
    const echo = dgram.createSocket('udp4');
    echo.on('message', (msg, peer) => echo.send(msg, peer.port, peer.address));
    await new Promise<void>((resolve) => echo.bind(0, UDP_HOST, resolve));
    const { port: webPort } = await listen(web, HTTP_HOST, 80);
    const filter = 'net 127.83.130.0/24';
    let original: string;
    try {
      original = await captureLoopback(
        dir,
        'packet-compare',
        filter,
        async () => {
          for (const p of ['/one', '/two', '/three']) await httpGet(webPort, p, HTTP_HOST);
          for (const name of ['a.sharkmcp.test', 'b.sharkmcp.test']) await resolveA(DNS_HOST, dns.port, name);
          await udpTwice(echo.address().port, 'ping-83');
        },
        // 3 HTTP exchanges (at least 8 packets each), 2 DNS exchanges, 4 UDP datagrams.
        3 * 8 + 4 + 4,
      );
    } finally {
      dns.socket.close();
      echo.close();
      await close(web);
    }

    // What tshark says of the packets the test will drop.
    const fields = ['frame.number', 'frame.time_relative', 'tcp.stream', 'udp.stream', '_ws.col.Info'];
    const requests = await tsharkFields(original, fields, { filter: 'http.request' });
    const queries = await tsharkFields(original, fields, { filter: 'dns.flags.response == 0' });
    const all = await tsharkFields(original, ['frame.number', 'frame.time_epoch']);
    assert.equal(requests.length, 3);
    assert.equal(queries.length, 2);
    const [droppedRequest, droppedQuery] = [requests[1], queries[0]];
    assert.ok(droppedRequest && droppedQuery);

    const drop = async (frame: string, name: string): Promise<string> => {
      const out = path.join(dir, name);
      await run('editcap', [original, out, frame]);
      assert.equal((await tsharkFields(out, ['frame.number'])).length, all.length - 1);
      return out;
    };
    const lostRequest = await drop(droppedRequest[0] ?? '', 'lost-request.pcapng');
    const lostQuery = await drop(droppedQuery[0] ?? '', 'lost-query.pcapng');
    const shifted = path.join(dir, 'shifted.pcapng');
    await run('editcap', ['-t', '5', original, shifted]);

    const compare = async (baseline: string, candidate: string): Promise<PacketAnswer & { text: string }> => {
      const answer = await server.mcp.call('compare_captures', { baseline, candidate });
      assert.equal(answer.isError, false, answer.text);
      return { ...(answer.structured as unknown as PacketAnswer), text: answer.text };
    };
    const expectOne = (side: Side, row: string[], protocol: string, stream: string): void => {
      assert.equal(side.total, 1, JSON.stringify(side));
      const p = side.shown[0];
      assert.ok(p);
      assert.equal(p.frame, Number(row[0]));
      assert.ok(Math.abs(p.time - Number(row[1])) < 1e-6, `${p.time} vs ${row[1]}`);
      assert.equal(p.stream, stream);
      assert.equal(p.protocol, protocol);
      assert.equal(p.info, row[4]);
    };

    // One HTTP request lost: A vs B names it, in its TCP stream, and the GET count that fell.
    const gets = (
      await tsharkFields(lostRequest, ['frame.number'], { filter: 'http.request.method == "GET"' })
    ).length;
    const ab = await compare(original, lostRequest);
    expectOne(ab.onlyInBaselinePackets, droppedRequest, 'HTTP', `tcp ${droppedRequest[2]}`);
    assert.equal(ab.onlyInCandidatePackets.total, 0);
    assert.deepEqual(ab.packetsCompared, {
      baseline: all.length,
      candidate: all.length - 1,
      cap: 200_000,
      capped: false,
      pastCut: 0,
    });
    assert.deepEqual(ab.transactions.differ, [
      { what: 'HTTP GET requests', baseline: requests.length, candidate: gets },
    ]);
    assert.equal(gets, requests.length - 1);
    assert.match(
      ab.text,
      new RegExp(
        `Packets only in baseline \\(1\\):\\n {2}frame ${droppedRequest[0]} .* stream tcp ${droppedRequest[2]} .*→ ${HTTP_HOST.replaceAll('.', '\\.')}:${webPort} {2}HTTP {2}GET /two`,
      ),
    );
    assert.match(
      ab.text,
      /Transaction counts that differ \(1\):\n {2}HTTP GET requests: baseline 3; candidate 2\n/,
    );
    assert.match(ab.text, /Transaction counts the same in both \(\d+\):\n.*DNS queries 2/);

    // The reverse order: the same packet, now only in the candidate (its frame number in that capture).
    const ba = await compare(lostRequest, original);
    expectOne(ba.onlyInCandidatePackets, droppedRequest, 'HTTP', `tcp ${droppedRequest[2]}`);
    assert.equal(ba.onlyInBaselinePackets.total, 0);
    assert.deepEqual(
      ba.transactions.differ.map((d) => [d.what, d.baseline, d.candidate]),
      ab.transactions.differ.map((d) => [d.what, d.candidate, d.baseline]),
    );

    // One DNS query lost: matched by its UDP payload, named in its UDP stream.
    const lostDns = await compare(original, lostQuery);
    expectOne(lostDns.onlyInBaselinePackets, droppedQuery, 'DNS', `udp ${droppedQuery[3]}`);
    assert.equal(lostDns.onlyInCandidatePackets.total, 0);
    const queriesLeft = (
      await tsharkFields(lostQuery, ['frame.number'], { filter: 'dns.flags.response == 0' })
    ).length;
    assert.equal(queriesLeft, queries.length - 1);
    assert.deepEqual(lostDns.transactions.differ, [
      { what: 'DNS queries', baseline: queries.length, candidate: queriesLeft },
    ]);

    // The first of two identical datagrams lost: paired by time, the copy left is the second, so
    // the first is the one named (pairing in order would name the second).
    const pings = await tsharkFields(original, fields, { filter: `ip.src == ${CLIENT_HOST} && udp` });
    assert.equal(pings.length, 2);
    const firstPing = pings[0] ?? [];
    const lostPing = await drop(firstPing[0] ?? '', 'lost-ping.pcapng');
    const ping = await compare(original, lostPing);
    expectOne(ping.onlyInBaselinePackets, firstPing, 'UDP', `udp ${firstPing[3]}`);
    assert.equal(ping.onlyInCandidatePackets.total, 0);
    const pingBack = await compare(lostPing, original);
    expectOne(pingBack.onlyInCandidatePackets, firstPing, 'UDP', `udp ${firstPing[3]}`);

    // Compared up to a cap: the first packets of each, said so; the candidate's packet past the
    // baseline's cut (the one that moved up when the request was dropped) is not called missing.
    const dropped = Number(droppedRequest[0]);
    const epoch = all.map((r) => Number(r[1]));
    let cap = dropped + 2;
    while (cap < all.length - 1 && !((epoch[cap] ?? 0) > (epoch[cap - 1] ?? 0))) cap += 1;
    const capAnswer = await server.mcp.call('compare_captures', {
      baseline: original,
      candidate: lostRequest,
      comparePackets: cap,
    });
    const capped = capAnswer.structured as unknown as PacketAnswer;
    assert.deepEqual(capped.packetsCompared, {
      baseline: cap,
      candidate: cap,
      cap,
      capped: true,
      pastCut: 1,
    });
    assert.deepEqual(
      [capped.onlyInBaselinePackets.shown.map((p) => p.frame), capped.onlyInCandidatePackets.total],
      [[dropped], 0],
    );
    assert.match(capAnswer.text, new RegExp(`the first ${cap} of each at most`));

    // Two packets lost: both named, a page at a time with the exact call for the next.
    const lostBoth = path.join(dir, 'lost-both.pcapng');
    await run('editcap', [original, lostBoth, droppedRequest[0] ?? '', droppedQuery[0] ?? '']);
    const both = await compare(original, lostBoth);
    const expected = [droppedRequest, droppedQuery].map((r) => Number(r[0])).sort((x, y) => x - y);
    assert.deepEqual(
      both.onlyInBaselinePackets.shown.map((p) => p.frame),
      expected,
    );
    const first = await server.mcp.call('compare_captures', {
      baseline: original,
      candidate: lostBoth,
      limit: 1,
    });
    const firstPage = (first.structured as unknown as PacketAnswer).onlyInBaselinePackets;
    assert.deepEqual(
      [firstPage.total, firstPage.shown.map((p) => p.frame), firstPage.nextOffset],
      [2, [expected[0]], 1],
    );
    const next = /\(\+1 more: compare_captures (\{[^\n]*"offset":1\})\)/.exec(first.text)?.[1];
    assert.ok(next, first.text);
    const second = await server.mcp.call('compare_captures', JSON.parse(next) as Record<string, unknown>);
    const secondPage = (second.structured as unknown as PacketAnswer).onlyInBaselinePackets;
    assert.deepEqual([secondPage.shown.map((p) => p.frame), secondPage.nextOffset], [[expected[1]], null]);

    // The same capture, and a copy 5 s later: every packet matches (the two identical UDP
    // datagrams each way pair off in order), every count is the same.
    for (const other of [original, shifted]) {
      const same = await compare(original, other);
      assert.equal(same.onlyInBaselinePackets.total, 0, same.text);
      assert.equal(same.onlyInCandidatePackets.total, 0, same.text);
      assert.deepEqual(same.transactions.differ, []);
      assert.ok(same.transactions.sameTotal > 0);
      assert.match(same.text, /No difference found in packets, transaction counts/);
    }
  });
});

describe('packet pairing and transaction labels', () => {
  const keys = (k: string[], times: number[]): PacketKeys => ({
    keys: k,
    frames: k.map((_, i) => i + 1),
    times,
    capped: false,
    counts: new Map(),
    warnings: [],
  });

  it('leaves over the copies farthest in time, and the last ones when times tie', () => {
    assert.deepEqual(leftOver([1, 2, 3], [2]), [0, 2]);
    assert.deepEqual(leftOver([5, 5, 5], [5, 5]), [2]);
    assert.deepEqual(leftOver([1, 2], []), [0, 1]);
  });

  it("names the copy lost even when the other capture's clock is 100 s off", () => {
    // The candidate lost the first of two copies of "d" (frame 3); its clock runs 100 s ahead.
    const a = keys(['x', 'y', 'd', 'z', 'd'], [0, 1, 2, 3, 4]);
    const b = keys(['x', 'y', 'z', 'd'], [100, 101, 103, 104]);
    assert.deepEqual(unmatchedFrames(a, b), { onlyInA: [3], onlyInB: [], pastCut: 0 });
    assert.deepEqual(unmatchedFrames(b, a), { onlyInA: [], onlyInB: [3], pastCut: 0 });
  });

  it('shows an unmatched FTP PASS with its password redacted, as packet listings do', () => {
    // A line as tshark prints the details pass's fields (frame, time, streams, addresses, ports, columns).
    const line = [
      '7',
      '1.5',
      '0',
      '',
      '127.83.130.4',
      '127.83.130.1',
      '',
      '',
      '40000',
      '21',
      '',
      '',
      'FTP',
      'Request: PASS hunter2',
    ].join('\t');
    assert.deepEqual(parseDetails(line), {
      frame: 7,
      time: 1.5,
      stream: 'tcp 0',
      source: '127.83.130.4:40000',
      destination: '127.83.130.1:21',
      protocol: 'FTP',
      info: 'Request: PASS [redacted, 7 characters]',
    });
  });

  it('labels SMB2 compound requests and responses, and TCP handshakes', () => {
    const values =
      (given: Record<string, string[]>): PacketValues =>
      (f) =>
        given[f] ?? [];
    assert.deepEqual(
      transactionLabels(values({ 'smb2.cmd': ['5', '8'], 'smb2.flags.response': ['1', '1'] })),
      ['SMB2 CREATE responses', 'SMB2 READ responses'],
    );
    assert.deepEqual(transactionLabels(values({ 'tcp.flags': ['0x0012'] })), ['TCP SYN-ACK']);
    assert.deepEqual(transactionLabels(values({ 'tcp.flags': ['0x0014'] })), ['TCP RST']);
  });
});
