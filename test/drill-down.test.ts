// summarize_capture, follow_stream and get_packet_details through a real MCP client, on corpus
// captures (skipped when ../shared is absent) and on a capture session made here. Expected values
// come from the MANIFEST or from tshark queried directly.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startMixedTraffic } from './helpers/fixtures.js';
import { requireCapture } from './helpers/loopback-capture.js';
import { resultBody, useServer } from './helpers/in-process.js';
import { corpus } from './helpers/paths.js';
import { tsharkFields } from './helpers/tshark.js';

interface Summary {
  facts: { packets?: number };
  protocols: { protocol: string }[];
  conversations: { kind: string; a: string; b: string; frames: number }[];
  expertCounts: Record<string, number>;
  expertTop: { severity: string; protocol: string; summary: string }[];
}

describe('summarize_capture', () => {
  const server = useServer();

  it('gives the packets and protocols the MANIFEST states, and the biggest TCP conversation', async (t) => {
    const file = corpus('FoxIO-LLC-ja4/pcap/latest.pcapng');
    if (!file) return t.skip('../shared/captures is absent');
    const answer = await server.mcp.call('summarize_capture', { source: file, topN: 3 });
    assert.equal(answer.isError, false, answer.text);
    const s = answer.structured as unknown as Summary;
    assert.equal(s.facts.packets, 209);
    const manifest =
      'arp browser data dns eth http icmp ip mailslot nbdgm nbns smb ssdp tcp tcp.segments tls udp';
    assert.deepEqual([...new Set(s.protocols.map((p) => p.protocol))].sort().join(' '), manifest);

    // The biggest TCP stream by bytes, counted from tshark's per-packet fields.
    const rows = await tsharkFields(file, ['tcp.stream', 'frame.len'], { filter: 'tcp && !icmp' });
    const bytes = new Map<string, number>();
    const frames = new Map<string, number>();
    for (const [stream = '', len = '0'] of rows) {
      bytes.set(stream, (bytes.get(stream) ?? 0) + Number(len));
      frames.set(stream, (frames.get(stream) ?? 0) + 1);
    }
    const [topStream] = [...bytes].sort((x, y) => y[1] - x[1])[0] ?? [];
    const topTcp = s.conversations.find((c) => c.kind === 'tcp');
    assert.equal(topTcp?.frames, frames.get(topStream ?? ''));
    assert.match(answer.text, /^Summary of .*latest\.pcapng\nFile: pcapng, 209 packets/);
    // Every cut list says how many there are and the call that shows them all; that call does.
    const cut =
      /Top TCP conversations by bytes \(3 of (\d+); more: summarize_capture (\{.*\})\), each ending/.exec(
        answer.text,
      );
    assert.ok(cut, answer.text);
    const total = Number(cut[1]);
    assert.equal(total, new Set(rows.map((r) => r[0])).size, 'as many as tshark has TCP streams');
    const whole = await server.mcp.call(
      'summarize_capture',
      JSON.parse(cut[2] ?? '') as Record<string, unknown>,
    );
    const all = (whole.structured?.['conversations'] as { kind: string }[]).filter((c) => c.kind === 'tcp');
    assert.equal(all.length, total);
    assert.match(whole.text, new RegExp(`Top TCP conversations by bytes \\(all ${total}\\), each ending`));
    for (const list of ['TCP endpoints', 'UDP endpoints', 'IPv4 endpoints']) {
      const m = new RegExp(
        `Top ${list} by bytes \\((\\d+) of (\\d+); more: summarize_capture (\\{.*\\})\\):`,
      ).exec(answer.text);
      assert.ok(m, `${list} says how many and the call:\n${answer.text}`);
      const more = await server.mcp.call(
        'summarize_capture',
        JSON.parse(m[3] ?? '') as Record<string, unknown>,
      );
      assert.match(more.text, new RegExp(`Top ${list} by bytes \\(all ${m[2] ?? ''}\\):`));
    }
    const expert = /Most frequent expert messages \(3 of (\d+); more: summarize_capture (\{.*\})\):/.exec(
      answer.text,
    );
    assert.ok(expert, answer.text);
    const messages = await server.mcp.call(
      'summarize_capture',
      JSON.parse(expert[2] ?? '') as Record<string, unknown>,
    );
    assert.equal((messages.structured?.['expertTop'] as unknown[]).length, Number(expert[1]));
  });

  it('keeps within maxChars, cutting at a line and naming a shorter call', async (t) => {
    const file = corpus('FoxIO-LLC-ja4/pcap/latest.pcapng');
    if (!file) return t.skip('../shared/captures is absent');
    const answer = await server.mcp.call('summarize_capture', { source: file, maxChars: 1_000 });
    assert.ok(answer.text.length <= 1_000, `${answer.text.length} characters`);
    const call = /for a shorter answer call summarize_capture (\{.*\})\]$/.exec(answer.text)?.[1];
    assert.ok(call, answer.text);
    assert.deepEqual(JSON.parse(call), { source: file, maxChars: 1_000, topN: 5 });
  });

  it('counts the malformed SSH packet as an expert error', async (t) => {
    const file = corpus('FoxIO-LLC-ja4/pcap/ssh2-malformed.pcap');
    if (!file) return t.skip('../shared/captures is absent');
    const answer = await server.mcp.call('summarize_capture', { source: file });
    const s = answer.structured as unknown as Summary;
    const malformed = await tsharkFields(file, ['frame.number'], { filter: '_ws.malformed' });
    assert.equal(s.expertCounts['error'], malformed.length);
    assert.equal(s.expertTop[0]?.severity, 'error');
    assert.equal(s.expertTop[0]?.protocol, 'SSH');
    assert.match(answer.text, /Expert info: 1 error,/);
  });

  it('answers an empty capture plainly', async (t) => {
    const file = corpus('zeek/testing/btest/Traces/empty.pcap');
    if (!file) return t.skip('../shared/captures is absent');
    const answer = await server.mcp.call('summarize_capture', { source: file });
    assert.equal(answer.isError, false, answer.text);
    assert.match(answer.text, /File: pcap, 0 packets/);
  });
});

describe('follow_stream', () => {
  const server = useServer();

  it('decrypts illustrated-tls12 and shows ping, then pong', async (t) => {
    const file = corpus('illustrated-tls12/captures/capture.pcap');
    const keylog = corpus('illustrated-tls12/captures/keylog.txt');
    if (!file || !keylog) return t.skip('../shared/captures is absent');
    const locked = await server.mcp.call('follow_stream', { source: file, protocol: 'tls' });
    assert.equal(locked.isError, true);
    assert.match(locked.text, /give sslKeylogFile/);
    const answer = await server.mcp.call('follow_stream', {
      source: file,
      protocol: 'tls',
      sslKeylogFile: keylog,
    });
    assert.equal(answer.isError, false, answer.text);
    assert.match(answer.text, /── A→B chunk 1, 4 bytes\nping\n── B→A chunk 2, 4 bytes\npong$/);
  });

  it('lays out a TCP stream in order with both directions, by index or by endpoints', async (t) => {
    const file = corpus('chrissanders-packets/http_google.pcapng');
    if (!file) return t.skip('../shared/captures is absent');
    const rows = await tsharkFields(file, ['ip.src', 'tcp.srcport', 'ip.dst', 'tcp.dstport', 'tcp.len'], {
      filter: 'tcp.stream == 0',
    });
    const [first] = rows;
    assert.ok(first);
    const client = `${first[0]}:${first[1]}`;
    const server0 = `${first[2]}:${first[3]}`;
    const sent = (from: string): number =>
      rows.filter((r) => `${r[0]}:${r[1]}` === from).reduce((n, r) => n + Number(r[4]), 0);

    const answer = await server.mcp.call('follow_stream', { source: file, stream: 0 });
    assert.equal(answer.isError, false, answer.text);
    assert.match(answer.text, new RegExp(`A \\(spoke first\\): ${client} {3}B: ${server0}`));
    const facts = answer.structured as { bytesAToB: number; bytesBToA: number };
    assert.equal(facts.bytesAToB, sent(client));
    assert.equal(facts.bytesBToA, sent(server0));
    assert.match(answer.text, /── A→B chunk 1, [\d,]+ bytes\nGET \/ HTTP\/1\.1\nHost: www\.google\.com\n/);
    assert.match(answer.text, /── B→A chunk 2, [\d,]+ bytes\nHTTP\/1\.1 200 OK\n/);

    const between = await server.mcp.call('follow_stream', { source: file, between: `${client},${server0}` });
    assert.equal(resultAfterHeader(between.text), resultAfterHeader(answer.text));

    const hex = await server.mcp.call('follow_stream', { source: file, format: 'hex', limit: 1 });
    assert.match(
      hex.text,
      /\n00000000 {2}47 45 54 20 2f 20 48 54 54 50 2f 31 2e 31 0d 0a {2}GET \/ HTTP\/1\.1\.\.\n/,
    );
    assert.match(hex.text, /Next page: follow_stream \{.*"offset":1\}/);
  });

  it('says when a stream has no payload', async (t) => {
    const file = corpus('chrissanders-packets/http_google.pcapng');
    if (!file) return t.skip('../shared/captures is absent');
    const answer = await server.mcp.call('follow_stream', { source: file, stream: 99 });
    assert.equal(answer.isError, true);
    assert.match(answer.text, /No tcp payload in stream 99/);
  });
});

/** A follow answer without its first lines (which name how the stream was chosen). */
function resultAfterHeader(text: string): string {
  return text.slice(text.indexOf('\n── '));
}

describe('get_packet_details', () => {
  const server = useServer();

  it('shows exactly the frames asked for, with their trees', async (t) => {
    const file = corpus('chrissanders-packets/http_google.pcapng');
    if (!file) return t.skip('../shared/captures is absent');
    const answer = await server.mcp.call('get_packet_details', {
      source: file,
      frames: '1-3,12',
      limit: 10,
      maxChars: 100_000,
    });
    assert.equal(answer.isError, false, answer.text);
    const frames = [...resultBody(answer.text).matchAll(/^Frame (\d+): /gm)].map((m) => Number(m[1]));
    assert.deepEqual(frames, [1, 2, 3, 12]);
    assert.match(answer.text, /Transmission Control Protocol, Src Port: 1606, Dst Port: 80/);
  });

  it('narrows the tree to the protocols asked for, and adds the bytes', async (t) => {
    const file = corpus('chrissanders-packets/http_google.pcapng');
    if (!file) return t.skip('../shared/captures is absent');
    const [uri] = (await tsharkFields(file, ['http.request.uri'], { filter: 'frame.number == 4' }))[0] ?? [];
    const answer = await server.mcp.call('get_packet_details', {
      source: file,
      frames: '4',
      protocols: ['http'],
      includeBytes: true,
    });
    const body = resultBody(answer.text);
    assert.match(body, new RegExp(`Request URI: ${uri ?? 'missing'}\\n`));
    assert.doesNotMatch(body, /\n {4}Source Port: /, 'the TCP tree stays collapsed');
    assert.match(body, /\n0000 {2}00 05 5d 21 99 4c /, 'the frame bytes follow');
    const unknown = await server.mcp.call('get_packet_details', {
      source: file,
      frames: '4',
      protocols: ['htttp'],
    });
    assert.equal(unknown.isError, true);
    assert.match(unknown.text, /htttp is neither a field nor a protocol name/);
    const bad = await server.mcp.call('get_packet_details', { source: file, frames: '4-2' });
    assert.match(bad.text, /frames: "4-2" is not a valid range/);
  });
});

describe('sources: a capture session instead of a file', () => {
  const server = useServer();

  it('summarizes a running session, then follows a stream of it once stopped', async (t) => {
    if (!(await requireCapture(t))) return;
    const traffic = await startMixedTraffic(server.dir);
    try {
      const started = await server.mcp.call('start_capture_session', {
        captureFilter: traffic.captureFilter,
        sessionName: 'drill',
      });
      assert.equal(started.isError, false, started.text);
      await traffic.run();
      const running = await server.mcp.call('summarize_capture', { source: 'drill' });
      assert.equal(running.isError, false, running.text);
      assert.match(running.text, /^Summary of session 'drill'/);
      assert.match(running.text, /still capturing/);
      await server.mcp.call('stop_capture_session', { sessionId: 'drill', limit: 1 });
      const listed = await server.mcp.call('analyze_pcap_file', {
        source: 'drill',
        displayFilter: 'http.request',
      });
      assert.equal(resultBody(listed.text).split('\n').length, traffic.httpPaths.length);
      const followed = await server.mcp.call('follow_stream', {
        source: 'drill',
        protocol: 'http',
        between: `${await clientOf(server.mcp, traffic.httpPort)},${traffic.httpHost}:${traffic.httpPort}`,
      });
      assert.equal(followed.isError, false, followed.text);
      assert.match(followed.text, /GET \/alpha HTTP\/1\.1/);
      const tls = await server.mcp.call('follow_stream', {
        source: 'drill',
        protocol: 'tls',
        stream: await tlsStreamOf(server.mcp, traffic.tlsPort),
        sslKeylogFile: traffic.keylog,
      });
      assert.match(tls.text, /GET \/hidden\/path\?token=42 HTTP\/1\.1/);
      assert.match(tls.text, /secret answer for \/hidden\/path\?token=42/);
    } finally {
      await traffic.close();
    }
  });
});

/** The client end (address:port) of the first connection to `serverPort`. */
async function clientOf(mcp: ReturnType<typeof useServer>['mcp'], serverPort: number): Promise<string> {
  const answer = await mcp.call('analyze_pcap_file', {
    source: 'drill',
    displayFilter: `tcp.dstport == ${serverPort} && tcp.flags.syn == 1`,
    outputFormat: 'fields',
    customFields: 'ip.src,tcp.srcport',
    limit: 1,
  });
  return resultBody(answer.text).trim().replace('\t', ':');
}

async function tlsStreamOf(mcp: ReturnType<typeof useServer>['mcp'], tlsPort: number): Promise<number> {
  const answer = await mcp.call('analyze_pcap_file', {
    source: 'drill',
    displayFilter: `tcp.port == ${tlsPort}`,
    outputFormat: 'fields',
    customFields: 'tcp.stream',
    limit: 1,
  });
  return Number(resultBody(answer.text).trim());
}
