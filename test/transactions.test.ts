// Whole transactions in the http and dns digests (issue 15): the hard cases made for real on
// loopback (a client that reuses its source port, a 100-continue upload, a DNS query sent again
// then answered, a query never answered) and the same traffic with the 404's segment arriving late,
// which tshark then calls a retransmission and does not read as HTTP. Each digest is checked
// against what the test sent and a direct tshark query; then corpus captures where they fit.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { captureLoopback, requireCapture } from './helpers/loopback-capture.js';
import { useServer } from './helpers/in-process.js';
import { corpus } from './helpers/paths.js';
import { tsharkFields } from './helpers/tshark.js';
import { close, listen } from './helpers/traffic.js';
import { inspectRows as digest } from './helpers/digests.js';

const run = promisify(execFile);

/** This file's loopback addresses (its own range, so that tests running beside it never meet). */
const HTTP_HOST = '127.83.40.10';
const DNS_HOST = '127.83.40.53';
const CLIENT = '127.83.40.20';

/** One HTTP/1.1 GET on a new connection from CLIENT:localPort; resolves with the status line. */
function getFrom(localPort: number, port: number, urlPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HTTP_HOST, port, localAddress: CLIENT, localPort });
    let data = '';
    socket.on('connect', () => socket.write(`GET ${urlPath} HTTP/1.1\r\nHost: reuse.sharkmcp.test\r\n\r\n`));
    socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
    socket.on('end', () => socket.end());
    socket.on('close', () => resolve(data.split('\r\n')[0] ?? ''));
    socket.on('error', reject);
  });
}

/** A TCP port on CLIENT that is free now (bound once, then released). */
async function freeClientPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, CLIENT, resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe('http: whole transactions', () => {
  const server = useServer();

  it('pairs the 404 after port reuse, even when its segment comes late, and one row for 100 Continue', async (t) => {
    if (!(await requireCapture(t))) return;
    const dir = server.dir;
    const api = http.createServer((req, res) => {
      let bytes = 0;
      req.on('data', (c: Buffer) => (bytes += c.length));
      req.on('end', () => {
        res.statusCode = req.url === '/missing' ? 404 : req.method === 'POST' ? 201 : 200;
        // The server closes first, so the client's port is free again at once (no TIME_WAIT there).
        res.setHeader('Connection', 'close');
        res.end(`${req.method ?? ''} ${req.url ?? ''} ${bytes}`);
      });
    });
    const { host, port } = await listen(api, HTTP_HOST, 80);
    assert.equal(host, HTTP_HOST, `the test HTTP server must listen on ${HTTP_HOST}`);
    const body = path.join(dir, 'upload.bin');
    writeFileSync(body, 'x'.repeat(5000));
    const localPort = await freeClientPort();
    let upload = '';
    try {
      const file = await captureLoopback(
        dir,
        'transactions',
        `host ${HTTP_HOST} and tcp port ${port}`,
        async () => {
          assert.equal(await getFrom(localPort, port, '/first'), 'HTTP/1.1 200 OK');
          assert.equal(await getFrom(localPort, port, '/missing'), 'HTTP/1.1 404 Not Found');
          const { stdout } = await run('curl', [
            '-sS',
            '--interface',
            CLIENT,
            '-H',
            'Expect: 100-continue',
            '--data-binary',
            `@${body}`,
            '-o',
            '/dev/null',
            '-w',
            '%{http_code}',
            `http://${HTTP_HOST}:${port}/upload`,
          ]);
          upload = stdout;
        },
        20,
      );
      assert.equal(upload, '201');

      const { rows, aggregate } = await digest(server.mcp, { source: file, kind: 'http' });
      assert.deepEqual(
        rows.map((r) => [r['method'], r['uri'], r['status']]),
        [
          ['GET', '/first', '200 OK'],
          ['GET', '/missing', '404 Not Found'],
          ['POST', '/upload', '100 Continue → 201 Created'],
        ],
      );
      // The two GETs came from the same client port, on two TCP streams that tshark tells apart.
      const [first, missing, posted] = rows;
      assert.equal(first?.['client'], `${CLIENT}:${localPort}`);
      assert.equal(missing?.['client'], `${CLIENT}:${localPort}`);
      assert.notEqual(first?.['stream'], missing?.['stream']);
      assert.equal(missing?.['server'], `${HTTP_HOST}:${port}`);
      const responses = await tsharkFields(file, ['frame.number', 'tcp.stream', 'http.response.code'], {
        filter: 'http.response',
      });
      const [[notFoundFrame]] = responses.filter((r) => r[2] === '404') as [[string]];
      assert.equal(String(missing?.['responseFrame']), notFoundFrame);
      // tshark itself reads the upload's 100 Continue and 201 as two responses of one stream.
      assert.deepEqual(
        responses.filter((r) => r[1] === String(posted?.['stream'])).map((r) => r[2]),
        ['100', '201'],
      );
      assert.equal(posted?.['requestBytes'], 5000);
      assert.match(aggregate, /^3 requests; by status: 2xx 2, 4xx 1; by host: reuse\.sharkmcp\.test 2, /);
      assert.match(aggregate, /response time avg [\d.]+ ms, p95 [\d.]+ ms, max [\d.]+ ms over 3/);

      // The same traffic as a capture point that got the 404's segment 50 ms late sees it (editcap
      // and mergecap move it): tshark calls it a retransmission and reads no HTTP response in it.
      const late = await moveFrameLater(dir, file, Number(notFoundFrame), 0.05);
      assert.deepEqual(
        await tsharkFields(late, ['frame.number'], { filter: 'http.response.code == 404' }),
        [],
      );
      const [[lateFrame]] = (await tsharkFields(late, ['frame.number'], {
        filter: `tcp.analysis.retransmission && tcp.stream == ${String(missing?.['stream'])}`,
      })) as [[string]];
      const second = await digest(server.mcp, { source: late, kind: 'http' });
      const row = second.rows.find((r) => r['uri'] === '/missing');
      assert.equal(row?.['status'], '404 Not Found');
      assert.equal(String(row?.['responseFrame']), lateFrame);
      assert.match(String(row?.['note']), /second look/);
      assert.ok(
        Number(row?.['responseMs']) >= 50,
        `the response came 50 ms late: ${String(row?.['responseMs'])}`,
      );
      assert.match(second.aggregate, /1 response read on a second look at the stream/);
      assert.equal(second.rows.length, 3);
    } finally {
      await close(api);
    }
  });

  it('gives the response in a segment after one the capture missed (http_espn frame 578)', async (t) => {
    const file = corpus('chrissanders-packets/http_espn.pcapng');
    if (!file) return t.skip('../shared/captures is absent');
    // tshark's default pass leaves request 578 unanswered; read without body reassembly it is not.
    const unanswered = await run('tshark', [
      '-2',
      '-r',
      file,
      '-Y',
      'http.request && !http.response_in',
      '-T',
      'fields',
      '-e',
      'frame.number',
    ]);
    assert.equal(unanswered.stdout.trim(), '578');
    const [[responseFrame, code]] = (
      await run('tshark', [
        '-r',
        file,
        '-o',
        'http.desegment_body:FALSE',
        '-Y',
        'http.request_in == 578',
        '-T',
        'fields',
        '-e',
        'frame.number',
        '-e',
        'http.response.code',
      ])
    ).stdout
      .trim()
      .split('\n')
      .map((l) => l.split('\t')) as [[string, string]];
    const { rows, aggregate } = await digest(server.mcp, { source: file, kind: 'http' });
    const row = rows.find((r) => r['frame'] === 578);
    assert.match(String(row?.['status']), new RegExp(`^${code} `));
    assert.equal(String(row?.['responseFrame']), responseFrame);
    assert.ok(rows.every((r) => r['status'] !== 'no response'));
    assert.match(aggregate, /^61 requests; by status: 2xx 59, 3xx 2;/);
  });

  it('reads each 100 Continue upload of the heplify capture as one row with its final response', async (t) => {
    const file = corpus('sipcapture-heplify/example/pcap/rtp_rtcp_sip_ipv4_udp.pcap');
    if (!file) return t.skip('../shared/captures is absent');
    const requests = await tsharkFields(file, ['frame.number'], { filter: 'http.request' });
    const interim = await tsharkFields(file, ['http.request_in'], { filter: 'http.response.code == 100' });
    const { rows } = await digest(server.mcp, { source: file, kind: 'http' });
    assert.deepEqual(
      rows.map((r) => String(r['frame'])),
      requests.map((r) => r[0]),
      'one row per request, none for a response without its request',
    );
    const uploads = rows.filter((r) => interim.some(([frame]) => frame === String(r['frame'])));
    assert.equal(uploads.length, interim.length);
    assert.ok(interim.length > 0);
    // Each upload's final response follows its 100 Continue; the capture ends before the last one's.
    assert.ok(uploads.slice(0, -1).every((r) => r['status'] === '100 Continue → 200 OK'));
  });
});

/** `file` with frame `frame` moved `seconds` later (editcap and mergecap, Wireshark's own tools). */
async function moveFrameLater(dir: string, file: string, frame: number, seconds: number): Promise<string> {
  const one = path.join(dir, 'one.pcapng');
  const rest = path.join(dir, 'rest.pcapng');
  const later = path.join(dir, 'one-later.pcapng');
  const out = path.join(dir, 'late.pcapng');
  await run('editcap', ['-r', file, one, String(frame)]);
  await run('editcap', [file, rest, String(frame)]);
  await run('editcap', ['-t', String(seconds), one, later]);
  await run('mergecap', ['-w', out, rest, later]);
  return out;
}

/**
 * A DNS server on DNS_HOST:53 that ignores the first copy of each query for "slow.", never answers
 * "never.", answers "empty." with no records and everything else with one A record; it counts
 * the copies it got by name.
 */
async function choosyDnsServer(): Promise<{ socket: dgram.Socket; copies: Map<string, number> }> {
  const socket = dgram.createSocket('udp4');
  const copies = new Map<string, number>();
  socket.on('message', (query, peer) => {
    let at = 12;
    const labels: string[] = [];
    while (at < query.length && query[at] !== 0) {
      const n = query[at] ?? 0;
      labels.push(query.subarray(at + 1, at + 1 + n).toString('latin1'));
      at += n + 1;
    }
    const name = labels.join('.');
    const seen = (copies.get(name) ?? 0) + 1;
    copies.set(name, seen);
    if (labels[0] === 'never' || (labels[0] === 'slow' && seen === 1)) return;
    const header = Buffer.from(query.subarray(0, 12));
    const empty = labels[0] === 'empty';
    header.writeUInt16BE(0x8180, 2);
    header.writeUInt16BE(empty ? 0 : 1, 6);
    header.writeUInt16BE(0, 8);
    header.writeUInt16BE(0, 10);
    const answer = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 1, 2, 3]);
    const question = query.subarray(12, at + 5);
    socket.send(Buffer.concat([header, question, ...(empty ? [] : [answer])]), peer.port, peer.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(53, DNS_HOST, () => resolve());
  });
  return { socket, copies };
}

describe('dns: whole transactions', () => {
  const server = useServer();

  it('one row for a query sent again then answered, the unanswered one, and "(no records)"', async (t) => {
    if (!(await requireCapture(t))) return;
    const dns = await choosyDnsServer();
    try {
      const resolver = new Resolver({ timeout: 300, tries: 3 });
      resolver.setLocalAddress(CLIENT);
      resolver.setServers([DNS_HOST]);
      const file = await captureLoopback(server.dir, 'dns', `udp port 53 and host ${DNS_HOST}`, async () => {
        assert.deepEqual(await resolver.resolve4('slow.sharkmcp.test'), ['10.1.2.3']);
        await assert.rejects(resolver.resolve4('never.sharkmcp.test'), /ETIMEOUT/);
        await assert.rejects(resolver.resolve4('empty.sharkmcp.test'), /ENODATA/);
      });
      const sentNever = dns.copies.get('never.sharkmcp.test') ?? 0;
      assert.equal(dns.copies.get('slow.sharkmcp.test'), 2);
      assert.ok(sentNever >= 2, 'the resolver sent the unanswered query again');

      const { rows, aggregate } = await digest(server.mcp, { source: file, kind: 'dns' });
      assert.deepEqual(
        rows.map((r) => [
          r['client'],
          r['server'],
          r['query'],
          r['rcode'],
          r['answers'],
          r['retransmissions'],
        ]),
        [
          [CLIENT, DNS_HOST, 'slow.sharkmcp.test', 'NOERROR', '10.1.2.3', 1],
          [CLIENT, DNS_HOST, 'never.sharkmcp.test', 'no response', '(no response)', sentNever - 1],
          [CLIENT, DNS_HOST, 'empty.sharkmcp.test', 'NOERROR', '(no records)', 0],
        ],
      );
      // The copies went out from new source ports: tshark alone does not call them retransmissions.
      const slow = await tsharkFields(
        file,
        ['frame.number', 'frame.time_relative', 'udp.srcport', 'dns.retransmission'],
        {
          filter: 'dns.qry.name == "slow.sharkmcp.test"',
        },
      );
      assert.equal(slow.length, 3, 'two queries and one response');
      assert.notEqual(slow[0]?.[2], slow[1]?.[2]);
      assert.equal(slow[1]?.[3], '');
      // The response time counts from the first copy, as the client waited.
      const waited = (Number(slow[2]?.[1]) - Number(slow[0]?.[1])) * 1000;
      assert.ok(
        Math.abs(Number(rows[0]?.['responseMs']) - waited) < 0.01,
        `${String(rows[0]?.['responseMs'])} vs ${waited}`,
      );
      assert.equal(rows[0]?.['frame'], Number(slow[0]?.[0]));
      assert.match(aggregate, /^3 queries; by rcode: NOERROR 2, no response 1; unanswered 1; /);
      assert.match(
        aggregate,
        new RegExp(`sent again: 2 queries \\(${sentNever} extra copies; 1 of them answered in the end\\)`),
      );
      assert.match(aggregate, new RegExp(`servers: ${DNS_HOST.replace(/\./g, '\\.')} 3$`));
    } finally {
      await new Promise<void>((resolve) => dns.socket.close(() => resolve()));
    }
  });

  it('shows the answers of every record type, and says how many more there are (dns_axfr, dns_tcp)', async (t) => {
    const axfr = corpus('chrissanders-packets/dns_axfr.pcapng');
    const dnssec = corpus('chrissanders-packets/dns_tcp.pcapng');
    if (!axfr || !dnssec) return t.skip('../shared/captures is absent');
    const [[frame, count]] = (await tsharkFields(axfr, ['frame.number', 'dns.count.answers'], {
      filter: 'dns.flags.response == 1',
    })) as [[string, string]];
    const zone = await digest(server.mcp, { source: axfr, kind: 'dns' });
    const cell = String(zone.rows[0]?.['answers']);
    assert.equal(cell.split(', ').length, 11, 'ten answers and the line that says how many more');
    assert.ok(cell.endsWith(`… ${Number(count) - 10} more (get_packet_details frames "${frame}")`), cell);
    assert.match(cell, /^SOA \S+, \d+\.\d+\.\d+\.\d+, NS /);
    assert.doesNotMatch(cell, /unparsed/);
    const keys = await tsharkFields(dnssec, ['dns.dnskey.key_id'], { filter: 'dns.flags.response == 1' });
    const signed = await digest(server.mcp, { source: dnssec, kind: 'dns' });
    signed.rows.forEach((r, i) => {
      for (const id of (keys[i]?.[0] ?? '').split(','))
        assert.ok(String(r['answers']).includes(`DNSKEY key id ${id}`), String(r['answers']));
      assert.doesNotMatch(String(r['answers']), /^$/);
    });
  });
});
