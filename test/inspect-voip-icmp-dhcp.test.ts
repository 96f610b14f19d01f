// inspect_protocol's voip, icmp and dhcp digests on traffic made here (a scripted SIP server that
// rejects a call after many provisional responses, answers another with RTP that loses packets,
// and leaves a third unanswered; UDP sent to closed ports, which Linux answers with ICMP port
// unreachable) and on corpus captures, checked against what the test sent and direct tshark queries.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventList, MAX_EVENTS } from '../src/analysis/digests/voip.js';
import { useServer } from './helpers/in-process.js';
import { captureLoopback, requireCapture, tempDir } from './helpers/loopback-capture.js';
import { corpus } from './helpers/paths.js';
import { tsharkFields } from './helpers/tshark.js';
import { inspectRows } from './helpers/digests.js';

const UAC = '127.83.50.1';
const UAS = '127.83.50.2';
const CLOSED = '127.83.50.3';
const UAC_SIP = 5062;
const UAC_MEDIA = 40002;
const UAS_MEDIA = 40004;
/** Provisional responses the rejecting call gets: more than the 12 events the old digest kept. */
const RINGING = 12;
const RTP_PACKETS = 40;
const SKIPPED = new Set([10, 20, 30]);

const sdp = (host: string, port: number): string =>
  `v=0\r\no=test 1 1 IN IP4 ${host}\r\ns=-\r\nc=IN IP4 ${host}\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n`;

interface Dialog {
  readonly callId: string;
  readonly uri: string;
}

function request(method: string, d: Dialog, cseq: number, body = ''): string {
  return [
    `${method} ${d.uri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${UAC}:${UAC_SIP};branch=z9hG4bK-${d.callId}-${cseq}-${method}`,
    'Max-Forwards: 70',
    `From: <sip:alice@${UAC}>;tag=alice`,
    `To: <${d.uri}>`,
    `Call-ID: ${d.callId}`,
    `CSeq: ${cseq} ${method}`,
    `Contact: <sip:alice@${UAC}:${UAC_SIP}>`,
    ...(body !== '' ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

/** A response to `req` (the header lines it copies are the test's own, so it knows them). */
function response(req: string, status: string, body = ''): string {
  const header = (name: string): string => req.match(new RegExp(`^${name}: .*$`, 'm'))?.[0] ?? '';
  return [
    `SIP/2.0 ${status}`,
    header('Via'),
    header('From'),
    `${header('To')}${status.startsWith('100') ? '' : ';tag=bob'}`,
    header('Call-ID'),
    header('CSeq'),
    ...(body !== '' ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

/** An RTP packet: version 2, PCMU, 20 ms of silence. */
function rtp(seq: number, ssrc: number): Buffer {
  const b = Buffer.alloc(12 + 160, 0xff);
  b.writeUInt8(0x80, 0);
  b.writeUInt8(0, 1);
  b.writeUInt16BE(seq, 2);
  b.writeUInt32BE(seq * 160, 4);
  b.writeUInt32BE(ssrc, 8);
  return b;
}

const bound = async (host: string, port = 0): Promise<dgram.Socket> => {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(port, host, resolve));
  return s;
};
const closeSocket = (s: dgram.Socket): Promise<void> => new Promise((resolve) => s.close(() => resolve()));

interface Made {
  readonly file: string;
  readonly rejected: Dialog;
  readonly answered: Dialog;
  readonly unanswered: Dialog;
  readonly closedPortSource: number;
}

/** The SIP server: the user part of the request-URI says what it does with an INVITE. */
function serveSip(uas: dgram.Socket): void {
  const silent = new Set<string>();
  uas.on('message', (msg, from) => {
    const req = msg.toString();
    const send = (text: string): void => void uas.send(text, from.port, from.address);
    if (req.startsWith('INVITE sip:reject@')) {
      send(response(req, '100 Trying'));
      for (let i = 0; i < RINGING; i++) send(response(req, '180 Ringing'));
      send(response(req, '488 Not Acceptable Here'));
    } else if (req.startsWith('INVITE sip:answer@')) {
      send(response(req, '100 Trying'));
      send(response(req, '180 Ringing'));
      send(response(req, '200 OK', sdp(UAS, UAS_MEDIA)));
    } else if (req.startsWith('INVITE sip:silent@')) {
      // Only the first INVITE gets its 100 Trying: the client retransmits, the server stays silent.
      const callId = req.match(/^Call-ID: (.*)$/m)?.[1] ?? '';
      if (!silent.has(callId)) send(response(req, '100 Trying'));
      silent.add(callId);
    } else if (req.startsWith('BYE ')) send(response(req, '200 OK'));
  });
}

async function makeCapture(dir: string): Promise<Made> {
  const uas = await bound(UAS, 5060);
  const uac = await bound(UAC, UAC_SIP);
  const uacMedia = await bound(UAC, UAC_MEDIA);
  const uasMedia = await bound(UAS, UAS_MEDIA);
  const prober = await bound(UAC);
  const stamp = Date.now().toString(36);
  const rejected = { callId: `reject-${stamp}@${UAC}`, uri: `sip:reject@${UAS}` };
  const answered = { callId: `answer-${stamp}@${UAC}`, uri: `sip:answer@${UAS}` };
  const unanswered = { callId: `silent-${stamp}@${UAC}`, uri: `sip:silent@${UAS}` };
  serveSip(uas);
  const finals: string[] = [];
  uac.on('message', (m) => finals.push(m.toString().split('\r\n')[0] ?? ''));
  const until = async (line: string): Promise<void> => {
    for (let i = 0; i < 200 && !finals.includes(line); i++) await sleep(10);
    finals.length = 0;
  };
  const toUas = (text: string): Promise<number> =>
    new Promise((resolve, reject) => uac.send(text, 5060, UAS, (e, n) => (e ? reject(e) : resolve(n))));
  try {
    const file = await captureLoopback(
      dir,
      'voip',
      'net 127.83.50.0/24',
      async () => {
        await toUas(request('INVITE', rejected, 1, sdp(UAC, UAC_MEDIA)));
        await until('SIP/2.0 488 Not Acceptable Here');
        await toUas(request('ACK', rejected, 1));
        await toUas(request('INVITE', answered, 1, sdp(UAC, UAC_MEDIA)));
        await until('SIP/2.0 200 OK');
        await toUas(request('ACK', answered, 1));
        for (let seq = 1; seq <= RTP_PACKETS; seq++) {
          if (!SKIPPED.has(seq)) uacMedia.send(rtp(seq, 0x1111), UAS_MEDIA, UAS);
          uasMedia.send(rtp(seq, 0x2222), UAC_MEDIA, UAC);
          await sleep(20);
        }
        await toUas(request('BYE', answered, 2));
        await until('SIP/2.0 200 OK');
        await toUas(request('INVITE', unanswered, 1, sdp(UAC, UAC_MEDIA + 10)));
        await until('SIP/2.0 100 Trying');
        await toUas(request('INVITE', unanswered, 1, sdp(UAC, UAC_MEDIA + 10)));
        // A datagram and a DNS query to ports nobody listens on: Linux answers ICMP port unreachable.
        prober.send('hello', 9, CLOSED);
        const resolver = new Resolver({ timeout: 300, tries: 1 });
        resolver.setLocalAddress(UAC);
        resolver.setServers([CLOSED]);
        await resolver.resolve4('nobody.test').catch(() => undefined);
        await sleep(100);
      },
      3 + RINGING + 1 + 7 + 3 + RTP_PACKETS * 2 - SKIPPED.size + 4,
    );
    return { file, rejected, answered, unanswered, closedPortSource: prober.address().port };
  } finally {
    await Promise.all([uas, uac, uacMedia, uasMedia, prober].map(closeSocket));
  }
}

/** "180 Ringing ×12" counts 12: the messages an event list names. */
const eventsIn = (detail: string): number =>
  detail.split(', ').reduce((n, e) => n + Number(e.match(/ ×(\d+)$/)?.[1] ?? 1), 0);

describe('voip and icmp digests on SIP, RTP and ICMP made on loopback', () => {
  const server = useServer();
  let dir = '';
  let made: Made | undefined;

  before(async () => {
    dir = await tempDir('sharkmcp-voip-');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const capture = async (t: Parameters<typeof requireCapture>[0]): Promise<Made | undefined> => {
    if (!(await requireCapture(t))) return undefined;
    made ??= await makeCapture(dir);
    return made;
  };

  it('lists every SIP message of each call, with its request-URI, server and final response', async (t) => {
    const c = await capture(t);
    if (!c) return;
    const { rows, aggregate } = await inspectRows(server.mcp, { source: c.file, kind: 'voip' });
    const call = (d: Dialog): Record<string, string | number | null> | undefined =>
      rows.find((r) => r['kind'] === 'sip' && r['id'] === d.callId);
    const rejected = call(c.rejected);
    assert.equal(rejected?.['final'], '488 Not Acceptable Here');
    assert.equal(
      rejected?.['detail'],
      `INVITE, 100 Trying, 180 Ringing ×${RINGING}, 488 Not Acceptable Here, ACK`,
    );
    assert.equal(rejected?.['requestUri'], c.rejected.uri);
    assert.equal(rejected?.['client'], `${UAC}:${UAC_SIP}`);
    assert.equal(rejected?.['server'], `${UAS}:5060`);
    const answered = call(c.answered);
    assert.equal(answered?.['final'], '200 OK');
    assert.equal(answered?.['detail'], 'INVITE, 100 Trying, 180 Ringing, 200 OK, ACK, BYE, 200 OK (BYE)');
    const unanswered = call(c.unanswered);
    assert.equal(unanswered?.['final'], 'no final response (last: 100 Trying)');
    assert.equal(unanswered?.['detail'], 'INVITE, 100 Trying, INVITE (retransmission)');
    // Every message tshark dissected is in its call's event list.
    const perCall = new Map<string, number>();
    for (const [id] of await tsharkFields(c.file, ['sip.Call-ID'], { filter: 'sip' }))
      perCall.set(id ?? '', (perCall.get(id ?? '') ?? 0) + 1);
    for (const d of [c.rejected, c.answered, c.unanswered]) {
      assert.equal(call(d)?.['packets'], perCall.get(d.callId));
      assert.equal(eventsIn(String(call(d)?.['detail'])), perCall.get(d.callId));
    }
    assert.match(aggregate, /^3 SIP calls by final response: /);
    for (const outcome of ['488 Not Acceptable Here 1', '200 OK 1', 'no final response 1'])
      assert.ok(aggregate.includes(outcome), aggregate);
  });

  it('a display filter on one Call-ID gives one row per message, the 488 among them', async (t) => {
    const c = await capture(t);
    if (!c) return;
    const filter = `sip.Call-ID == "${c.rejected.callId}"`;
    const { rows } = await inspectRows(server.mcp, { source: c.file, kind: 'voip', displayFilter: filter });
    const messages = rows.filter((r) => r['kind'] === 'sip-message');
    const expected = await tsharkFields(c.file, ['frame.number', 'sip.Status-Line', 'sip.Method'], {
      filter,
    });
    assert.deepEqual(
      messages.map((r) => String(r['frame'])),
      expected.map((r) => r[0]),
    );
    assert.equal(messages.length, 3 + RINGING + 1);
    const rejection = messages.find((r) => r['detail'] === '488 Not Acceptable Here');
    assert.equal(rejection?.['from'], `${UAS}:5060`);
  });

  it('gives RTP loss per direction as a percentage, tied to the call whose SDP set it up', async (t) => {
    const c = await capture(t);
    if (!c) return;
    const { rows, aggregate } = await inspectRows(server.mcp, { source: c.file, kind: 'voip' });
    const streams = rows.filter((r) => r['kind'] === 'rtp');
    const ssrcs = await tsharkFields(c.file, ['rtp.ssrc'], { filter: 'rtp' });
    assert.ok(ssrcs.length > 0, 'tshark dissected the media as RTP through the SDP');
    const lossy = streams.find((r) => r['from'] === `${UAC}:${UAC_MEDIA}`);
    const clean = streams.find((r) => r['from'] === `${UAS}:${UAS_MEDIA}`);
    assert.equal(streams.length, 2);
    assert.equal(lossy?.['packets'], RTP_PACKETS - SKIPPED.size);
    assert.equal(lossy?.['lost'], SKIPPED.size);
    assert.equal(lossy?.['lossPct'], Math.round((SKIPPED.size / RTP_PACKETS) * 1000) / 10);
    assert.equal(clean?.['lost'], 0);
    assert.equal(lossy?.['call'], c.answered.callId);
    assert.equal(clean?.['call'], c.answered.callId);
    assert.ok(
      aggregate.includes(
        `2 RTP streams, 1 with loss, worst loss ${Math.round((SKIPPED.size / RTP_PACKETS) * 1000) / 10}%`,
      ),
      aggregate,
    );
  });

  it('names the ICMP port unreachable and the frame and 5-tuple of the UDP packet that caused it', async (t) => {
    const c = await capture(t);
    if (!c) return;
    const { rows, aggregate } = await inspectRows(server.mcp, { source: c.file, kind: 'icmp' });
    const [[datagram, ipId]] = (await tsharkFields(c.file, ['frame.number', 'ip.id'], {
      filter: `!icmp && udp.dstport == 9 && ip.dst == ${CLOSED}`,
    })) as [[string, string]];
    const error = rows.find((r) => String(r['cause']).includes(`→ ${CLOSED}:9,`));
    assert.equal(error?.['message'], 'destination unreachable');
    assert.equal(error?.['code'], 'port unreachable');
    assert.equal(error?.['from'], CLOSED);
    assert.equal(error?.['causeFrame'], Number(datagram));
    assert.equal(error?.['cause'], `UDP ${UAC}:${c.closedPortSource} → ${CLOSED}:9, ip.id ${ipId}`);
    // The DNS query: each ICMP error names the query tshark saw just before it.
    const queries = await tsharkFields(c.file, ['frame.number'], {
      filter: `!icmp && dns && ip.dst == ${CLOSED}`,
    });
    const dnsErrors = rows.filter((r) => String(r['cause']).includes(`→ ${CLOSED}:53,`));
    assert.ok(dnsErrors.length > 0);
    for (const r of dnsErrors) assert.ok(queries.some(([q]) => Number(q) === r['causeFrame']));
    const icmpFrames = await tsharkFields(c.file, ['frame.number'], { filter: 'icmp' });
    assert.equal(rows.length, icmpFrames.length);
    assert.match(
      aggregate,
      new RegExp(
        `port unreachable from ${CLOSED.replace(/\./g, '\\.')} for UDP ${UAC.replace(/\./g, '\\.')} → ${CLOSED.replace(/\./g, '\\.')}:9 1`,
      ),
    );
  });
});

/** A DHCP message (BOOTP with options 53 and the given others) as a client or server would send it. */
function dhcpMessage(
  type: number,
  xid: number,
  mac: number,
  options: { your?: string; server?: string; requested?: string; lease?: number } = {},
): Buffer {
  const b = Buffer.alloc(240);
  b.writeUInt8([2, 5, 6].includes(type) ? 2 : 1, 0); // op: reply for OFFER, ACK, NAK
  b.writeUInt8(1, 1); // Ethernet
  b.writeUInt8(6, 2);
  b.writeUInt32BE(xid, 4);
  const ip = (a: string): Buffer => Buffer.from(a.split('.').map(Number));
  if (options.your) ip(options.your).copy(b, 16);
  b.writeUInt32BE(0x02000000, 28);
  b.writeUInt16BE(mac, 32);
  b.writeUInt32BE(0x63825363, 236); // the magic cookie
  const opts: Buffer[] = [Buffer.from([53, 1, type])];
  if (options.server) opts.push(Buffer.from([54, 4]), ip(options.server));
  if (options.requested) opts.push(Buffer.from([50, 4]), ip(options.requested));
  if (options.lease !== undefined) {
    const lease = Buffer.alloc(6);
    lease.writeUInt8(51, 0);
    lease.writeUInt8(4, 1);
    lease.writeUInt32BE(options.lease, 2);
    opts.push(lease);
  }
  return Buffer.concat([b, ...opts, Buffer.from([255])]);
}

describe('dhcp digest on exchanges made on loopback', () => {
  const server = useServer();

  it('one row per transaction id, retransmissions counted on it, lease time and NAK', async (t) => {
    if (!(await requireCapture(t))) return;
    const dir = await tempDir('sharkmcp-dhcp-');
    const client = await bound(UAC, 68);
    const dhcpServer = await bound(UAS, 67);
    const leased = '10.83.50.101';
    try {
      const toServer = (m: Buffer): Promise<number> =>
        new Promise((resolve, reject) => client.send(m, 67, UAS, (e, n) => (e ? reject(e) : resolve(n))));
      const toClient = (m: Buffer): Promise<number> =>
        new Promise((resolve, reject) => dhcpServer.send(m, 68, UAC, (e, n) => (e ? reject(e) : resolve(n))));
      const file = await captureLoopback(
        dir,
        'dhcp',
        `host ${UAC} and host ${UAS} and udp`,
        async () => {
          // A lease after a retransmitted DISCOVER.
          await toServer(dhcpMessage(1, 0x11111111, 1));
          await toServer(dhcpMessage(1, 0x11111111, 1));
          await toClient(dhcpMessage(2, 0x11111111, 1, { your: leased, server: UAS, lease: 7200 }));
          await toServer(dhcpMessage(3, 0x11111111, 1, { requested: leased, server: UAS }));
          await toClient(dhcpMessage(5, 0x11111111, 1, { your: leased, server: UAS, lease: 7200 }));
          // A client nobody answers, and one refused.
          for (let i = 0; i < 3; i++) await toServer(dhcpMessage(1, 0x22222222, 2));
          await toServer(dhcpMessage(3, 0x33333333, 3, { requested: '10.83.50.99' }));
          await toClient(dhcpMessage(6, 0x33333333, 3, { server: UAS }));
        },
        10,
      );
      const { rows, aggregate } = await inspectRows(server.mcp, { source: file, kind: 'dhcp' });
      const perXid = new Map<string, number>();
      for (const [xid] of await tsharkFields(file, ['dhcp.id'], { filter: 'dhcp' }))
        perXid.set(xid ?? '', (perXid.get(xid ?? '') ?? 0) + 1);
      assert.deepEqual(
        rows.map((r) => [r['xid'], r['messages'], r['retransmissions'], r['leaseSeconds'], r['outcome']]),
        [
          ['0x11111111', 'DISCOVER ×2 → OFFER → REQUEST → ACK', 1, 7200, `leased ${leased}`],
          ['0x22222222', 'DISCOVER ×3', 2, null, 'no answer'],
          ['0x33333333', 'REQUEST → NAK', 0, null, 'refused (NAK)'],
        ],
      );
      assert.deepEqual([...perXid.keys()], ['0x11111111', '0x22222222', '0x33333333']);
      for (const r of rows)
        assert.equal(eventsIn(String(r['messages']).replace(/ → /g, ', ')), perXid.get(String(r['xid'])));
      assert.equal(rows[0]?.['server'], UAS);
      assert.match(aggregate, /^3 exchanges by outcome: /);
      assert.ok(aggregate.includes('retransmissions: 3 in 2 exchanges'), aggregate);
      assert.ok(aggregate.includes(`leases: ${leased} for 2 h 1`), aggregate);
    } finally {
      await Promise.all([client, dhcpServer].map(closeSocket));
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('voip, icmp and dhcp digests on the corpus', () => {
  const server = useServer();

  it('heplify: each INVITE final response as tshark reads it, the media tied by SDP', async (t) => {
    const file = corpus('sipcapture-heplify/example/pcap/rtp_rtcp_sip_ipv4_udp.pcap');
    if (!file) return t.skip('../shared/captures is absent');
    const { rows } = await inspectRows(server.mcp, { source: file, kind: 'voip' });
    const finals = await tsharkFields(file, ['sip.Call-ID', 'sip.Status-Line'], {
      filter: 'sip.Status-Code >= 200 && sip.CSeq.method == "INVITE"',
    });
    const invites = await tsharkFields(file, ['sip.Call-ID', 'sip.r-uri', 'ip.dst', 'udp.dstport'], {
      filter: 'sip.Method == "INVITE"',
    });
    for (const [id, uri, dst, port] of invites) {
      const row = rows.find((r) => r['kind'] === 'sip' && r['id'] === id);
      assert.equal(row?.['requestUri'], uri);
      assert.equal(row?.['server'], `${dst}:${port}`);
      const final = finals.filter((f) => f[0] === id).at(-1)?.[1];
      assert.equal(
        row?.['final'],
        final ? final.replace('SIP/2.0 ', '') : 'no final response (last: 180 Ringing)',
      );
    }
    // The SDP of each call says where it receives media; the streams sent there carry its Call-ID.
    const sdps = await tsharkFields(file, ['sip.Call-ID', 'sdp.connection_info.address', 'sdp.media.port'], {
      filter: 'sdp',
    });
    const tied = rows.filter((r) => r['kind'] === 'rtp' && r['call'] !== null);
    assert.ok(tied.length > 0);
    for (const s of tied)
      assert.ok(
        sdps.some(([id, a, p]) => id === s['call'] && (s['to'] === `${a}:${p}` || s['from'] === `${a}:${p}`)),
        JSON.stringify(s),
      );
  });

  it('icmp_traceroute: each time exceeded names the echo request it quotes', async (t) => {
    const file = corpus('chrissanders-packets/icmp_traceroute.pcapng');
    if (!file) return t.skip('../shared/captures is absent');
    const { rows, aggregate } = await inspectRows(server.mcp, { source: file, kind: 'icmp' });
    const requests = new Map(
      (await tsharkFields(file, ['ip.id', 'frame.number'], { filter: 'icmp.type == 8' })).map(([id, f]) => [
        id,
        f,
      ]),
    );
    const errors = await tsharkFields(file, ['frame.number', 'ip.id'], { filter: 'icmp.type == 11' });
    assert.ok(errors.length > 0);
    for (const [frame, ids] of errors) {
      const quotedId = ids?.split(',').at(-1) ?? '';
      const row = rows.find((r) => String(r['frame']) === frame);
      assert.equal(row?.['message'], 'time exceeded');
      assert.equal(row?.['code'], 'TTL exceeded in transit');
      assert.equal(row?.['causeFrame'], Number(requests.get(quotedId)));
      const request = rows.find((r) => r['frame'] === row?.['causeFrame']);
      assert.equal(request?.['outcome'], `time exceeded from ${String(row?.['from'])} (frame ${frame})`);
    }
    assert.match(aggregate, new RegExp(`${errors.length} errors`));
  });

  it('latest.pcapng: fragmentation needed with the MTU and the TCP segment it quotes', async (t) => {
    const file = corpus('FoxIO-LLC-ja4/pcap/latest.pcapng');
    if (!file) return t.skip('../shared/captures is absent');
    const { rows } = await inspectRows(server.mcp, { source: file, kind: 'icmp' });
    const errors = await tsharkFields(file, ['frame.number', 'icmp.mtu', 'ip.id', 'tcp.srcport'], {
      filter: 'icmp.type == 3 && icmp.code == 4',
    });
    assert.ok(errors.length > 0);
    for (const [frame, mtu, ids, port] of errors) {
      const quotedId = ids?.split(',').at(-1) ?? '';
      const [[original]] = (await tsharkFields(file, ['frame.number'], {
        filter: `!icmp && ip.id == ${quotedId} && tcp.srcport == ${port}`,
      })) as [[string]];
      const row = rows.find((r) => String(r['frame']) === frame);
      assert.equal(row?.['code'], `fragmentation needed, MTU ${mtu}`);
      assert.equal(row?.['causeFrame'], Number(original));
    }
  });

  it('dhcp: one row per exchange with the lease time and server tshark reads', async (t) => {
    const files = [
      'FoxIO-LLC-ja4/pcap/dhcp.pcapng',
      'chrissanders-packets/dhcp_nolease_initialization.pcapng',
      'chrissanders-packets/dhcp_inlease_renewal.pcapng',
    ].map((f) => corpus(f));
    if (files.some((f) => f === undefined)) return t.skip('../shared/captures is absent');
    for (const file of files as string[]) {
      const { rows, aggregate } = await inspectRows(server.mcp, { source: file, kind: 'dhcp' });
      const acks = await tsharkFields(
        file,
        ['dhcp.id', 'dhcp.ip.your', 'dhcp.option.ip_address_lease_time', 'dhcp.option.dhcp_server_id'],
        { filter: 'dhcp.option.dhcp == 5' },
      );
      assert.equal(rows.length, acks.length, file);
      for (const [xid, address, lease, serverId] of acks) {
        const row = rows.find((r) =>
          String(r['xid'])
            .split(', ')
            .includes(xid ?? ''),
        );
        assert.equal(row?.['outcome'], `leased ${address}`);
        assert.equal(row?.['leaseSeconds'], Number(lease));
        assert.equal(row?.['server'], serverId);
        assert.equal(row?.['retransmissions'], 0);
      }
      assert.match(aggregate, /^1 exchange by outcome: leased 1; retransmissions: 0; /);
    }
  });
});

describe('the voip event list', () => {
  it('collapses repeats, and past its bound says how many more and the filter that lists them', () => {
    const labels = Array.from({ length: MAX_EVENTS + 5 }, (_, i) =>
      i % 2 === 0 ? 'OPTIONS' : '200 OK (OPTIONS)',
    );
    const text = eventList(['INVITE', '100 Trying', '180 Ringing', '180 Ringing', ...labels], 'x@y');
    assert.ok(text.startsWith('INVITE, 100 Trying, 180 Ringing ×2, OPTIONS'));
    const more = Number(text.match(/\+(\d+) more messages/)?.[1]);
    assert.equal(eventsIn(text.replace(/, \+\d+ more.*$/, '')) + more, 4 + labels.length);
    assert.ok(
      text.endsWith('(repeat this call with displayFilter "sip.Call-ID == \\"x@y\\"": one row per message)'),
    );
  });
});
