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

/** The lines of tshark's `-T fields` (first occurrences) with its communityid post-dissector on. */
async function withIds(
  file: string,
  filter: string | undefined,
  fields: readonly string[],
): Promise<string[]> {
  const args = ['-r', file, '--enable-protocol', 'communityid', ...(filter ? ['-Y', filter] : [])];
  const { stdout } = await run(
    'tshark',
    [...args, '-T', 'fields', '-E', 'occurrence=f', ...fields.flatMap((f) => ['-e', f])],
    { maxBuffer: 1 << 28 },
  );
  return stdout.split('\n');
}

/** tshark's Community ID of each TCP/UDP flow, keyed "kind a b" (its ends in either order). */
async function wiresharkIds(file: string): Promise<Map<string, string>> {
  const lines = await withIds(file, '(tcp or udp) and not icmp and not icmpv6', [
    ...['ip.src', 'ipv6.src', 'ip.dst', 'ipv6.dst'],
    ...['tcp.srcport', 'udp.srcport', 'tcp.dstport', 'udp.dstport'],
    'communityid',
  ]);
  const ids = new Map<string, string>();
  const end = (addr: string, port: string): string =>
    addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
  for (const line of lines) {
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

  it("is printed for each digest row whose ends have ports, as Wireshark's for that row's frame", async (t) => {
    const cases = [
      ['FoxIO-LLC-ja4/pcap/http1.pcapng', 'http'],
      ['FoxIO-LLC-ja4/pcap/chrome-cloudflare-quic-with-secrets.pcapng', 'quic'],
      ['chrissanders-packets/http_google.pcapng', 'http'],
      ['chrissanders-packets/tcp_retransmissions.pcapng', 'tcp_health'],
    ] as const;
    let compared = 0;
    for (const [name, kind] of cases) {
      const file = corpus(name);
      if (!file) return t.skip('../shared is absent');
      const answer = await server.mcp.call('inspect_protocol', { source: file, kind, limit: 200 });
      assert.equal(answer.isError, false, answer.text);
      const rows = (answer.structured?.['rows'] ?? []) as Record<string, unknown>[];
      assert.ok((answer.structured?.['columns'] as string[]).includes('communityId'), `${name} ${kind}`);
      const byFrame = await frameIds(file);
      for (const r of rows) {
        if (r['communityId'] === undefined) continue;
        // A row names its frame, or (tcp_health) its TCP stream, whose packets share the ID.
        const expected =
          typeof r['frame'] === 'number'
            ? byFrame.frames.get(r['frame'])
            : byFrame.streams.get(Number(r['stream']));
        assert.equal(r['communityId'], expected, `${name} ${kind} row ${JSON.stringify(r)}`);
        compared++;
      }
    }
    assert.ok(compared > 20, `${compared} rows compared`);
  });
});

/** tshark's Community ID of each frame, and of each TCP stream's packets. */
async function frameIds(
  file: string,
): Promise<{ frames: Map<number, string>; streams: Map<number, string> }> {
  const lines = await withIds(file, undefined, ['frame.number', 'tcp.stream', 'communityid']);
  const frames = new Map<number, string>();
  const streams = new Map<number, string>();
  for (const line of lines) {
    const [frame = '', stream = '', id = ''] = line.split('\t');
    if (id === '') continue;
    frames.set(Number(frame), id);
    if (stream !== '' && !streams.has(Number(stream))) streams.set(Number(stream), id);
  }
  return { frames, streams };
}
