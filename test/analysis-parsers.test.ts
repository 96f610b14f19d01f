// Parsers of the drill-down tools, on output recorded from tshark 4.0: -z statistics text,
// per-packet conversation fields, -z follow raw output, and frame selections.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConversationAggregator } from '../src/analysis/conversations.js';
import { asciiOf, followArgument, hexdumpOf, parseFollowRaw } from '../src/analysis/follow.js';
import { frameFilter, parseFrameSelection } from '../src/analysis/frames.js';
import { parseStatistics } from '../src/analysis/stats.js';
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

describe('conversations from fields', () => {
  it('counts each stream once, both directions, and leaves ICMP errors out of streams', () => {
    const agg = new ConversationAggregator();
    const row = (
      len: number,
      t: number,
      src: string,
      dst: string,
      stream: string,
      sp: string,
      dp: string,
      icmp = '',
    ): string[] => [String(len), String(t), src, dst, '', '', stream, sp, dp, '', '', '', icmp, ''];
    agg.add(row(74, 0.1, '10.0.0.1', '10.0.0.2', '0', '5000', '80'));
    agg.add(row(74, 0.2, '10.0.0.2', '10.0.0.1', '0', '80', '5000'));
    agg.add(row(1500, 0.5, '10.0.0.2', '10.0.0.1', '0', '80', '5000'));
    agg.add(row(70, 0.6, '10.0.0.9', '10.0.0.1', '0', '80', '5000', '3'));
    const convs = agg.conversations();
    const tcp = convs.find((c) => c.kind === 'tcp');
    assert.deepEqual(tcp, {
      kind: 'tcp',
      a: '10.0.0.1:5000',
      b: '10.0.0.2:80',
      framesAToB: 1,
      framesBToA: 2,
      frames: 3,
      bytes: 1648,
      startSeconds: 0.1,
      durationSeconds: 0.4,
    });
    assert.equal(
      convs.filter((c) => c.kind === 'ipv4').length,
      2,
      'the ICMP sender is an IP conversation of its own',
    );
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
