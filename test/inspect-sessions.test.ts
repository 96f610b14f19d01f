// inspect_protocol's smb, quic, tls and tcp_health digests through a real MCP client: TLS handshakes
// that servers on loopback reject, a reader that stops reading until its window shuts, and the SMB
// and QUIC captures of the corpus (skipped when ../shared is absent). Every expected value comes
// from tshark queried directly or from what the test itself did.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { NT_STATUS } from '../src/analysis/digests/smb-codes.js';
import { captureLoopback, requireCapture, tempDir } from './helpers/loopback-capture.js';
import { useServer } from './helpers/in-process.js';
import { corpus } from './helpers/paths.js';
import { tsharkFields } from './helpers/tshark.js';
import { makeCertificate } from './helpers/traffic.js';
import { inspectRows as rowsOf } from './helpers/digests.js';
import type { Rows } from './helpers/digests.js';

/** This file's loopback range: servers and clients bind here, captures keep to it. */
const CLIENT = '127.83.70.11';

const TLS_ALERT_NAMES: Record<string, string> = {
  '40': 'handshake_failure',
  '120': 'no_application_protocol',
};

describe('tls and tcp_health on traffic made here', () => {
  const server = useServer();
  let dir = '';
  before(async () => {
    dir = await tempDir();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('tls: the server address, and each fatal alert with its level and sender', async (t) => {
    if (!(await requireCapture(t))) return;
    const { key, cert } = await makeCertificate(dir);
    const hosts = { alpn: '127.83.70.1', clientCert: '127.83.70.2', good: '127.83.70.3' };
    const servers = await Promise.all(
      [
        // No protocol in common with the client: the server ends the handshake with a fatal alert.
        [hosts.alpn, { ALPNProtocols: ['h2'] }],
        // A client certificate required and none given (TLS 1.2, where the alert is in clear).
        [hosts.clientCert, { requestCert: true, rejectUnauthorized: true, maxVersion: 'TLSv1.2' }],
        [hosts.good, {}],
      ].map(
        ([host, options]) =>
          new Promise<tls.Server>((resolve, reject) => {
            const s = tls.createServer({ key, cert, ...(options as tls.TlsOptions) }, (c) =>
              c.on('data', (d: Buffer) => c.end(d)),
            );
            s.on('tlsClientError', () => undefined);
            s.once('error', reject);
            s.listen(443, host as string, () => resolve(s));
          }),
      ),
    );
    const connect = (host: string, options: tls.ConnectionOptions): Promise<string> =>
      new Promise((resolve) => {
        const s = tls.connect(
          {
            // From this file's own client address, so the capture filter keeps to this traffic.
            socket: net.connect({ host, port: 443, localAddress: CLIENT }),
            rejectUnauthorized: false,
            ...options,
          },
          () => {
            s.write('hello');
            s.on('data', () => s.end());
          },
        );
        s.on('error', (e: NodeJS.ErrnoException) => resolve(String(e.code)));
        s.on('close', () => resolve('closed'));
      });
    let outcomes: string[] = [];
    try {
      const file = await captureLoopback(dir, 'tls-alerts', `host ${CLIENT} and tcp port 443`, async () => {
        outcomes = [
          await connect(hosts.alpn, { servername: 'alpn.sharkmcp.test', ALPNProtocols: ['http/1.1'] }),
          await connect(hosts.clientCert, { servername: 'cert.sharkmcp.test' }),
          await connect(hosts.good, { servername: 'ok.sharkmcp.test' }),
        ];
      });
      assert.deepEqual(outcomes, [
        'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL',
        'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
        'closed',
      ]);
      const alerts = await tsharkFields(
        file,
        ['ip.src', 'tls.alert_message.level', 'tls.alert_message.desc'],
        {
          filter: 'tls.alert_message.desc',
        },
      );
      assert.equal(alerts.length, 2, 'tshark reads two alerts in clear');
      const { rows, aggregate } = await rowsOf(server.mcp, { source: file, kind: 'tls' });
      assert.deepEqual(
        rows.map((r) => [r['sni'], r['server']]),
        [
          ['alpn.sharkmcp.test', `${hosts.alpn}:443`],
          ['cert.sharkmcp.test', `${hosts.clientCert}:443`],
          ['ok.sharkmcp.test', `${hosts.good}:443`],
        ],
      );
      for (const [src, level, desc] of alerts) {
        const row = rows.find((r) => r['server'] === `${src ?? ''}:443`);
        assert.equal(level, '2', 'fatal');
        assert.match(
          String(row?.['alerts']),
          new RegExp(`^server fatal: ${TLS_ALERT_NAMES[desc ?? '']} \\(frame \\d+\\)$`),
        );
        assert.equal(row?.['outcome'], 'failed (alert from the server)');
      }
      assert.equal(
        rows[0]?.['version'],
        '(no server hello)',
        'rejected before its ServerHello: never a blank',
      );
      assert.equal(rows[2]?.['outcome'], 'established');
      assert.equal(rows[2]?.['alerts'], 'none');
      assert.match(
        aggregate,
        /alerts: server fatal: handshake_failure 1, server fatal: no_application_protocol 1;/,
      );
      assert.match(aggregate, /by outcome: failed \(alert from the server\) 2, established 1/);
    } finally {
      for (const s of servers) await new Promise((resolve) => s.close(resolve));
    }
  });

  it('tcp_health: a reader that stops reading shuts its window; how long it stayed shut', async (t) => {
    if (!(await requireCapture(t))) return;
    const host = '127.83.70.10';
    const PAUSE_MS = 600;
    const sink = net.createServer((s) => {
      // Reads nothing for a while: the receive buffer fills and the window drops to zero.
      s.pause();
      setTimeout(() => s.resume(), PAUSE_MS);
      s.on('data', () => undefined);
      s.on('end', () => s.end());
    });
    await new Promise<void>((resolve) => sink.listen(0, host, resolve));
    const port = (sink.address() as net.AddressInfo).port;
    try {
      const file = await captureLoopback(
        dir,
        'zero-window',
        `host ${host} and tcp port ${port}`,
        async () => {
          const c = net.connect({ host, port, localAddress: CLIENT });
          await new Promise((resolve) => c.once('connect', resolve));
          c.end(Buffer.alloc(8 * 1024 * 1024));
          await new Promise((resolve) => c.once('close', resolve));
        },
      );
      const zero = await tsharkFields(file, ['frame.number', 'frame.time_relative', 'ip.src'], {
        filter: 'tcp.analysis.zero_window',
      });
      const full = await tsharkFields(file, ['frame.number'], { filter: 'tcp.analysis.window_full' });
      assert.ok(zero.length > 0, 'the sink announced a zero window');
      assert.ok(
        zero.every((z) => z[2] === host),
        'the sink (server) is the side that shut its window',
      );
      // The first period: from the first zero window to the sink's next segment with room.
      const [firstFrame, firstTime] = zero[0] as [string, string];
      const [[reopenFrame, reopenTime]] = (await tsharkFields(file, ['frame.number', 'frame.time_relative'], {
        filter: `ip.src == ${host} && tcp.window_size > 0 && frame.number > ${firstFrame}`,
      })) as [[string, string]];
      const shutMs = Math.round((Number(reopenTime) - Number(firstTime)) * 1e6) / 1e3;
      assert.ok(shutMs > PAUSE_MS / 4, `the window stayed shut while the sink did not read (${shutMs} ms)`);

      const { rows, aggregate } = await rowsOf(server.mcp, { source: file, kind: 'tcp_health' });
      assert.equal(rows.length, 1);
      const row = rows[0] ?? {};
      assert.equal(row['client'], `${CLIENT}:${String(row['client']).split(':')[1]}`);
      assert.equal(row['server'], `${host}:${port}`);
      assert.equal(row['zeroWindows'], zero.length);
      assert.equal(row['windowFull'], full.length);
      assert.ok(full.length > 0, 'the client filled the window');
      assert.match(
        String(row['zeroWindowShut']),
        new RegExp(`^server frame ${firstFrame}: ${shutMs} ms, reopened frame ${reopenFrame}(;|$)`),
      );
      assert.ok(Number(row['longestShutMs']) >= shutMs);
      assert.match(aggregate, /zero windows 1 \(longest shut [\d.]+ ms\), window full 1/);
    } finally {
      await new Promise((resolve) => sink.close(resolve));
    }
  });
});

describe('tcp_health on the corpus', () => {
  const server = useServer();

  it('tells spurious retransmissions from real ones (ppa1e/ftp-crack)', async (t) => {
    const file = corpus('chrissanders-packets/ppa1e/ftp-crack.pcap');
    if (!file) return t.skip('../shared/captures is absent');
    const spurious = await tsharkFields(file, ['tcp.stream'], {
      filter: 'tcp.analysis.spurious_retransmission',
    });
    const real = await tsharkFields(file, ['tcp.stream'], {
      filter:
        '(tcp.analysis.retransmission || tcp.analysis.fast_retransmission) && !tcp.analysis.spurious_retransmission',
    });
    assert.ok(spurious.length > 0);
    const { rows, aggregate } = await rowsOf(server.mcp, { source: file, kind: 'tcp_health' });
    const sum = (c: string): number => rows.reduce((a, r) => a + Number(r[c]), 0);
    assert.equal(sum('spuriousRetransmissions'), spurious.length);
    assert.equal(sum('retransmissions'), real.length);
    const stream = Number(spurious[0]?.[0]);
    assert.equal(
      rows.find((r) => r['stream'] === stream)?.['spuriousRetransmissions'],
      spurious.filter((s) => Number(s[0]) === stream).length,
    );
    assert.match(aggregate, new RegExp(`spurious ones \\(data the peer already had\\) ${spurious.length}`));
  });

  it('tells segments the capture missed from gaps (http_espn), and times the zero window (tcp_zerowindowrecovery)', async (t) => {
    const espn = corpus('chrissanders-packets/http_espn.pcapng');
    const zw = corpus('chrissanders-packets/tcp_zerowindowrecovery.pcapng');
    if (!espn || !zw) return t.skip('../shared/captures is absent');
    const unseen = await tsharkFields(espn, ['tcp.stream'], { filter: 'tcp.analysis.ack_lost_segment' });
    const gaps = await tsharkFields(espn, ['tcp.stream'], { filter: 'tcp.analysis.lost_segment' });
    const { rows, aggregate } = await rowsOf(server.mcp, { source: espn, kind: 'tcp_health' });
    const row = rows.find((r) => r['stream'] === Number(unseen[0]?.[0]));
    assert.equal(row?.['ackedUnseen'], unseen.filter((u) => u[0] === unseen[0]?.[0]).length);
    assert.equal(
      rows.reduce((a, r) => a + Number(r['lostSegments']), 0),
      gaps.length,
    );
    assert.match(
      aggregate,
      new RegExp(`ACKed but never captured ${unseen.length} \\(the capture missed them, not the network\\)`),
    );
    const times = await tsharkFields(zw, ['frame.number', 'frame.time_relative'], {
      filter: 'tcp.analysis.zero_window || tcp.analysis.window_update',
    });
    const [[shutAt, t0], [openAt, t1]] = times as [[string, string], [string, string]];
    const shutMs = Math.round((Number(t1) - Number(t0)) * 1e6) / 1e3;
    const health = await rowsOf(server.mcp, { source: zw, kind: 'tcp_health' });
    assert.equal(
      health.rows[0]?.['zeroWindowShut'],
      `client frame ${shutAt}: ${shutMs} ms, reopened frame ${openAt}`,
    );
  });
});

describe('smb on the corpus', () => {
  const server = useServer();

  it('smb2: tree connects, the file written with its bytes, the failed open with its NT status name', async (t) => {
    const file = corpus('zeek/testing/btest/Traces/smb/smb2.pcap');
    if (!file) return t.skip('../shared/captures is absent');
    const { rows, aggregate } = await rowsOf(server.mcp, { source: file, kind: 'smb' });
    const trees = await tsharkFields(file, ['frame.number', 'smb2.tree'], {
      filter: 'smb2.cmd == 3 && smb2.flags.response == 0',
    });
    assert.deepEqual(
      rows
        .filter((r) => r['op'] === 'tree connect')
        .map((r) => [String(r['frame']), r['share'], r['status']]),
      trees.map(([frame, share]) => [frame, share, 'STATUS_SUCCESS']),
    );
    // The failed CREATE: its response's status, named; the row is its request's frame.
    const [[msgId, status]] = (await tsharkFields(file, ['smb2.msg_id', 'smb2.nt_status'], {
      filter: 'smb2.cmd == 5 && smb2.flags.response == 1 && smb2.nt_status != 0',
    })) as [[string, string]];
    const [[requestFrame]] = (await tsharkFields(file, ['frame.number'], {
      filter: `smb2.cmd == 5 && smb2.flags.response == 0 && smb2.msg_id == ${msgId}`,
    })) as [[string]];
    const failed = rows.filter((r) => r['status'] !== 'STATUS_SUCCESS');
    assert.deepEqual(
      failed.map((r) => [String(r['frame']), r['op'], r['status']]),
      [[requestFrame, 'open', NT_STATUS[status]]],
    );
    assert.equal(status, '0xc0000035');
    // The file written: its name from the CREATE request, its bytes the sum of the WRITE responses on its id.
    const [[createId, fid]] = (await tsharkFields(file, ['smb2.msg_id', 'smb2.fid'], {
      filter: 'smb2.cmd == 5 && smb2.flags.response == 1 && smb2.create.action == 2',
    })) as [[string, string]];
    const [[name]] = (await tsharkFields(file, ['smb2.filename'], {
      filter: `smb2.cmd == 5 && smb2.flags.response == 0 && smb2.msg_id == ${createId}`,
    })) as [[string]];
    const written = rows.find((r) => r['file'] === name);
    const writes = await tsharkFields(file, ['smb2.msg_id'], {
      filter: `smb2.cmd == 9 && smb2.flags.response == 0 && smb2.fid == ${fid}`,
    });
    const counts = await tsharkFields(file, ['smb2.msg_id', 'smb2.write.count'], {
      filter: 'smb2.cmd == 9 && smb2.flags.response == 1',
    });
    const ids = new Set(writes.map((w) => w[0]));
    const bytes = counts.filter(([id]) => ids.has(id)).reduce((a, [, n]) => a + Number(n), 0);
    assert.equal(written?.['writes'], writes.length);
    assert.equal(written?.['writeBytes'], bytes);
    assert.match(String(written?.['detail']), /^created; closed frame \d+$/);
    const all = counts.reduce((a, [, n]) => a + Number(n), 0);
    assert.match(
      aggregate,
      new RegExp(
        `not successful 1 \\(STATUS_OBJECT_NAME_COLLISION 1\\); read \\d+ bytes, written ${all} bytes`,
      ),
    );
  });

  it('smb3: the encrypted session says its operations are unknown, and how many frames', async (t) => {
    const file = corpus('zeek/testing/btest/Traces/smb/smb3.pcap');
    if (!file) return t.skip('../shared/captures is absent');
    const encrypted = await tsharkFields(file, ['frame.number'], {
      filter: 'smb2.protocol_id == 0xfd534d42',
    });
    const { rows, aggregate } = await rowsOf(server.mcp, { source: file, kind: 'smb' });
    const row = rows.find((r) => r['op'] === 'encrypted');
    assert.equal(String(row?.['frame']), encrypted[0]?.[0]);
    assert.match(
      String(row?.['detail']),
      new RegExp(`^${encrypted.length} frames encrypted with SMB3 \\(no session key`),
    );
    assert.equal(row?.['file'], '(unknown)');
    assert.match(aggregate, /not read: encrypted 1/);
  });

  it('names NT status codes as tshark does', async () => {
    const { stdout } = await promisify(execFile)('tshark', ['-G', 'values'], {
      maxBuffer: 512 * 1024 * 1024,
    });
    const names = new Map<string, string>();
    for (const line of stdout.split('\n')) {
      const [type, field, value, name] = line.split('\t');
      if (type === 'V' && field === 'smb2.nt_status')
        names.set(`0x${Number(value).toString(16).padStart(8, '0')}`, name ?? '');
    }
    assert.ok(names.size > 100);
    for (const [code, name] of Object.entries(NT_STATUS)) assert.equal(name, names.get(code), code);
  });
});

describe('quic on the corpus', () => {
  const server = useServer();

  it('a Chrome connection: completed, chosen ALPN and close only with the keys, and said so without', async (t) => {
    const secrets = corpus('FoxIO-LLC-ja4/pcap/chrome-cloudflare-quic-with-secrets.pcapng');
    const bare = corpus('_derived/FoxIO-LLC-ja4/pcap/chrome-cloudflare-quic-with-secrets.nosecrets.pcapng');
    const keylog = corpus('_derived/FoxIO-LLC-ja4/pcap/chrome-cloudflare-quic-with-secrets.keylog.txt');
    if (!secrets || !bare || !keylog) return t.skip('../shared/captures is absent');
    const [[done]] = (await tsharkFields(secrets, ['frame.number'], { filter: 'quic.frame_type == 30' })) as [
      [string],
    ];
    const [[closeFrame, reason]] = (await tsharkFields(secrets, ['frame.number', 'quic.cc.reason_phrase'], {
      filter: 'quic.cc.reason_phrase',
    })) as [[string, string]];
    const [[sni, alpn]] = (await tsharkFields(
      bare,
      ['tls.handshake.extensions_server_name', 'tls.handshake.extensions_alpn_str'],
      {
        filter: 'quic && tls.handshake.type == 1',
      },
    )) as [[string, string]];
    const expected = {
      sni,
      alpnOffered: alpn,
      version: 'QUIC v1',
      alpn: 'h3',
      outcome: `completed (HANDSHAKE_DONE frame ${done})`,
      close: `by client: NO_ERROR "${reason}" (frame ${closeFrame})`,
    };
    const pick = (r: Rows[number] | undefined): Record<string, unknown> =>
      Object.fromEntries(Object.keys(expected).map((k) => [k, r?.[k]]));
    const embedded = await rowsOf(server.mcp, { source: secrets, kind: 'quic' });
    assert.equal(embedded.rows.length, 1);
    assert.deepEqual(pick(embedded.rows[0]), expected);
    const withKeylog = await rowsOf(server.mcp, { source: bare, kind: 'quic', sslKeylogFile: keylog });
    assert.deepEqual(pick(withKeylog.rows[0]), expected);
    const without = await rowsOf(server.mcp, { source: bare, kind: 'quic' });
    assert.deepEqual(pick(without.rows[0]), {
      ...expected,
      alpn: '(encrypted: no keylog)',
      outcome: 'completed (1-RTT packets from the client; encrypted: no keylog)',
      close: '(encrypted: no keylog)',
    });
    assert.match(without.aggregate, /1 not decrypted \(no keylog/);
  });

  it('handshakes cut after the Initial packets (tls-handshake) and one without keys (zeek curl)', async (t) => {
    const cut = corpus('FoxIO-LLC-ja4/pcap/tls-handshake.pcapng');
    const curl = corpus('zeek/testing/btest/Traces/quic/curl-8.1.2-dev-http3-www-google-de.pcap');
    if (!cut || !curl) return t.skip('../shared/captures is absent');
    const hellos = await tsharkFields(
      cut,
      ['quic.connection.number', 'tls.handshake.extensions_server_name'],
      {
        filter: 'quic && tls.handshake.type == 1',
      },
    );
    const { rows, aggregate } = await rowsOf(server.mcp, { source: cut, kind: 'quic' });
    assert.deepEqual(
      rows.map((r) => r['sni']),
      hellos.map((h) => h[1]),
    );
    assert.ok(rows.every((r) => r['outcome'] === 'incomplete: only Initial packets both ways'));
    assert.match(
      aggregate,
      new RegExp(`^${hellos.length} connections; by outcome: incomplete ${hellos.length};`),
    );
    const [[offered]] = (await tsharkFields(curl, ['tls.handshake.extensions_alpn_str'], {
      filter: 'tls.handshake.type == 1',
    })) as [[string]];
    const google = await rowsOf(server.mcp, { source: curl, kind: 'quic' });
    assert.equal(google.rows[0]?.['alpnOffered'], offered);
    assert.equal(google.rows[0]?.['alpn'], '(encrypted: no keylog)');
  });
});
