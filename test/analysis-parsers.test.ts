// Parsers of the drill-down tools, on output recorded from tshark 4.0: -z statistics text,
// per-packet conversation fields, -z follow raw output, and frame selections.
import { communityId } from '../src/analysis/community-id.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConversationAggregator, mergeConversations } from '../src/analysis/summary/conversations.js';
import { asciiOf, followArgument, hexdumpOf, parseFollowRaw } from '../src/analysis/follow.js';
import { frameFilter, parseFrameSelection } from '../src/analysis/frames.js';
import { mergeStatistics, parseStatistics } from '../src/analysis/summary/stats.js';
import { topEntries } from '../src/analysis/summary/assembly.js';
import type { Statistics } from '../src/analysis/summary/types.js';
import { parseCaptureFacts } from '../src/wireshark/capinfos.js';

// Recorded from tshark -q -z io,phs -z endpoints,udp -z expert on FoxIO latest.pcapng (cut).
const STATS = `
Warns (5)
=============
   Frequency      Group           Protocol  Summary
           2   Sequence                TCP  D-SACK Sequence
           1   Protocol                DNS  DNS query retransmission. Original request in frame 67

Chats (24)
=============
   Frequency      Group           Protocol  Summary
           3   Sequence               SSDP  M-SEARCH * HTTP/1.1\\r\\n
           1 Response Code          HTTP  HTTP/1.1 304 Not Modified\\r\\n
================================================================================
UDP Endpoints
Filter:<No Filter>
                       |  Port  ||  Packets  | |  Bytes  | | Tx Packets | | Tx Bytes | | Rx Packets | | Rx Bytes |
172.16.224.1                 53         32          3936         16            2609          16            1327   
================================================================================
IPv4 Endpoints
Filter:<No Filter>
                       |  Packets  | |  Bytes  | | Tx Packets | | Tx Bytes | | Rx Packets | | Rx Bytes |
172.16.0.122                 956        652181        458           66467         498          585714   
================================================================================

===================================================================
Protocol Hierarchy Statistics
Filter: 

eth                                      frames:209 bytes:83154
  ip                                     frames:207 bytes:83052
    tcp                                  frames:137 bytes:64206
      tls                                frames:54 bytes:32551
    udp                                  frames:65 bytes:15896
  arp                                    frames:2 bytes:102
===================================================================
`;

describe('statistics text', () => {
  const stats = parseStatistics(STATS);

  it('reads the protocol hierarchy as paths', () => {
    assert.deepEqual(
      stats.protocols.map((p) => `${p.path} ${p.frames} ${p.bytes}`),
      [
        'eth 209 83154',
        'eth:ip 207 83052',
        'eth:ip:tcp 137 64206',
        'eth:ip:tcp:tls 54 32551',
        'eth:ip:udp 65 15896',
        'eth:arp 2 102',
      ],
    );
  });

  it('reads endpoints with and without ports', () => {
    assert.deepEqual(stats.endpoints, [
      { kind: 'udp', address: '172.16.224.1:53', packets: 32, bytes: 3936, txBytes: 2609, rxBytes: 1327 },
      { kind: 'ipv4', address: '172.16.0.122', packets: 956, bytes: 652181, txBytes: 66467, rxBytes: 585714 },
    ]);
  });

  it('reads expert entries, groups with spaces included', () => {
    assert.deepEqual(
      stats.expert.map((e) => [e.severity, e.count, e.group, e.protocol, e.summary]),
      [
        ['warning', 2, 'Sequence', 'TCP', 'D-SACK Sequence'],
        ['warning', 1, 'Protocol', 'DNS', 'DNS query retransmission. Original request in frame 67'],
        ['chat', 3, 'Sequence', 'SSDP', 'M-SEARCH * HTTP/1.1'],
        ['chat', 1, 'Response Code', 'HTTP', 'HTTP/1.1 304 Not Modified'],
      ],
    );
  });
});

describe('conversations from packet columns', () => {
  // One line of PACKET_COLUMNS: len, epoch, ip.src, ip.dst, ipv6.src, ipv6.dst, tcp.stream,
  // tcp.srcport, tcp.dstport, tcp.flags, udp.stream, udp.srcport, udp.dstport, icmp.type, icmpv6.type.
  const tcp = (
    len: number,
    t: string,
    src: string,
    dst: string,
    stream: string,
    sp: string,
    dp: string,
    flags = '0x010',
    icmp = '',
  ): string => [String(len), t, src, dst, '', '', stream, sp, dp, flags, '', '', '', icmp, ''].join('\t');
  const udp = (
    len: number,
    t: string,
    src: string,
    dst: string,
    stream: string,
    sp: string,
    dp: string,
  ): string => [String(len), t, src, dst, '', '', '', '', '', '', stream, sp, dp, '', ''].join('\t');
  const origin = '1000.000000000';

  it('counts each stream once, both directions, and leaves ICMP errors out of streams', () => {
    const agg = new ConversationAggregator();
    agg.add(tcp(74, '1000.100000000', '10.0.0.1', '10.0.0.2', '0', '5000', '80', '0x002'));
    agg.add(tcp(74, '1000.200000000', '10.0.0.2', '10.0.0.1', '0', '80', '5000', '0x012'));
    agg.add(tcp(1500, '1000.500000000', '10.0.0.2', '10.0.0.1', '0', '80', '5000'));
    agg.add(tcp(70, '1000.600000000', '10.0.0.9', '10.0.0.1', '0', '80', '5000', '0x010', '3'));
    const convs = mergeConversations([agg.result()], origin);
    assert.deepEqual(
      convs.find((c) => c.kind === 'tcp'),
      {
        kind: 'tcp',
        a: '10.0.0.1:5000',
        b: '10.0.0.2:80',
        framesAToB: 1,
        framesBToA: 2,
        frames: 3,
        bytes: 1648,
        startSeconds: 0.1,
        durationSeconds: 0.4,
        communityId: communityId('tcp', '10.0.0.1:5000', '10.0.0.2:80'),
      },
    );
    assert.equal(
      convs.filter((c) => c.kind === 'ipv4').length,
      2,
      'the ICMP sender is an IP conversation of its own',
    );
  });

  it('joins a conversation split across ranges, and keeps a reused port a new one', () => {
    const whole = new ConversationAggregator();
    const first = new ConversationAggregator();
    // The second range's worker sees the last packet of the first range as its warm-up.
    const second = new ConversationAggregator(1);
    // Stream numbers as tshark gives them: one pass over the whole file, then a worker that starts
    // at the second range and numbers its streams afresh.
    const a = (stream: string): string[] => [
      tcp(74, '1000.000000001', '10.0.0.1', '10.0.0.2', '0', '5000', '80', '0x002'),
      udp(80, '1000.000000002', '10.0.0.1', '10.0.0.3', '0', '4000', '53'),
      tcp(60, '1000.000000003', '10.0.0.2', '10.0.0.1', '0', '80', '5000', '0x012'),
      tcp(1500, '1000.000000004', '10.0.0.2', '10.0.0.1', '0', '80', '5000'),
      udp(90, '1000.000000005', '10.0.0.3', '10.0.0.1', '0', '53', '4000'),
      tcp(60, '1000.000000006', '10.0.0.1', '10.0.0.2', '0', '5000', '80', '0x011'),
      // the same ports again, opened anew: tshark makes it a new stream
      tcp(74, '1000.000000007', '10.0.0.1', '10.0.0.2', stream, '5000', '80', '0x002'),
    ];
    a('1').forEach((l) => whole.add(l));
    a('1')
      .slice(0, 3)
      .forEach((l) => first.add(l));
    a('1')
      .slice(2)
      .forEach((l) => second.add(l));
    const single = mergeConversations([whole.result()], origin);
    const joined = mergeConversations([first.result(), second.result()], origin);
    assert.deepEqual(joined, single);
    const tcpConvs = single.filter((c) => c.kind === 'tcp');
    assert.deepEqual(
      tcpConvs.map((c) => [c.frames, c.bytes]),
      [
        [4, 1694],
        [1, 74],
      ],
    );
    assert.deepEqual(
      single.filter((c) => c.kind === 'udp').map((c) => [c.framesAToB, c.framesBToA, c.bytes]),
      [[1, 1, 170]],
    );
  });
});

describe('statistics of ranges, added up', () => {
  const part = (
    protocols: [string, number][],
    endpoints: [string, number][],
    expert: number,
  ): Statistics => ({
    protocols: protocols.map(([p, frames]) => ({
      path: p,
      protocol: p.split(':').pop() ?? p,
      depth: p.split(':').length - 1,
      frames,
      bytes: frames * 100,
    })),
    endpoints: endpoints.map(([address, packets]) => ({
      kind: 'ipv4',
      address,
      packets,
      bytes: packets * 100,
      txBytes: packets * 50,
      rxBytes: packets * 50,
    })),
    expert: [
      { severity: 'warning', count: expert, group: 'Sequence', protocol: 'TCP', summary: 'Retransmission' },
    ],
  });

  it('adds counts by protocol path, endpoint and message, new paths after their siblings', () => {
    const merged = mergeStatistics([
      part(
        [
          ['eth', 3],
          ['eth:ip', 3],
          ['eth:ip:tcp', 3],
        ],
        [['10.0.0.1', 3]],
        1,
      ),
      part(
        [
          ['eth', 2],
          ['eth:ip', 2],
          ['eth:ip:udp', 1],
          ['eth:ip:tcp', 1],
          ['eth:ip:tcp:http', 1],
        ],
        [
          ['10.0.0.1', 1],
          ['10.0.0.2', 2],
        ],
        2,
      ),
    ]);
    assert.deepEqual(
      merged.protocols.map((p) => `${p.path}=${p.frames}`),
      ['eth=5', 'eth:ip=5', 'eth:ip:tcp=4', 'eth:ip:tcp:http=1', 'eth:ip:udp=1'],
    );
    assert.deepEqual(
      merged.endpoints.map((e) => `${e.address}=${e.packets}/${e.txBytes}`),
      ['10.0.0.1=4/200', '10.0.0.2=2/100'],
    );
    assert.deepEqual(
      merged.expert.map((e) => e.count),
      [3],
    );
  });

  it('leaves the first range untouched when a second is added', () => {
    const first = part([['eth', 3]], [['10.0.0.1', 3]], 1);
    const merged = mergeStatistics([first, part([['eth', 2]], [['10.0.0.1', 1]], 2)]);
    assert.deepEqual(
      [merged.protocols[0]?.frames, merged.endpoints[0]?.packets, merged.expert[0]?.count],
      [5, 4, 3],
    );
    assert.deepEqual(
      [first.protocols[0]?.frames, first.endpoints[0]?.packets, first.expert[0]?.count],
      [3, 3, 1],
    );
  });
});

describe('top entries', () => {
  it('keeps the first n as a stable sort would, ties included', () => {
    // A small deterministic generator: many ties on bytes, some on names too.
    let seed = 7;
    const next = (m: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % m;
    for (let round = 0; round < 200; round++) {
      const items = Array.from({ length: next(60) }, (_, i) => ({ i, bytes: next(8), name: `n${next(5)}` }));
      const compare = (x: (typeof items)[number], y: (typeof items)[number]): number =>
        y.bytes - x.bytes || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0);
      for (const n of [0, 1, 3, 10, 70]) {
        const expected = [...items].sort(compare).slice(0, n);
        assert.deepEqual(
          topEntries(items, n, compare).map((x) => x.i),
          expected.map((x) => x.i),
        );
      }
    }
  });
});

describe('follow output', () => {
  // Recorded from tshark -q -z follow,tcp,raw,0 on chrissanders http_google.pcapng (cut).
  const raw = `
===================================================================
Follow: tcp,raw
Filter: tcp.stream eq 0
Node 0: 172.16.16.128:1606
Node 1: 74.125.95.104:80
474554202f20485454502f312e310d0a
\t485454502f312e3120323030204f4b0d0a
===================================================================
`;

  it('reads both directions in order', () => {
    const f = parseFollowRaw(raw);
    assert.equal(f.filter, 'tcp.stream eq 0');
    assert.deepEqual(f.nodes, ['172.16.16.128:1606', '74.125.95.104:80']);
    assert.deepEqual(
      f.chunks.map((c) => [c.from, asciiOf(c.bytes)]),
      [
        [0, 'GET / HTTP/1.1\n'],
        [1, 'HTTP/1.1 200 OK\n'],
      ],
    );
  });

  it('dumps bytes with offsets and text', () => {
    assert.equal(
      hexdumpOf(Buffer.from('GET / HTTP/1.1\r\nHost')),
      '00000000  47 45 54 20 2f 20 48 54 54 50 2f 31 2e 31 0d 0a  GET / HTTP/1.1..\n00000010  48 6f 73 74                                      Host',
    );
  });

  it('builds the follow argument and refuses malformed endpoints', () => {
    assert.equal(followArgument('tcp', 3, undefined, undefined), 'follow,tcp,raw,3');
    assert.equal(followArgument('http2', 0, undefined, undefined), 'follow,http2,raw,0,1');
    assert.equal(
      followArgument('tcp', undefined, '10.0.0.1:5,[::1]:80', undefined),
      'follow,tcp,raw,10.0.0.1:5,[::1]:80',
    );
    assert.throws(
      () => followArgument('tcp', undefined, '10.0.0.1:5;rm -rf /', undefined),
      /is not two endpoints/,
    );
  });
});

describe('frame selections and capinfos facts', () => {
  it('turns "1-10,42" into a filter tshark 4.0 accepts', () => {
    assert.equal(frameFilter(parseFrameSelection('1-10, 42')), 'frame.number in {1..10, 42}');
    assert.throws(() => parseFrameSelection('0'), /not a valid range/);
    assert.throws(() => parseFrameSelection('a-b'), /not a frame number/);
  });

  it('reads capinfos facts and interfaces', () => {
    const facts = parseCaptureFacts(
      [
        'File name:           x.pcapng',
        'File type:           pcapng',
        'Number of packets:   6',
        'File size:           1348 bytes',
        'Capture duration:    347.640611507 seconds',
        'First packet time:   2026-01-06 01:31:29.500330493',
        'Number of interfaces in file: 2',
        'Interface #0 info:',
        '                     Name = eth0',
        '                     Encapsulation = Ethernet (1 - ether)',
        '                     Number of packets = 2',
        'Interface #1 info:',
        '                     Description = Ethernet 2',
        '                     Number of packets = 4',
      ].join('\n'),
    );
    assert.equal(facts.packets, 6);
    assert.equal(facts.fileBytes, 1348);
    assert.equal(facts.durationSeconds, 347.640611507);
    assert.deepEqual(
      facts.interfaces.map((i) => [i.name, i.description, i.packets]),
      [
        ['eth0', undefined, 2],
        [undefined, 'Ethernet 2', 4],
      ],
    );
  });
});
