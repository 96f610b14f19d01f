// inspect_protocol through a real MCP client on corpus captures (skipped when ../shared is absent)
// and on traffic made here; expected values from the MANIFEST or tshark queried directly. Then the
// row builders on recorded tshark output.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AGGREGATOR } from '../src/analysis/digests/fields.js';
import { buildRows, FIELD_DIGESTS } from '../src/analysis/digests/index.js';
import { parseRtpStreams } from '../src/analysis/digests/voip.js';
import { DNS_HOST, sharedMixedCapture } from './helpers/fixtures.js';
import { requireCapture } from './helpers/loopback-capture.js';
import { useServer } from './helpers/in-process.js';
import { corpus } from './helpers/paths.js';
import { tsharkFields } from './helpers/tshark.js';
import { inspectRows as rowsOf } from './helpers/digests.js';

describe('inspect_protocol on the corpus', () => {
  const server = useServer();

  it('http: every request of http_espn, with its status', async (t) => {
    const file = corpus('chrissanders-packets/http_espn.pcapng');
    if (!file) return t.skip('../shared/captures is absent');
    const { rows, text } = await rowsOf(server.mcp, { source: file, kind: 'http' });
    const expected = await tsharkFields(file, ['frame.number', 'http.host', 'http.request.uri'], {
      filter: 'http.request',
    });
    assert.deepEqual(
      rows.map((r) => [String(r['frame']), r['host'], r['uri']]),
      expected,
    );
    const responses = await tsharkFields(file, ['http.request_in', 'http.response.code'], {
      filter: 'http.response',
    });
    for (const [requestFrame, code] of responses) {
      const row = rows.find((r) => String(r['frame']) === requestFrame);
      assert.match(String(row?.['status']), new RegExp(`^${code} `));
    }
    assert.match(
      text,
      /^frame\tstream\tclient\tserver\tcommunityId\tversion\tmethod\thost\turi\tstatus\tresponseMs\trequestBytes\tresponseBytes\tresponseFrame\tnote$/m,
    );
  });

  it('dns: the NXDOMAIN of dns_query_nonexistent', async (t) => {
    const file = corpus('chrissanders-packets/dns_query_nonexistent.pcapng');
    if (!file) return t.skip('../shared/captures is absent');
    const [[name]] = (await tsharkFields(file, ['dns.qry.name'], { filter: 'dns.flags.response == 0' })) as [
      [string],
    ];
    const { rows } = await rowsOf(server.mcp, { source: file, kind: 'dns' });
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.['query'], name);
    assert.equal(rows[0]?.['type'], 'A');
    assert.equal(rows[0]?.['rcode'], 'NXDOMAIN');
  });

  it('tls: the SNI of every ClientHello of tls-handshake', async (t) => {
    const file = corpus('FoxIO-LLC-ja4/pcap/tls-handshake.pcapng');
    if (!file) return t.skip('../shared/captures is absent');
    const expected = await tsharkFields(file, ['frame.number', 'tls.handshake.extensions_server_name'], {
      filter: 'tls.handshake.type == 1',
    });
    const { rows } = await rowsOf(server.mcp, { source: file, kind: 'tls' });
    assert.equal(rows.length, 84, 'the MANIFEST: 84 ClientHellos');
    assert.deepEqual(
      rows.map((r) => [String(r['frame']), r['sni']]),
      expected,
    );
    assert.ok(
      rows.every((r) => !/0x.a.a/.test(String(r['versionsOffered']))),
      'GREASE values are left out',
    );
  });

  it('tcp_health: the retransmissions of tcp_retransmissions', async (t) => {
    const file = corpus('chrissanders-packets/tcp_retransmissions.pcapng');
    if (!file) return t.skip('../shared/captures is absent');
    const retransmitted = await tsharkFields(file, ['frame.number'], {
      filter: 'tcp.analysis.retransmission',
    });
    const { rows } = await rowsOf(server.mcp, { source: file, kind: 'tcp_health' });
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.['retransmissions'], retransmitted.length);
    assert.ok(retransmitted.length > 0);
  });

  it('credentials: the FTP user of ppa1e/ftp.pcap, its password redacted unless reveal', async (t) => {
    const file = corpus('chrissanders-packets/ppa1e/ftp.pcap');
    if (!file) return t.skip('../shared/captures is absent');
    const [[user]] = (await tsharkFields(file, ['ftp.request.arg'], {
      filter: 'ftp.request.command == "USER"',
    })) as [[string]];
    const [[password]] = (await tsharkFields(file, ['ftp.request.arg'], {
      filter: 'ftp.request.command == "PASS"',
    })) as [[string]];
    const redacted = await rowsOf(server.mcp, { source: file, kind: 'credentials' });
    assert.equal(redacted.rows[0]?.['username'], user);
    assert.equal(redacted.rows[0]?.['protocol'], 'FTP');
    assert.ok(!redacted.text.includes(password), 'the password is not in the answer');
    assert.match(String(redacted.rows[0]?.['secret']), /^\[redacted, \d+ characters\]$/);
    const revealed = await rowsOf(server.mcp, { source: file, kind: 'credentials', reveal: true });
    assert.equal(revealed.rows[0]?.['secret'], password);
  });

  it('credentials: the Telnet login of ppa1e/telnet.pcap (the MANIFEST: fake/user)', async (t) => {
    const file = corpus('chrissanders-packets/ppa1e/telnet.pcap');
    if (!file) return t.skip('../shared/captures is absent');
    const redacted = await rowsOf(server.mcp, { source: file, kind: 'credentials' });
    assert.deepEqual(
      redacted.rows.map((r) => [r['protocol'], r['username'], r['secret']]),
      [['Telnet', 'fake', '[redacted, 4 characters]']],
    );
    const revealed = await rowsOf(server.mcp, { source: file, kind: 'credentials', reveal: true });
    assert.equal(revealed.rows[0]?.['secret'], 'user');
  });

  it('voip: the three RTP streams and the SIP calls of the heplify capture', async (t) => {
    const file = corpus('sipcapture-heplify/example/pcap/rtp_rtcp_sip_ipv4_udp.pcap');
    if (!file) return t.skip('../shared/captures is absent');
    const { rows } = await rowsOf(server.mcp, { source: file, kind: 'voip' });
    const rtp = rows.filter((r) => r['kind'] === 'rtp');
    assert.equal(rtp.length, 3);
    const ssrcs = new Set((await tsharkFields(file, ['rtp.ssrc'], { filter: 'rtp' })).map((r) => r[0]));
    assert.deepEqual(
      new Set(rtp.map((r) => String(r['id']).toLowerCase())),
      new Set([...ssrcs].map((s) => s?.toLowerCase())),
    );
    const calls = new Set((await tsharkFields(file, ['sip.Call-ID'], { filter: 'sip' })).map((r) => r[0]));
    assert.equal(rows.filter((r) => r['kind'] === 'sip').length, calls.size);
  });

  it('dhcp and icmp: a lease, and echo replies with their round trip', async (t) => {
    const dhcpFile = corpus('FoxIO-LLC-ja4/pcap/dhcp.pcapng');
    const icmpFile = corpus('chrissanders-packets/icmp_echo.pcapng');
    if (!dhcpFile || !icmpFile) return t.skip('../shared/captures is absent');
    const [[leased]] = (await tsharkFields(dhcpFile, ['dhcp.ip.your'], {
      filter: 'dhcp.option.dhcp == 5',
    })) as [[string]];
    const dhcp = await rowsOf(server.mcp, { source: dhcpFile, kind: 'dhcp' });
    assert.equal(dhcp.rows[0]?.['messages'], 'DISCOVER → OFFER → REQUEST → ACK');
    assert.equal(dhcp.rows[0]?.['outcome'], `leased ${leased}`);
    const replies = await tsharkFields(icmpFile, ['icmp.resptime'], { filter: 'icmp.type == 0' });
    const icmp = await rowsOf(server.mcp, { source: icmpFile, kind: 'icmp' });
    assert.deepEqual(
      icmp.rows.map((r) => r['rttMs']),
      replies.map((r) => Number(r[0])),
    );
    assert.ok(icmp.rows.every((r) => r['outcome'] === 'reply'));
  });
});

describe('inspect_protocol on traffic made here', () => {
  const server = useServer();

  it('lists the HTTP requests, the DNS answer and the TLS handshake of a loopback capture', async (t) => {
    if (!(await requireCapture(t))) return;
    const c = await sharedMixedCapture();
    const http = await rowsOf(server.mcp, { source: c.file, kind: 'http' });
    assert.deepEqual(
      http.rows.map((r) => [r['server'], r['method'], r['uri'], r['status']]),
      c.httpPaths.map((p) => [`${c.httpHost}:${c.httpPort}`, 'GET', p, '200 OK']),
    );
    const decrypted = await rowsOf(server.mcp, { source: c.file, kind: 'http', sslKeylogFile: c.keylog });
    assert.ok(
      decrypted.rows.some((r) => r['uri'] === c.tlsPath),
      'the decrypted request is listed',
    );
    const dns = await rowsOf(server.mcp, { source: c.file, kind: 'dns' });
    assert.deepEqual(
      dns.rows.map((r) => [r['server'], r['query'], r['rcode'], r['answers'], r['retransmissions']]),
      [[DNS_HOST, c.dnsName, 'NOERROR', c.dnsAnswer, 0]],
    );
    const tls = await rowsOf(server.mcp, { source: c.file, kind: 'tls' });
    assert.equal(tls.rows.length, 1);
    assert.equal(tls.rows[0]?.['version'], 'TLS 1.3');
    assert.equal(tls.rows[0]?.['outcome'], 'established');
    const health = await rowsOf(server.mcp, { source: c.file, kind: 'tcp_health' });
    assert.equal(health.rows.length, c.httpPaths.length + 1);
    assert.ok(health.rows.every((r) => r['retransmissions'] === 0));
  });
});

describe('row builders on recorded output', () => {
  const U = AGGREGATOR;
  /** `-T fields` output of a field digest from each packet's fields by name (the others empty). */
  const output = (kind: 'dns' | 'http', packets: Record<string, string>[]): string =>
    packets.map((p) => FIELD_DIGESTS[kind].fields.map((f) => p[f] ?? '').join('\t')).join('\n');

  it('pairs a DNS query with its response (recorded from dns_query_nonexistent)', () => {
    const common = { 'dns.id': '0xf23f', 'dns.qry.name': '12498283719301382971974.net', 'dns.qry.type': '1' };
    const fields = output('dns', [
      {
        ...common,
        'frame.number': '1',
        'frame.time_relative': '0.000000000',
        'ip.src': '172.16.16.170',
        'ip.dst': '8.8.8.8',
        'dns.flags.response': '0',
        'dns.count.answers': '0',
      },
      {
        ...common,
        'frame.number': '2',
        'frame.time_relative': '0.029678000',
        'ip.src': '8.8.8.8',
        'ip.dst': '172.16.16.170',
        'dns.flags.response': '1',
        'dns.flags.rcode': '3',
        'dns.count.answers': '0',
        'dns.resp.type': '6',
        'dns.soa.mname': 'a.gtld-servers.net',
        'dns.time': '0.029678000',
        'dns.response_to': '1',
      },
    ]);
    const rows = buildRows('dns', fields, { reveal: false });
    assert.deepEqual(rows, [
      {
        frame: 1,
        client: '172.16.16.170',
        server: '8.8.8.8',
        query: '12498283719301382971974.net',
        type: 'A',
        rcode: 'NXDOMAIN',
        answers: '(no records)',
        responseMs: 29.678,
        retransmissions: 0,
      },
    ]);
  });

  it('joins the answers of one response, each type read from its own fields, in order', () => {
    const q = {
      'dns.id': '0x1',
      'dns.qry.name': 'example.test',
      'dns.qry.type': '1',
      'ip.src': '10.0.0.1',
      'ip.dst': '10.0.0.53',
    };
    const fields = output('dns', [
      { ...q, 'frame.number': '7', 'frame.time_relative': '0.1', 'dns.flags.response': '0' },
      {
        ...q,
        'frame.number': '8',
        'frame.time_relative': '0.2',
        'ip.src': '10.0.0.53',
        'ip.dst': '10.0.0.1',
        'dns.flags.response': '1',
        'dns.flags.rcode': '0',
        // Five answers, then an authority NS and an additional A (glue) that are not answers.
        'dns.count.answers': '5',
        'dns.resp.type': ['5', '1', '15', '1', '99', '2', '1'].join(U),
        'dns.cname': 'alias.test',
        'dns.a': ['1.2.3.4', '5.6.7.8', '9.9.9.9'].join(U),
        'dns.mx.preference': '10',
        'dns.mx.mail_exchange': 'mail.test',
        'dns.ns': 'ns.test',
        'dns.time': '0.1',
        'dns.response_to': '7',
      },
    ]);
    const [row] = buildRows('dns', fields, { reveal: false });
    assert.equal(
      row?.['answers'],
      'alias.test, 1.2.3.4, MX 10 mail.test, 5.6.7.8, type 99 (unparsed, frame 8)',
    );
  });

  it('makes one row of an upload whose 100 Continue tshark read before the request (recorded from curl)', () => {
    const c = {
      'tcp.stream': '0',
      'ip.src': '127.0.0.1',
      'ip.dst': '127.83.40.11',
      'tcp.srcport': '35154',
      'tcp.dstport': '80',
    };
    const s = {
      ...c,
      'ip.src': c['ip.dst'],
      'ip.dst': c['ip.src'],
      'tcp.srcport': '80',
      'tcp.dstport': '35154',
    };
    const fields = output('http', [
      { ...s, 'frame.number': '6', 'http.response.code': '100', 'http.response.phrase': 'Continue' },
      {
        ...c,
        'frame.number': '8',
        'http.request.method': 'POST',
        'http.host': '127.83.40.11',
        'http.request.uri': '/upload',
        'http.content_length': '5000',
      },
      {
        ...s,
        'frame.number': '9',
        'http.response.code': '201',
        'http.response.phrase': 'Created',
        'http.request_in': '8',
        'http.time': '0.007556499',
        'http.content_length': '8',
      },
    ]);
    assert.deepEqual(buildRows('http', fields, { reveal: false }), [
      {
        frame: 8,
        stream: 0,
        client: '127.0.0.1:35154',
        server: '127.83.40.11:80',
        version: 'HTTP/1.x',
        method: 'POST',
        host: '127.83.40.11',
        uri: '/upload',
        status: '100 Continue → 201 Created',
        responseMs: 7.556,
        requestBytes: 5000,
        responseBytes: 8,
        responseFrame: 9,
        note: '',
      },
    ]);
  });

  it('reads -z rtp,streams (recorded from the heplify capture)', () => {
    const text = [
      '========================= RTP Streams ========================',
      '   Start time      End time     Src IP addr  Port    Dest IP addr  Port       SSRC          Payload  Pkts         Lost   Min Delta(ms)  Mean Delta(ms)   Max Delta(ms)  Min Jitter(ms) Mean Jitter(ms)  Max Jitter(ms) Problems?',
      '    24.615834     24.725876    200.57.7.202 30000    200.57.7.196 40362 0x00002E3D            g711A     6     0 (0.0%)          19.805          22.008          30.043           0.012           0.257           0.639 ',
      '     8.479371     32.603426    200.57.7.204  8000    200.57.7.196 40376 0xD2BD4E3E            g711A   548     3 (0.5%)           0.159          44.102        5843.742           0.388           2.517           7.407 X',
      '==============================================================',
    ].join('\n');
    const rows = parseRtpStreams(text);
    assert.equal(rows.length, 2);
    assert.deepEqual(rows[1], {
      kind: 'rtp',
      frame: null,
      id: '0xD2BD4E3E',
      from: '200.57.7.204:8000',
      to: '200.57.7.196:40376',
      requestUri: null,
      client: null,
      server: null,
      start: 8.479371,
      end: 32.603426,
      final: null,
      detail: 'g711A, problem: X',
      packets: 548,
      lost: 3,
      lossPct: 0.5,
      maxJitterMs: 7.407,
      meanJitterMs: 2.517,
      call: null,
    });
  });
});

describe('the digest index', () => {
  it('files each digest under its own kind, and describes every kind', async () => {
    const { FIELD_DIGESTS, INSPECT_KINDS, KIND_DESCRIPTION } =
      await import('../src/analysis/digests/index.js');
    for (const [kind, digest] of Object.entries(FIELD_DIGESTS)) assert.equal(digest.kind, kind);
    for (const kind of INSPECT_KINDS) assert.match(KIND_DESCRIPTION, new RegExp(`(^| )${kind}: \\S`));
  });
});

describe('inspect_protocol: every kind on the corpus', () => {
  const server = useServer();
  // A capture of the corpus per kind, and the rows tshark says it has at least (its own count of
  // the kind's packets is an upper bound, so only "some rows" is checked against it).
  const CASES: Record<string, string> = {
    http: 'chrissanders-packets/http_espn.pcapng',
    dns: 'FoxIO-LLC-ja4/pcap/latest.pcapng',
    tls: 'FoxIO-LLC-ja4/pcap/tls-handshake.pcapng',
    tcp_health: 'chrissanders-packets/tcp_retransmissions.pcapng',
    credentials: 'chrissanders-packets/ppa1e/ftp.pcap',
    voip: 'sipcapture-heplify/example/pcap/rtp_rtcp_sip_ipv4_udp.pcap',
    dhcp: 'chrissanders-packets/dhcp_nolease_initialization.pcapng',
    icmp: 'chrissanders-packets/icmp_traceroute.pcapng',
    ftp: 'chrissanders-packets/ppa1e/ftp.pcap',
    smb: 'zeek/testing/btest/Traces/smb/smb2.pcap',
    quic: 'FoxIO-LLC-ja4/pcap/chrome-cloudflare-quic-with-secrets.pcapng',
  };

  it('opens each page with a line over all rows, and prints no blank cell', async (t) => {
    let checked = 0;
    for (const [kind, relative] of Object.entries(CASES)) {
      const file = corpus(relative);
      if (!file) continue;
      const { rows, text } = await rowsOf(server.mcp, { source: file, kind });
      assert.ok(rows.length > 0, `${kind}: rows from ${relative}`);
      const aggregate = text.match(/^All rows: (.+)$/m)?.[1];
      assert.ok(aggregate, `${kind}: the aggregate line`);
      assert.match(aggregate, /\d/, `${kind}: the aggregate line counts`);
      // The aggregate covers every row, not just the page: a one-row page says the same.
      const first = await server.mcp.call('inspect_protocol', { source: file, kind, limit: 1 });
      assert.match(
        first.text,
        new RegExp(`^All rows: ${aggregate.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'),
      );
      for (const line of text.split('\n').filter((l) => l.includes('\t'))) {
        assert.doesNotMatch(line, /(^|\t)(\t|$)/, `${kind}: a blank cell in ${JSON.stringify(line)}`);
      }
      checked++;
    }
    if (checked === 0) t.skip('../shared/captures is absent');
  });
});
