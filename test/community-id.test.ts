// The Community ID that summarize_capture prints for each TCP and UDP conversation is the one
// Wireshark computes (its `communityid` post-dissector), on corpus captures of IPv4 and IPv6, TCP
// and UDP flows. What Zeek, Suricata and Arkime index flows by must match exactly, or the pivot
// finds nothing.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { communityId } from '../src/analysis/community-id.js';
import { useServer } from './helpers/in-process.js';
import { corpus } from './helpers/paths.js';

const run = promisify(execFile);

const CAPTURES = [
  'FoxIO-LLC-ja4/pcap/http1.pcapng',
  'FoxIO-LLC-ja4/pcap/chrome-cloudflare-quic-with-secrets.pcapng',
  'chrissanders-packets/dns_tcp.pcapng',
  'chrissanders-packets/synscan.pcapng',
  'sipcapture-heplify/example/pcap/rtp_rtcp_sip_ipv4_udp.pcap',
];

/** tshark's Community ID of each TCP/UDP flow, keyed "kind a b" (its ends in either order). */
async function wiresharkIds(file: string): Promise<Map<string, string>> {
  const { stdout } = await run(
    'tshark',
    [
      '-r',
      file,
      '--enable-protocol',
      'communityid',
      '-Y',
      '(tcp or udp) and not icmp and not icmpv6',
      '-T',
      'fields',
      '-E',
      'occurrence=f',
      ...[
        'ip.src',
        'ipv6.src',
        'ip.dst',
        'ipv6.dst',
        'tcp.srcport',
        'udp.srcport',
        'tcp.dstport',
        'udp.dstport',
      ].flatMap((f) => ['-e', f]),
      '-e',
      'communityid',
    ],
    { maxBuffer: 1 << 28 },
  );
  const ids = new Map<string, string>();
  const end = (addr: string, port: string): string =>
    addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
  for (const line of stdout.split('\n')) {
    const [s4 = '', s6 = '', d4 = '', d6 = '', ts = '', us = '', td = '', ud = '', id = ''] =
      line.split('\t');
    if (id === '') continue;
    const kind = ts !== '' ? 'tcp' : 'udp';
    const a = end(s4 || s6, ts || us);
    const b = end(d4 || d6, td || ud);
    ids.set(`${kind} ${a} ${b}`, id);
    ids.set(`${kind} ${b} ${a}`, id);
  }
  return ids;
}

describe('Community ID', () => {
  const server = useServer();

  it("equals Wireshark's on every packet of corpus captures (IPv4 and IPv6, TCP and UDP)", async (t) => {
    let compared = 0;
    for (const name of CAPTURES) {
      const file = corpus(name);
      if (!file) return t.skip('../shared is absent');
      for (const [flow, id] of await wiresharkIds(file)) {
        const [kind = '', a = '', b = ''] = flow.split(' ');
        assert.equal(communityId(kind === 'tcp' ? 'tcp' : 'udp', a, b), id, `${name}: ${flow}`);
        compared++;
      }
    }
    assert.ok(compared > 50, `${compared} flows compared`);
  });

  it("is printed for each TCP and UDP conversation of summarize_capture, as Wireshark's", async (t) => {
    for (const name of CAPTURES) {
      const file = corpus(name);
      if (!file) return t.skip('../shared is absent');
      const answer = await server.mcp.call('summarize_capture', { source: file, topN: 100 });
      assert.equal(answer.isError, false, answer.text);
      const rows = (answer.structured?.['conversations'] ?? []) as {
        kind: string;
        a: string;
        b: string;
        communityId?: string;
      }[];
      const flows = rows.filter((r) => r.kind === 'tcp' || r.kind === 'udp');
      assert.ok(flows.length > 0, name);
      const expected = await wiresharkIds(file);
      for (const r of flows) {
        assert.equal(r.communityId, expected.get(`${r.kind} ${r.a} ${r.b}`), `${name}: ${r.a} <-> ${r.b}`);
        assert.ok(answer.text.includes(`${r.a} <-> ${r.b}`) && answer.text.includes(r.communityId ?? '?'));
      }
    }
  });
});
