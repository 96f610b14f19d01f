// Decode-as hints: servers made here on unusual ports of this file's own loopback addresses (HTTP/2
// without TLS on 50051, TLS on 8543, HTTP/1.1 on 9000, DNS over UDP on 10053, and a TCP service that
// speaks random bytes on 7777), captured once. tshark 4.0 finds HTTP/1.x, TLS and DNS on any port by
// its heuristics, so only the HTTP/2 port may get a hint: summarize_capture and the http digest must
// name exactly its rule, and the call they print must give HTTP/2's rows. Expected values are what
// the test sent and what tshark says when asked directly.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import dns from 'node:dns';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { recognize, SCAN_PACKETS } from '../src/analysis/decode-hints.js';
import { defaultChunking, Summarizer } from '../src/analysis/summary/index.js';
import { makeCertificate } from '../src/demo/traffic.js';
import { locateWiresharkTools } from '../src/wireshark/locate.js';
import { ProcessGroup } from '../src/wireshark/process.js';
import { inspectRows } from './helpers/digests.js';
import { useServer } from './helpers/in-process.js';
import { captureLoopback, requireCapture } from './helpers/loopback-capture.js';
import type { Session } from './helpers/mcp-client.js';
import { tsharkFields } from './helpers/tshark.js';

const run = promisify(execFile);

const HOST = '127.83.73.1';
const CLIENT = '127.83.73.2';
const PORTS = {
  h2c: 50051,
  tls: 8543,
  http: 9000,
  dns: 10053,
  random: 7777,
  ssh: 2222,
  mqtt: 11883,
} as const;
const RULE = `tcp.port==${PORTS.h2c},http2`;
/** Every rule a hint should give, in the order the capture meets the ports. */
const EXTRA_RULES = [RULE, `tcp.port==${PORTS.ssh},ssh`, `tcp.port==${PORTS.mqtt},mqtt`];
const H2_PATHS = ['/hint/one', '/hint/two'];
const H1_PATH = '/plain/odd-port';
const DNS_NAME = 'odd-port.sharkmcp.test';
const RANDOM = Buffer.from('00ff9e3c71a25d0b8844f1e7c2', 'hex');

function listening(server: net.Server | tls.Server | http2.Http2Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, resolve);
  });
}

function closed(server: net.Server | tls.Server | http2.Http2Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

async function h2cExchanges(): Promise<void> {
  const server = http2.createServer();
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200 });
    stream.end('ok');
  });
  await listening(server, PORTS.h2c);
  try {
    for (const path of H2_PATHS) {
      const session = http2.connect(`http://${HOST}:${PORTS.h2c}`, {
        createConnection: () => net.connect({ host: HOST, port: PORTS.h2c, localAddress: CLIENT }),
      });
      try {
        await new Promise<void>((resolve, reject) => {
          session.once('error', reject);
          const req = session.request({ ':path': path });
          req.on('error', reject);
          req.resume();
          req.on('end', resolve);
          req.end();
        });
      } finally {
        await new Promise<void>((resolve) => session.close(resolve));
      }
    }
  } finally {
    await closed(server);
  }
}

async function tlsExchange(dir: string): Promise<void> {
  const { key, cert } = await makeCertificate(dir);
  const server = tls.createServer({ key, cert }, (socket) => socket.end('hello over tls'));
  await listening(server, PORTS.tls);
  try {
    await new Promise<void>((resolve, reject) => {
      const socket = tls.connect({
        socket: net.connect({ host: HOST, port: PORTS.tls, localAddress: CLIENT }),
        servername: 'odd-port.sharkmcp.test',
        rejectUnauthorized: false,
      });
      socket.on('error', reject);
      socket.resume();
      socket.on('end', resolve);
    });
  } finally {
    await closed(server);
  }
}

async function http1Exchange(): Promise<void> {
  const server = http.createServer((_req, res) => res.end('plain'));
  await listening(server, PORTS.http);
  try {
    await new Promise<void>((resolve, reject) => {
      http
        .get({ host: HOST, port: PORTS.http, localAddress: CLIENT, path: H1_PATH, agent: false }, (res) => {
          res.resume();
          res.on('end', resolve);
        })
        .on('error', reject);
    });
  } finally {
    await closed(server);
  }
}

/** A DNS responder that answers every A query with 127.0.0.1, asked through node:dns. */
async function dnsExchange(): Promise<void> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (query, peer) => {
    const answer = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
    const header = Buffer.from([0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
    socket.send(
      Buffer.concat([query.subarray(0, 2), header, query.subarray(12), answer]),
      peer.port,
      peer.address,
    );
  });
  await new Promise<void>((resolve) => socket.bind(PORTS.dns, HOST, resolve));
  try {
    const resolver = new dns.promises.Resolver({ timeout: 2000, tries: 1 });
    resolver.setLocalAddress(CLIENT);
    resolver.setServers([`${HOST}:${PORTS.dns}`]);
    assert.deepEqual(await resolver.resolve4(DNS_NAME), ['127.0.0.1']);
  } finally {
    await new Promise<void>((resolve) => socket.close(resolve));
  }
}

/**
 * A TCP service on `port` that sends `greeting` on connecting (if any) and `reply` to the client's
 * first bytes, and a client that sends `request`: for protocols whose first bytes the test writes.
 */
async function bytesExchange(
  port: number,
  bytes: { greeting?: Buffer; request: Buffer; reply: Buffer },
): Promise<void> {
  const server = net.createServer((socket) => {
    if (bytes.greeting) socket.write(bytes.greeting);
    socket.once('data', () => socket.end(bytes.reply));
  });
  await listening(server, port);
  try {
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect({ host: HOST, port, localAddress: CLIENT }, () =>
        socket.write(bytes.request),
      );
      socket.on('error', reject);
      socket.resume();
      socket.on('close', () => resolve());
    });
  } finally {
    await closed(server);
  }
}

/** An MQTT 3.1.1 CONNECT packet (client id "sharkmcp", keep-alive 60 s). */
function mqttConnect(): Buffer {
  const id = Buffer.from('sharkmcp');
  const rest = Buffer.concat([
    Buffer.from([0, 4]),
    Buffer.from('MQTT'),
    Buffer.from([4, 2, 0, 60, 0, id.length]),
    id,
  ]);
  return Buffer.concat([Buffer.from([0x10, rest.length]), rest]);
}

/** The call an answer says repeats it with the rules, made. */
async function repeatCall(
  mcp: Session,
  text: string,
): Promise<{ args: Record<string, unknown>; text: string }> {
  const m = /^Repeat with the rules?: (\w+) (\{.*\})$/m.exec(text);
  assert.ok(m, `no call to repeat in:\n${text}`);
  const args = JSON.parse(m[2] ?? '{}') as Record<string, unknown>;
  const answer = await mcp.call(m[1] ?? '', args);
  assert.equal(answer.isError, false, answer.text);
  return { args, text: answer.text };
}

/** Every exchange above, one after the other, in one capture. */
async function allExchanges(dir: string): Promise<void> {
  await h2cExchanges();
  await tlsExchange(dir);
  await http1Exchange();
  await dnsExchange();
  // A service speaking random bytes: no protocol, so no hint.
  await bytesExchange(PORTS.random, { request: Buffer.from(RANDOM).reverse(), reply: RANDOM });
  await bytesExchange(PORTS.ssh, {
    greeting: Buffer.from('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n'),
    request: Buffer.from('SSH-2.0-sharkmcp_test\r\n'),
    reply: Buffer.alloc(0),
  });
  // CONNECT, answered by CONNACK "accepted".
  await bytesExchange(PORTS.mqtt, { request: mqttConnect(), reply: Buffer.from([0x20, 2, 0, 0]) });
}

describe('decode-as hints', () => {
  const server = useServer();
  let capture: Promise<string> | undefined;
  /** The capture, made by the first test that needs it (none where capture is not permitted). */
  const captured = (): Promise<string> =>
    (capture ??= captureLoopback(server.dir, 'hints', `host ${HOST}`, () => allExchanges(server.dir), 60));

  it('summarize_capture names the rules of the HTTP/2, SSH and MQTT ports alone, and its call decodes them', async (t) => {
    if (!(await requireCapture(t))) return;
    const file = await captured();
    // What tshark leaves as bare data, and what it makes of it with the rules, asked directly.
    const bare = await tsharkFields(file, ['tcp.srcport', 'tcp.dstport', 'udp.srcport', 'udp.dstport'], {
      filter: 'frame.protocols matches ":(tcp|udp):data$"',
    });
    const servers = new Set(bare.map((r) => Object.values(PORTS).find((p) => r.includes(String(p)))));
    assert.deepEqual(
      [...servers].sort(),
      [PORTS.h2c, PORTS.random, PORTS.ssh, PORTS.mqtt].sort(),
      'bare data: the HTTP/2, random, SSH and MQTT ports only',
    );
    const decoded = await tsharkFields(file, ['http2.headers.path', 'ssh.protocol', 'mqtt.clientid'], {
      filter: 'http2.headers.path || ssh.protocol || mqtt.clientid',
      decodeAs: EXTRA_RULES,
    });
    assert.deepEqual(
      decoded.map((r) => r.join('')),
      [...H2_PATHS, 'SSH-2.0-OpenSSH_9.2p1 Debian-2', 'SSH-2.0-sharkmcp_test', 'sharkmcp'],
    );

    const summary = await server.mcp.call('summarize_capture', { source: file });
    assert.equal(summary.isError, false, summary.text);
    const hints = summary.structured?.['decodeHints'] as {
      rule: string;
      protocol: string;
      streams: number;
    }[];
    assert.deepEqual(
      hints.map((h) => [h.rule, h.streams]),
      EXTRA_RULES.map((r, i) => [r, i === 0 ? H2_PATHS.length : 1]),
      summary.text,
    );
    assert.match(
      summary.text,
      new RegExp(
        `^Decode-as hint: TCP port ${PORTS.h2c} carries HTTP/2 .*Add decodeAs: \\["tcp\\.port==${PORTS.h2c},http2"\\]\\.$`,
        'm',
      ),
    );
    for (const port of [PORTS.tls, PORTS.http, PORTS.dns, PORTS.random])
      assert.doesNotMatch(summary.text, new RegExp(`port ${port} carries`), `no hint for port ${port}`);
    assert.doesNotMatch(summary.text, /cut short/);

    const repeated = await repeatCall(server.mcp, summary.text);
    assert.deepEqual(repeated.args, { source: file, decodeAs: EXTRA_RULES });
    for (const protocol of ['http2', 'ssh', 'mqtt'])
      assert.match(
        repeated.text,
        new RegExp(`^ {8,}${protocol} {2}`, 'm'),
        `${protocol} in the protocol hierarchy`,
      );
    assert.doesNotMatch(repeated.text, /Decode-as hint/, 'no hint once the rules are given');
  });

  it('a summary read in ranges, whose scan starts once a range shows bare data, gives the same hints', async (t) => {
    if (!(await requireCapture(t))) return;
    const file = await captured();
    const packets = (await tsharkFields(file, ['frame.number'])).length;
    const group = new ProcessGroup();
    try {
      const tools = locateWiresharkTools(group);
      const work = (): Promise<string> => Promise.resolve(server.dir);
      const request = { file, topN: 10, timeoutMs: 60_000, decodeHints: true };
      const one = await new Summarizer(group, () => tools, work, defaultChunking(1)).summarize(request);
      // Three ranges or more: the scan runs beside the ranges still being read.
      const sizing = {
        chunkPackets: Math.ceil(packets / 3),
        chunkBytes: Number.MAX_SAFE_INTEGER,
        warmupPackets: 10,
      };
      const ranged = new Summarizer(group, () => tools, work, { workers: 2, minFileBytes: 0, sizing });
      const many = await ranged.summarize(request);
      assert.deepEqual(
        many.decodeHints?.map((h) => h.rule),
        EXTRA_RULES,
      );
      assert.deepEqual(many.decodeHints, one.decodeHints);
      assert.equal(many.decodeHintsCutShort, one.decodeHintsCutShort);
      // Cancelled while its ranges are read: neither a worker nor a scan is left running.
      const stop = new AbortController();
      const cancelled = ranged.summarize(request, stop.signal);
      setTimeout(() => stop.abort(), 300);
      await cancelled.then(
        () => undefined,
        () => undefined,
      );
      assert.equal(group.size, 0, 'no tshark left running');
    } finally {
      await group.close();
    }
  });

  /** The random-bytes conversation appended to itself until it passes the scan's bound. */
  const fillerPastScan = async (file: string): Promise<string> => {
    let filler = path.join(server.dir, 'filler-1.pcapng');
    await run('tshark', ['-r', file, '-Y', `tcp.port == ${PORTS.random}`, '-w', filler, '-F', 'pcapng']);
    const perCopy = (await tsharkFields(filler, ['frame.number'])).length;
    for (let copies = 1; copies * perCopy <= SCAN_PACKETS; copies *= 2) {
      const doubled = path.join(server.dir, `filler-${copies * 2}.pcapng`);
      await run('mergecap', ['-a', '-w', doubled, filler, filler]);
      filler = doubled;
    }
    return filler;
  };

  it("a first range holding the scan's packets makes the scan in its counter: the same hints", async (t) => {
    if (!(await requireCapture(t))) return;
    const file = await captured();
    // The capture, then the filler twice: the ports to hint first, and two ranges each of more
    // packets than the scan reads.
    const front = path.join(server.dir, 'front.pcapng');
    const filler = await fillerPastScan(file);
    await run('mergecap', ['-a', '-w', front, file, filler, filler]);
    const packets = (await tsharkFields(front, ['frame.number'])).length;
    assert.ok(packets > 2 * SCAN_PACKETS);
    const group = new ProcessGroup();
    try {
      const tools = locateWiresharkTools(group);
      const work = (): Promise<string> => Promise.resolve(server.dir);
      const request = { file: front, topN: 10, timeoutMs: 120_000, decodeHints: true };
      const one = await new Summarizer(group, () => tools, work, defaultChunking(1)).summarize(request);
      // Two ranges: the first holds more packets than the scan reads.
      const sizing = { chunkPackets: packets, chunkBytes: Number.MAX_SAFE_INTEGER, warmupPackets: 10 };
      const two = await new Summarizer(group, () => tools, work, {
        workers: 2,
        minFileBytes: 0,
        sizing,
      }).summarize(request);
      assert.deepEqual(
        one.decodeHints?.map((h) => h.rule),
        EXTRA_RULES,
      );
      assert.deepEqual(two.decodeHints, one.decodeHints);
      assert.equal(two.decodeHintsCutShort, one.decodeHintsCutShort);
      assert.equal(
        one.decodeHintsCutShort,
        `the check read the first ${SCAN_PACKETS.toLocaleString('en-US')} packets only`,
      );
    } finally {
      await group.close();
    }
  });

  it('inspect_protocol http: the rule on the rows tshark finds itself, and the HTTP/2 rows with it', async (t) => {
    if (!(await requireCapture(t))) return;
    const file = await captured();
    const plainRequests = await tsharkFields(file, ['http.request.uri'], { filter: 'http.request' });
    assert.deepEqual(plainRequests, [[H1_PATH]], 'tshark finds HTTP/1.1 on port 9000 by itself');

    const plain = await inspectRows(server.mcp, { source: file, kind: 'http' });
    assert.deepEqual(
      plain.rows.map((r) => r['uri']),
      [H1_PATH],
      plain.text,
    );
    assert.match(plain.text, new RegExp(`Add decodeAs: \\["tcp\\.port==${PORTS.h2c},http2"\\]`));
    assert.doesNotMatch(plain.text, new RegExp(`port ${PORTS.http} carries`));

    const repeated = await repeatCall(server.mcp, plain.text);
    assert.deepEqual(repeated.args, {
      source: file,
      kind: 'http',
      limit: 10_000,
      maxChars: 200_000,
      decodeAs: [RULE],
    });
    const decoded = await inspectRows(server.mcp, repeated.args);
    assert.deepEqual(decoded.rows.map((r) => r['uri']).sort(), [H1_PATH, ...H2_PATHS].sort(), decoded.text);
    assert.doesNotMatch(decoded.text, /Decode-as hint/);
  });

  it('an empty http digest names the rule; tls and dns on odd ports need none', async (t) => {
    if (!(await requireCapture(t))) return;
    const file = await captured();
    const onlyH2 = await inspectRows(server.mcp, {
      source: file,
      kind: 'http',
      displayFilter: `tcp.port == ${PORTS.h2c}`,
    });
    assert.deepEqual(onlyH2.rows, []);
    assert.match(
      onlyH2.text,
      /^Rows: none\. No http traffic found that matches the display filter as tshark decodes it by default/m,
    );
    assert.match(onlyH2.text, new RegExp(`Add decodeAs: \\["${RULE.replace(/\./g, '\\.')}"\\]`));

    const hellos = await tsharkFields(file, ['tls.handshake.extensions_server_name'], {
      filter: 'tls.handshake.type == 1',
    });
    assert.deepEqual(hellos, [['odd-port.sharkmcp.test']], 'tshark finds TLS on port 8543 by itself');
    const tlsRows = await inspectRows(server.mcp, { source: file, kind: 'tls' });
    assert.equal(tlsRows.rows.length, 1, tlsRows.text);
    assert.doesNotMatch(tlsRows.text, /Decode-as hint/);

    const queries = await tsharkFields(file, ['dns.qry.name'], { filter: 'dns.flags.response == 0' });
    assert.deepEqual(queries, [[DNS_NAME]], 'tshark finds DNS on UDP port 10053 by itself');
    const dnsRows = await inspectRows(server.mcp, { source: file, kind: 'dns' });
    assert.equal(dnsRows.rows.length, 1, dnsRows.text);
    assert.doesNotMatch(dnsRows.text, /Decode-as hint/);
  });

  it('the first bytes pick the protocol tshark reads in them, and random bytes none', async (t) => {
    if (!(await requireCapture(t))) return;
    const file = await captured();
    const payload = async (filter: string, field = 'tcp.payload'): Promise<string> => {
      const [[hex = ''] = []] = await tsharkFields(file, [field], { filter, decodeAs: EXTRA_RULES });
      return hex;
    };
    const picked = async (filter: string, transport: 'tcp' | 'udp' = 'tcp'): Promise<string | undefined> => {
      const s = recognize(await payload(filter, `${transport}.payload`), transport);
      return s && `${s.protocol} ${s.side}`;
    };
    assert.equal(await picked('http2.magic'), 'http2 client');
    assert.equal(await picked('tls.handshake.type == 1'), 'tls client');
    assert.equal(await picked('tls.handshake.type == 2'), 'tls server');
    assert.equal(await picked('http.request'), 'http client');
    assert.equal(await picked('http.response'), 'http server');
    assert.equal(await picked('dns.flags.response == 0', 'udp'), 'dns client');
    assert.equal(await picked('dns.flags.response == 1', 'udp'), 'dns server');
    assert.equal(await picked('ssh.protocol'), 'ssh either');
    assert.equal(await picked('mqtt.msgtype == 1'), 'mqtt client');
    assert.equal(await picked('mqtt.msgtype == 2'), undefined, 'a CONNACK does not say MQTT surely');
    assert.equal(await picked(`tcp.srcport == ${PORTS.random} && tcp.len > 0`), undefined);
    assert.equal(await picked(`tcp.dstport == ${PORTS.random} && tcp.len > 0`), undefined);
  });
  it('says when the check was cut short, and hints nothing past where it stopped', async (t) => {
    if (!(await requireCapture(t))) return;
    const file = await captured();
    // The filler, then the whole capture after it: its HTTP/2 port lies past what the check reads.
    const filler = await fillerPastScan(file);
    const long = path.join(server.dir, 'long.pcapng');
    await run('mergecap', ['-a', '-w', long, filler, file]);

    const summary = await server.mcp.call('summarize_capture', { source: long });
    assert.equal(summary.isError, false, summary.text);
    assert.deepEqual(summary.structured?.['decodeHints'], [], summary.text);
    assert.match(
      summary.text,
      new RegExp(
        `^Decode-as check cut short: the check read the first ${SCAN_PACKETS.toLocaleString('en-US')} packets only`,
        'm',
      ),
    );
    assert.equal(
      summary.structured?.['decodeHintsCutShort'],
      `the check read the first ${SCAN_PACKETS.toLocaleString('en-US')} packets only`,
    );

    const empty = await inspectRows(server.mcp, {
      source: long,
      kind: 'http',
      displayFilter: `tcp.port == ${PORTS.h2c}`,
    });
    assert.deepEqual(empty.rows, []);
    assert.match(empty.text, /^Decode-as check cut short: /m, 'an empty digest says the check stopped');
    assert.doesNotMatch(empty.text, /Add decodeAs/);
  });
});
