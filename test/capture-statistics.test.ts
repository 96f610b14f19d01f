// capture_statistics through a real MCP client, on traffic this file makes on loopback (HTTP
// requests from curl and Node's http client with different User-Agents, DNS queries to two test DNS
// servers, some answered NXDOMAIN) and on the corpus (skipped when ../shared is absent). Every
// expected value comes from what the test sent, from tshark's own -z io,stat, or from a direct
// tshark field dump.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type dgram from 'node:dgram';
import http from 'node:http';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { captureLoopback, captureUnavailable, requireCapture, tempDir } from './helpers/loopback-capture.js';
import { useServer } from './helpers/in-process.js';
import type { Session, ToolAnswer } from './helpers/mcp-client.js';
import { corpus } from './helpers/paths.js';
import { childPids } from './helpers/processes.js';
import { tsharkFields } from './helpers/tshark.js';
import {
  close,
  dnsServer,
  httpsGet,
  httpsServer,
  listen,
  makeCertificate,
  resolveA,
} from './helpers/traffic.js';

const run = promisify(execFile);

/** This file's loopback range: its servers and clients bind here, its captures keep to it. */
const HOSTS = {
  dns1: '127.83.110.1',
  dns2: '127.83.110.2',
  web: '127.83.110.10',
  tls: '127.83.110.11',
  client: '127.83.110.20',
};

type Rows = Record<string, string | number | null>[];

async function stats(mcp: Session, args: Record<string, unknown>): Promise<ToolAnswer & { rows: Rows }> {
  const answer = await mcp.call('capture_statistics', { topN: 1_000, maxChars: 200_000, ...args });
  assert.equal(answer.isError, false, answer.text);
  return { ...answer, rows: answer.structured?.['rows'] as Rows };
}

/** Rows as "key|key → value" for the columns named, for comparisons that ignore order. */
function table(rows: Rows, keys: readonly string[], value: string): Map<string, number | string | null> {
  return new Map(rows.map((r) => [keys.map((k) => String(r[k])).join('|'), r[value] ?? null]));
}

/** tshark's own "-z io,stat": per interval, Frames and Bytes of each filter column. */
async function ioStat(
  file: string,
  interval: number,
  filters: readonly string[],
): Promise<{ frames: number[]; bytes: number[] }[]> {
  const { stdout } = await run('tshark', [
    '-r',
    file,
    '-q',
    '-z',
    `io,stat,${interval},${filters.join(',')}`,
  ]);
  const rows = stdout
    .split('\n')
    .filter((l) => l.includes('<>'))
    .map((l) =>
      l
        .split('|')
        .slice(2, -1)
        .map((c) => Number(c.trim())),
    );
  return filters.map((_f, i) => ({
    frames: rows.map((r) => r[2 * i] ?? NaN),
    bytes: rows.map((r) => r[2 * i + 1] ?? NaN),
  }));
}

/** Nearest-rank percentile, as the answer documents it. */
function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? NaN;
}

/** A time series per group's lines, as structuredContent gives them. */
type Line = {
  line: string;
  group: Record<string, string> | null;
  groups: number;
  totals: Record<string, number>;
};

/**
 * Checks each line's packets and bytes per second (metrics count and sum:frame.len, interval 1)
 * against tshark's own -z io,stat, one filter a line; the last filter given is the whole capture's,
 * which the lines must add up to. Returns nothing; fails on the first difference.
 */
async function checkLines(file: string, rows: Rows, filters: readonly string[], all: string): Promise<void> {
  const io = await ioStat(file, 1, [...filters, all]);
  assert.equal(rows.length, io[0]?.frames.length, 'as many buckets as tshark');
  const sum = (r: Rows[number], metric: string): number =>
    filters.reduce((n, _f, i) => n + Number(r[`#${i + 1} ${metric}`] ?? 0), 0);
  filters.forEach((f, i) => {
    assert.deepEqual(
      rows.map((r) => r[`#${i + 1} count`]),
      io[i]?.frames,
      `packets per second of line #${i + 1} (${f})`,
    );
    assert.deepEqual(
      rows.map((r) => r[`#${i + 1} sum:frame.len`] ?? 0),
      io[i]?.bytes,
      `bytes per second of line #${i + 1} (${f})`,
    );
  });
  const whole = io[filters.length];
  assert.deepEqual(
    rows.map((r) => sum(r, 'count')),
    whole?.frames,
    'the lines add up to every packet',
  );
  assert.deepEqual(
    rows.map((r) => sum(r, 'sum:frame.len')),
    whole?.bytes,
    'the lines add up to every byte',
  );
}

/** tshark filters for lines by ip.src: one a source given, then one for every other source when `rest`. */
const bySource = (all: string, top: readonly string[], rest: boolean): string[] => [
  ...top.map((src) => `${all} && ip.src == ${src}`),
  ...(rest ? [`${all} && ${top.map((src) => `ip.src != ${src}`).join(' && ')}`] : []),
];

const near = (actual: unknown, expected: number, what: string): void =>
  assert.ok(Math.abs(Number(actual) - expected) < 1e-8, `${what}: ${String(actual)} vs ${expected}`);

describe('capture_statistics on HTTP and DNS made here', () => {
  const server = useServer();
  let dir = '';
  let file = '';
  // What the traffic sent: User-Agent (or none) per request, and each DNS query's name and server.
  const userAgents: (string | undefined)[] = [];
  const queries: { name: string; server: string; nxdomain: boolean }[] = [];
  /** Paths requested over HTTPS, whose secrets are in `keylog`. */
  const tlsPaths = ['/secret/one', '/secret/two', '/secret/two'];
  let keylog = '';

  before(async () => {
    dir = await tempDir();
    if ((await captureUnavailable()) !== undefined) return;
    const web = http.createServer((req, res) => res.end(`hello ${req.url ?? ''}`));
    await listen(web, HOSTS.web, 80);
    keylog = `${dir}/keylog.txt`;
    await writeFile(keylog, '');
    const secure = httpsServer(await makeCertificate(dir), keylog, (req, res) =>
      res.end(`hi ${req.url ?? ''}`),
    );
    await listen(secure, HOSTS.tls, 443);
    let nxdomain = false;
    const dns: dgram.Socket[] = [];
    for (const host of [HOSTS.dns1, HOSTS.dns2])
      dns.push((await dnsServer(host, 53, '10.83.110.5', () => nxdomain)).socket);
    const curl = async (agent: string, path: string): Promise<void> => {
      await run('curl', [
        '-s',
        '-o',
        '/dev/null',
        '--interface',
        HOSTS.client,
        '-A',
        agent,
        `http://${HOSTS.web}${path}`,
      ]);
      userAgents.push(agent);
    };
    const node = async (agent: string | undefined, path: string): Promise<void> => {
      await new Promise<void>((resolve, reject) => {
        http
          .get(
            {
              host: HOSTS.web,
              port: 80,
              path,
              agent: false,
              localAddress: HOSTS.client,
              headers: agent === undefined ? {} : { 'User-Agent': agent },
            },
            (res) => res.resume().on('end', resolve),
          )
          .on('error', reject);
      });
      userAgents.push(agent);
    };
    const query = async (serverHost: string, name: string, fails: boolean): Promise<void> => {
      nxdomain = fails;
      await resolveA(serverHost, 53, name).catch(() => []);
      queries.push({ name, server: serverHost, nxdomain: fails });
    };
    try {
      file = await captureLoopback(dir, 'stats', 'net 127.83.110.0/24', async () => {
        await curl('curl-stats/1', '/a');
        await curl('curl-stats/1', '/a');
        await node('node-stats/2', '/b');
        await node(undefined, '/c');
        await query(HOSTS.dns1, 'a.stats.test', false);
        await query(HOSTS.dns1, 'a.stats.test', false);
        await query(HOSTS.dns1, 'missing.stats.test', true);
        await query(HOSTS.dns2, 'b.stats.test', false);
        await query(HOSTS.dns2, 'missing.stats.test', true);
        // A second and a bit later, so a per-second series has two busy buckets.
        await delay(1_300);
        await curl('curl-stats/1', '/d');
        await node('node-stats/2', '/e');
        await node('node-stats/2', '/e');
        await query(HOSTS.dns1, 'a.stats.test', false);
        for (const p of tlsPaths) await httpsGet(443, p, false, HOSTS.tls);
      });
    } finally {
      await close(web);
      await close(secure);
      for (const s of dns) await new Promise<void>((resolve) => s.close(() => resolve()));
    }
    // Only packets captured whole count: dumpcap might in theory lose some, and the test then says so.
    const requests = await tsharkFields(file, ['frame.number'], { filter: 'http.request' });
    assert.equal(requests.length, userAgents.length, 'every HTTP request the test made was captured');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('which User-Agents and how many requests each, a request without one under "(none)"', async (t) => {
    if (!(await requireCapture(t))) return;
    const a = await stats(server.mcp, {
      source: file,
      displayFilter: 'http.request',
      groupBy: ['http.user_agent'],
    });
    const expected = new Map<string, number>();
    for (const ua of userAgents) expected.set(ua ?? '(none)', (expected.get(ua ?? '(none)') ?? 0) + 1);
    assert.deepEqual(table(a.rows, ['http.user_agent'], 'count'), expected);
    // Ordered by count, most first; the totals cover every request.
    const counts = a.rows.map((r) => Number(r['count']));
    assert.deepEqual(
      counts,
      [...counts].sort((x, y) => y - x),
    );
    assert.equal(a.structured?.['packets'], userAgents.length);
    assert.match(a.text, /curl-stats\/1\t3\n/);
  });

  it('topN shows the first groups, totals still cover all, and the "more" call shows the rest', async (t) => {
    if (!(await requireCapture(t))) return;
    const args = {
      source: file,
      displayFilter: 'http.request',
      groupBy: ['http.user_agent'],
      orderBy: 'http.user_agent',
    };
    const first = await server.mcp.call('capture_statistics', { ...args, topN: 1 });
    assert.equal(first.isError, false, first.text);
    assert.equal((first.structured?.['rows'] as Rows).length, 1);
    assert.equal((first.structured?.['totals'] as Record<string, number>)['count'], userAgents.length);
    assert.equal(first.structured?.['total'], 3);
    const more = /; more: capture_statistics (\{.*\})$/m.exec(first.text)?.[1];
    assert.ok(more, first.text);
    const second = await server.mcp.call('capture_statistics', JSON.parse(more) as Record<string, unknown>);
    const [row] = second.structured?.['rows'] as Rows;
    // Ascending by User-Agent, "(none)" last: the second group is node's.
    assert.equal(row?.['http.user_agent'], 'node-stats/2');
  });

  it('queries per name with their rcodes', async (t) => {
    if (!(await requireCapture(t))) return;
    const a = await stats(server.mcp, {
      source: file,
      displayFilter: 'dns.flags.response == 1',
      groupBy: ['dns.qry.name', 'dns.flags.rcode'],
    });
    const expected = new Map<string, number>();
    for (const q of queries) {
      const key = `${q.name}|${q.nxdomain ? 3 : 0}`;
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    assert.deepEqual(table(a.rows, ['dns.qry.name', 'dns.flags.rcode'], 'count'), expected);
  });

  it('average, median and largest DNS response time per server, against a field dump', async (t) => {
    if (!(await requireCapture(t))) return;
    const a = await stats(server.mcp, {
      source: file,
      displayFilter: 'dns',
      groupBy: ['ip.src'],
      metrics: ['count', 'avg:dns.time', 'p50:dns.time', 'max:dns.time'],
    });
    const dump = await tsharkFields(file, ['ip.src', 'dns.time'], { filter: 'dns' });
    const bySource = new Map<string, { count: number; times: number[] }>();
    for (const [src = '', time = ''] of dump) {
      const e = bySource.get(src) ?? { count: 0, times: [] };
      e.count++;
      if (time !== '') e.times.push(Number(time));
      bySource.set(src, e);
    }
    assert.equal(a.rows.length, bySource.size);
    for (const row of a.rows) {
      const e = bySource.get(String(row['ip.src']));
      assert.ok(e, `a group tshark does not show: ${String(row['ip.src'])}`);
      assert.equal(row['count'], e.count);
      if (e.times.length === 0) {
        // The clients' queries carry no response time: no value, not zero.
        assert.equal(row['avg:dns.time'], null);
        continue;
      }
      near(row['avg:dns.time'], e.times.reduce((s, x) => s + x, 0) / e.times.length, 'avg');
      near(row['p50:dns.time'], percentile(e.times, 0.5), 'p50');
      near(row['max:dns.time'], Math.max(...e.times), 'max');
    }
    // Both servers answered: each has its row with as many times as it answered queries.
    for (const host of [HOSTS.dns1, HOSTS.dns2]) {
      assert.equal(bySource.get(host)?.times.length, queries.filter((q) => q.server === host).length);
    }
  });

  it('a metric counts only the packets that have its field, and the cell says how many (n=)', async (t) => {
    if (!(await requireCapture(t))) return;
    const a = await stats(server.mcp, {
      source: file,
      displayFilter: 'dns',
      groupBy: ['dns.qry.name'],
      metrics: ['count', 'avg:dns.time'],
    });
    for (const name of new Set(queries.map((q) => q.name))) {
      const asked = queries.filter((q) => q.name === name).length;
      const row = a.rows.find((r) => r['dns.qry.name'] === name);
      // Each query and its response: twice the packets, half of them with a response time.
      assert.equal(row?.['count'], 2 * asked);
      assert.match(
        a.text,
        new RegExp(`^${name.replace(/\./g, '\\.')}\t${2 * asked}\t[\\d.e-]+ \\(n=${asked}\\)$`, 'm'),
      );
    }
  });

  it('bytes per host per port, and totals over all packets', async (t) => {
    if (!(await requireCapture(t))) return;
    const a = await stats(server.mcp, {
      source: file,
      displayFilter: 'tcp',
      groupBy: ['ip.dst', 'tcp.dstport'],
      metrics: ['count', 'sum:frame.len'],
      orderBy: 'sum:frame.len desc',
    });
    const dump = await tsharkFields(file, ['ip.dst', 'tcp.dstport', 'frame.len'], { filter: 'tcp' });
    const expected = new Map<string, number>();
    for (const [dst, port, len] of dump)
      expected.set(`${dst}|${port}`, (expected.get(`${dst}|${port}`) ?? 0) + Number(len));
    assert.deepEqual(table(a.rows, ['ip.dst', 'tcp.dstport'], 'sum:frame.len'), expected);
    const sums = a.rows.map((r) => Number(r['sum:frame.len']));
    assert.deepEqual(
      sums,
      [...sums].sort((x, y) => y - x),
    );
    const totals = a.structured?.['totals'] as Record<string, number>;
    assert.equal(totals['count'], dump.length);
    assert.equal(
      totals['sum:frame.len'],
      dump.reduce((s, r) => s + Number(r[2]), 0),
    );
  });

  it('requests and queries per second, side by side, as tshark -z io,stat counts them', async (t) => {
    if (!(await requireCapture(t))) return;
    const series = ['http.request', 'dns.flags.response == 0'];
    const a = await stats(server.mcp, {
      source: file,
      interval: 1,
      series,
      metrics: ['count', 'sum:frame.len'],
    });
    const io = await ioStat(file, 1, series);
    assert.equal(a.rows.length, io[0]?.frames.length);
    series.forEach((_s, i) => {
      assert.deepEqual(
        a.rows.map((r) => r[`#${i + 1} count`]),
        io[i]?.frames,
        `counts of series ${i + 1}`,
      );
      assert.deepEqual(
        a.rows.map((r) => r[`#${i + 1} sum:frame.len`] ?? 0),
        io[i]?.bytes,
        `bytes of series ${i + 1}`,
      );
    });
    assert.ok(
      a.rows.filter((r) => Number(r['#1 count']) > 0).length >= 2,
      'requests in two seconds at least',
    );
    assert.equal(a.structured?.['packets'], userAgents.length + queries.length);
    // Each series' own totals beside its filter; the sum of them is not called "packets matched".
    series.forEach((f, i) => {
      const frames = (io[i]?.frames ?? []).reduce((x, y) => x + y, 0);
      const bytes = (io[i]?.bytes ?? []).reduce((x, y) => x + y, 0);
      assert.ok(
        a.text.includes(`Series #${i + 1}: ${f} (count=${frames}, sum:frame.len=${bytes})`),
        `series ${i + 1}'s totals in:\n${a.text}`,
      );
    });
    assert.match(a.text, /^Every series together \(a packet in several counts in each\): count=/m);
    // A client that sends the interval as a string ("1") gets the same answer, not a refusal.
    const asText = await stats(server.mcp, {
      source: file,
      interval: '1',
      series,
      metrics: ['count', 'sum:frame.len'],
    });
    assert.deepEqual(asText.rows, a.rows);
  });

  it('interval "auto" picks about 100 buckets over the capture and loses no packet', async (t) => {
    if (!(await requireCapture(t))) return;
    const a = await stats(server.mcp, { source: file, interval: 'auto' });
    const buckets = Number(a.structured?.['total']);
    assert.ok(buckets >= 20 && buckets <= 101, `${buckets} buckets`);
    const all = await tsharkFields(file, ['frame.number']);
    assert.equal(
      a.rows.reduce((s, r) => s + Number(r['count']), 0),
      all.length,
    );
    assert.match(a.text, /Time series: [\d.]+ s buckets \(auto/);
  });

  it('with neither groupBy nor interval, one row counts every packet', async (t) => {
    if (!(await requireCapture(t))) return;
    const a = await stats(server.mcp, { source: file });
    const all = await tsharkFields(file, ['frame.number']);
    assert.deepEqual(a.rows, [{ count: all.length }]);
  });

  it("a field that points at a later frame is read with tshark's second pass (dns.response_in)", async (t) => {
    if (!(await requireCapture(t))) return;
    const a = await stats(server.mcp, {
      source: file,
      displayFilter: 'dns.flags.response == 0',
      groupBy: ['dns.response_in'],
    });
    const { stdout } = await run('tshark', [
      '-2',
      '-r',
      file,
      '-Y',
      'dns.flags.response == 0',
      '-T',
      'fields',
      '-e',
      'dns.response_in',
    ]);
    const expected = new Map<string, number>();
    for (const v of stdout.split('\n').filter((l) => l !== '')) expected.set(v, (expected.get(v) ?? 0) + 1);
    // Every query was answered: one row per response frame, none under "(none)".
    assert.equal(expected.size, queries.length);
    assert.deepEqual(table(a.rows, ['dns.response_in'], 'count'), expected);
  });

  it('reports progress on a large read, and a cancelled call leaves no tshark running', async (t) => {
    if (!(await requireCapture(t))) return;
    const big = path.join(dir, 'big.pcapng');
    await run('mergecap', ['-a', '-w', big, ...Array<string>(400).fill(file)]);
    const seen: { progress: number; total?: number; message?: string }[] = [];
    const done = await server.mcp.client.callTool(
      { name: 'capture_statistics', arguments: { source: big, groupBy: ['ip.src'] } },
      { onprogress: (p) => seen.push(p), timeout: 120_000 },
    );
    assert.equal(done.isError ?? false, false);
    const total = (done.structuredContent as { packets: number }).packets;
    assert.ok(seen.length >= 2, `${seen.length} notifications`);
    assert.equal(seen.at(-1)?.progress, total);
    assert.match(seen.at(-1)?.message ?? '', new RegExp(`${total} of ${total} packets read`));

    // A time series per group past topN reads the file twice; its progress goes on up through both.
    const twice: { progress: number; message?: string }[] = [];
    const perGroup = await server.mcp.client.callTool(
      {
        name: 'capture_statistics',
        arguments: { source: big, groupBy: ['ip.src'], interval: 'auto', topN: 1 },
      },
      { onprogress: (p) => twice.push(p), timeout: 120_000 },
    );
    assert.equal(perGroup.isError ?? false, false);
    twice.forEach((p, i) =>
      assert.ok(i === 0 || p.progress > (twice[i - 1]?.progress ?? 0), 'progress goes up'),
    );
    assert.equal(twice.at(-1)?.progress, 2 * total);
    assert.match(twice.at(-1)?.message ?? '', /^pass 2, the top groups' buckets/);

    // Two series read the file once each: progress goes on up through both, to twice the packets.
    const bySeries: { progress: number; total?: number; message?: string }[] = [];
    const series = await server.mcp.client.callTool(
      { name: 'capture_statistics', arguments: { source: big, interval: 'auto', series: ['tcp', 'dns'] } },
      { onprogress: (p) => bySeries.push(p), timeout: 120_000 },
    );
    assert.equal(series.isError ?? false, false);
    bySeries.forEach((p, i) =>
      assert.ok(i === 0 || p.progress > (bySeries[i - 1]?.progress ?? 0), 'progress goes up'),
    );
    assert.equal(bySeries.at(-1)?.progress, 2 * total);
    assert.equal(bySeries.at(-1)?.total, 2 * total);
    assert.match(bySeries.at(-1)?.message ?? '', /^pass 2 of 2, series #2/);

    const controller = new AbortController();
    const cancelled = server.mcp.client.callTool(
      { name: 'capture_statistics', arguments: { source: big, interval: 'auto', series: ['tcp', 'dns'] } },
      { onprogress: () => controller.abort(), signal: controller.signal, timeout: 120_000 },
    );
    await assert.rejects(cancelled);
    // The server stops its tshark once the cancellation reaches it.
    const end = Date.now() + 10_000;
    while (childPids(process.pid, 'tshark').length > 0 && Date.now() < end) await delay(50);
    assert.deepEqual(childPids(process.pid, 'tshark'), []);
  });

  it('decrypts TLS with sslKeylogFile: requests per path over HTTPS', async (t) => {
    if (!(await requireCapture(t))) return;
    const args = {
      source: file,
      displayFilter: 'http.request && tcp.port == 443',
      groupBy: ['http.request.uri'],
    };
    const hidden = await stats(server.mcp, args);
    assert.equal(hidden.structured?.['packets'], 0, 'without the keylog the requests are not readable');
    assert.match(hidden.text, /No packet matched the display filter/);
    const a = await stats(server.mcp, { ...args, sslKeylogFile: keylog });
    const expected = new Map<string, number>();
    for (const p of tlsPaths) expected.set(p, (expected.get(p) ?? 0) + 1);
    assert.deepEqual(table(a.rows, ['http.request.uri'], 'count'), expected);
  });

  it('says what to do instead of a wrong answer', async (t) => {
    if (!(await requireCapture(t))) return;
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ groupBy: ['http.user_agnt'] }, /http\.user_agnt: close matches: .*http\.user_agent/],
      [{ metrics: ['avg:ip.src'] }, /ip\.src is not a number.*distinct:ip\.src/],
      [{ displayFilter: 'http.request ==' }, /displayFilter is not a valid/],
      [{ interval: 1, series: ['dns &&'] }, /series "dns &&"/],
      [
        { interval: 1, groupBy: ['ip.src'], series: ['dns'] },
        /series and groupBy do not go together.*displayFilter/,
      ],
      [{ interval: 1, groupBy: ['ip.src'], topN: 101 }, /at most 100.*drop interval/],
      [{ interval: 1, orderBy: 'count' }, /without groupBy/],
      [{ series: ['dns'] }, /give interval too/],
      [{ groupBy: ['ip.src'], orderBy: 'bytes' }, /orderBy "bytes" names no column.*"count", "ip\.src"/],
      [{ metrics: ['median:dns.time'] }, /metrics/],
    ];
    for (const [args, message] of cases) {
      const a = await server.mcp.call('capture_statistics', { source: file, ...args });
      assert.equal(a.isError, true, JSON.stringify(args));
      assert.match(a.text, message);
      assert.doesNotMatch(a.text, /\n\s+at /, 'no stack trace');
    }
  });
});

describe('capture_statistics on the corpus', () => {
  const server = useServer();

  it('a field with several values in a packet counts each value (DNS answers)', async (t) => {
    const file = corpus('FoxIO-LLC-ja4/pcap/latest.pcapng');
    if (!file) return t.skip('the shared corpus is absent');
    const a = await stats(server.mcp, {
      source: file,
      displayFilter: 'dns.flags.response == 1',
      groupBy: ['dns.a'],
      metrics: ['count', 'sum:dns.resp.ttl'],
    });
    const { stdout } = await run('tshark', [
      '-r',
      file,
      '-Y',
      'dns.flags.response == 1',
      '-T',
      'fields',
      '-E',
      'occurrence=a',
      '-E',
      'aggregator=|',
      '-e',
      'dns.a',
      '-e',
      'dns.resp.ttl',
    ]);
    const lines = stdout.split('\n').filter((l) => l !== '');
    const expected = new Map<string, number>();
    let ttlSum = 0;
    let several = 0;
    for (const line of lines) {
      const [as = '', ttls = ''] = line.split('\t');
      const values = as === '' ? ['(none)'] : [...new Set(as.split('|'))];
      if (values.length > 1) several++;
      for (const v of values) expected.set(v, (expected.get(v) ?? 0) + 1);
      for (const x of ttls === '' ? [] : ttls.split('|')) ttlSum += Number(x);
    }
    assert.ok(several > 0, 'the corpus file has responses with several answers');
    assert.deepEqual(table(a.rows, ['dns.a'], 'count'), expected);
    assert.equal((a.structured?.['totals'] as Record<string, number>)['sum:dns.resp.ttl'], ttlSum);
    assert.equal((a.structured?.['totals'] as Record<string, number>)['count'], lines.length);
    assert.match(a.text, new RegExp(`${several} packets had several values of a groupBy field`));
  });

  it('fractional intervals put each packet in the bucket tshark -z io,stat puts it in', async (t) => {
    const file = corpus('FoxIO-LLC-ja4/pcap/latest.pcapng');
    if (!file) return t.skip('the shared corpus is absent');
    for (const interval of [0.1, 0.25]) {
      const a = await stats(server.mcp, { source: file, interval, metrics: ['count', 'sum:frame.len'] });
      const [io] = await ioStat(file, interval, ['frame']);
      assert.deepEqual(
        a.rows.map((r) => r['count']),
        io?.frames,
        `counts per ${interval} s`,
      );
      assert.deepEqual(
        a.rows.map((r) => r['sum:frame.len'] ?? 0),
        io?.bytes,
        `bytes per ${interval} s`,
      );
    }
  });

  it('distinct values per group, against a field dump', async (t) => {
    const file = corpus('FoxIO-LLC-ja4/pcap/latest.pcapng');
    if (!file) return t.skip('the shared corpus is absent');
    const a = await stats(server.mcp, {
      source: file,
      displayFilter: 'ip',
      groupBy: ['ip.proto'],
      metrics: ['count', 'distinct:ip.dst'],
    });
    const dump = await tsharkFields(file, ['ip.proto', 'ip.dst'], { filter: 'ip' });
    const expected = new Map<string, Set<string>>();
    for (const [proto = '', dsts = ''] of dump) {
      for (const p of new Set(proto.split(','))) {
        const s = expected.get(p) ?? new Set<string>();
        for (const d of dsts.split(',')) s.add(d);
        expected.set(p, s);
      }
    }
    assert.deepEqual(
      table(a.rows, ['ip.proto'], 'distinct:ip.dst'),
      new Map([...expected].map(([p, s]) => [p, s.size])),
    );
  });
  it('bytes per source per second: the top 3 sources and the rest add up to tshark -z io,stat', async (t) => {
    const file = corpus('FoxIO-LLC-ja4/pcap/latest.pcapng');
    if (!file) return t.skip('the shared corpus is absent');
    // ICMP errors carry a second ip.src (the packet quoted); without them each packet has one source.
    const only = 'ip && !icmp';
    const a = await stats(server.mcp, {
      source: file,
      displayFilter: only,
      groupBy: ['ip.src'],
      metrics: ['count', 'sum:frame.len'],
      interval: 1,
      topN: 3,
    });
    const counts = new Map<string, number>();
    for (const [src = ''] of await tsharkFields(file, ['ip.src'], { filter: only }))
      counts.set(src, (counts.get(src) ?? 0) + 1);
    const order = [...counts].sort(([x, m], [y, n]) => n - m || x.localeCompare(y)).map(([src]) => src);
    await checkLines(file, a.rows, bySource(only, order.slice(0, 3), true), only);
    assert.match(a.text, new RegExp(`\\(other groups\\): ${order.length - 3} groups left out`));
  });

  it('a packet with sources in and out of the top counts in its lines and once in "(other groups)"', async (t) => {
    const file = corpus('FoxIO-LLC-ja4/pcap/latest.pcapng');
    if (!file) return t.skip('the shared corpus is absent');
    const a = await stats(server.mcp, {
      source: file,
      displayFilter: 'ip',
      groupBy: ['ip.src'],
      interval: 1,
      topN: 2,
    });
    // From a field dump: each packet's sources (an ICMP error quotes a second one) and its second.
    const dump = await tsharkFields(file, ['ip.src', 'frame.time_relative'], { filter: 'ip' });
    const counts = new Map<string, number>();
    for (const [srcs = ''] of dump)
      for (const src of new Set(srcs.split(','))) counts.set(src, (counts.get(src) ?? 0) + 1);
    const top = [...counts]
      .sort(([x, m], [y, n]) => n - m || x.localeCompare(y))
      .slice(0, 2)
      .map(([src]) => src);
    const expected = a.rows.map(() => [0, 0, 0]);
    let both = 0;
    for (const [srcs = '', time = ''] of dump) {
      const row = expected[Math.floor(Number(time))];
      assert.ok(row, `a bucket for second ${time}`);
      const sources = [...new Set(srcs.split(','))];
      for (const [i, src] of top.entries()) if (sources.includes(src)) row[i] = (row[i] ?? 0) + 1;
      if (sources.some((src) => !top.includes(src))) row[2] = (row[2] ?? 0) + 1;
      if (sources.some((src) => top.includes(src)) && sources.some((src) => !top.includes(src))) both++;
    }
    assert.ok(both > 0, 'the corpus file has packets with sources in and out of the top');
    assert.deepEqual(
      a.rows.map((r) => [r['#1 count'], r['#2 count'], r['#3 count']]),
      expected,
    );
  });

  it('refuses a time series per group larger than its memory, saying which interval or topN fits', async (t) => {
    const file = corpus('FoxIO-LLC-ja4/pcap/latest.pcapng');
    if (!file) return t.skip('the shared corpus is absent');
    const a = await server.mcp.call('capture_statistics', {
      source: file,
      groupBy: ['ip.src'],
      interval: 0.0006,
      topN: 100,
    });
    assert.equal(a.isError, true, a.text);
    const advice = /Use interval ([\d.]+) or more, or topN (\d+) or less/.exec(a.text);
    assert.ok(advice, a.text);
    // Either advice, taken, is answered.
    for (const change of [{ interval: Number(advice[1]) }, { topN: Number(advice[2]) }]) {
      const b = await server.mcp.call('capture_statistics', {
        source: file,
        groupBy: ['ip.src'],
        interval: 0.0006,
        topN: 100,
        ...change,
      });
      assert.equal(b.isError, false, b.text);
    }
  });
});

describe('capture_statistics per group over time, on UDP sent here', () => {
  const server = useServer();
  /** This block's own loopback range (a receiver and six senders), apart from the block above. */
  const NET = '127.83.62';
  const receiver = `${NET}.100`;
  // Per sender: datagrams in the first second and in the next, and their payload size. Counts and
  // bytes rank the senders differently, and three ties at the bottom leave a group out either way.
  const senders = [
    { host: `${NET}.1`, burst: [6, 2], size: 50 },
    { host: `${NET}.2`, burst: [1, 4], size: 400 },
    { host: `${NET}.3`, burst: [3, 3], size: 100 },
    { host: `${NET}.4`, burst: [2, 0], size: 30 },
    { host: `${NET}.5`, burst: [0, 2], size: 500 },
    { host: `${NET}.6`, burst: [1, 1], size: 10 },
  ];
  const sent = senders.reduce((n, s) => n + (s.burst[0] ?? 0) + (s.burst[1] ?? 0), 0);
  let dir = '';
  let file = '';

  before(async () => {
    dir = await tempDir();
    if ((await captureUnavailable()) !== undefined) return;
    const { createSocket } = await import('node:dgram');
    const sink = createSocket('udp4');
    await new Promise<void>((resolve) => sink.bind(5362, receiver, resolve));
    const sockets = await Promise.all(
      senders.map(async (s) => {
        const socket = createSocket('udp4');
        await new Promise<void>((resolve) => socket.bind(0, s.host, resolve));
        return socket;
      }),
    );
    const burst = async (second: number): Promise<void> => {
      for (const [i, s] of senders.entries()) {
        for (let k = 0; k < (s.burst[second] ?? 0); k++) {
          await new Promise<void>((resolve, reject) =>
            sockets[i]?.send(Buffer.alloc(s.size, 0x61), 5362, receiver, (err) =>
              err ? reject(err) : resolve(),
            ),
          );
        }
      }
    };
    try {
      file = await captureLoopback(
        dir,
        'lines',
        `udp and net ${NET}.0/24`,
        async () => {
          await burst(0);
          // Past the first second's bucket, so each line has two busy buckets at most.
          await delay(1_500);
          await burst(1);
        },
        sent,
      );
    } finally {
      for (const s of [sink, ...sockets]) await new Promise<void>((resolve) => s.close(() => resolve()));
    }
    const captured = await tsharkFields(file, ['frame.number'], { filter: 'udp' });
    assert.equal(captured.length, sent, 'every datagram the test sent was captured');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** The senders in the order of `rank` over both seconds, most first; ties by address, as the answer breaks them. */
  const ranked = (rank: (s: (typeof senders)[number]) => number): typeof senders =>
    [...senders].sort((a, b) => rank(b) - rank(a) || a.host.localeCompare(b.host));
  const packets = (s: (typeof senders)[number]): number => (s.burst[0] ?? 0) + (s.burst[1] ?? 0);

  /** The same question with other lines: packets and bytes per sender per second. */
  const perSender = (more: Record<string, unknown>): Promise<ToolAnswer & { rows: Rows }> =>
    stats(server.mcp, {
      source: file,
      displayFilter: 'udp',
      groupBy: ['ip.src'],
      metrics: ['count', 'sum:frame.len'],
      interval: 1,
      topN: 10,
      ...more,
    });

  it('packets and bytes per sender per second: the top 3 by count, the other 3 in "(other groups)" adding up to the totals', async (t) => {
    if (!(await requireCapture(t))) return;
    const a = await perSender({ topN: 3 });
    const order = ranked(packets);
    const top = order.slice(0, 3);
    const rest = order.slice(3);
    const lines = a.structured?.['lines'] as Line[];
    assert.deepEqual(
      lines.map((l) => [l.line, l.group, l.groups, l.totals['count']]),
      [
        ...top.map((s, i) => [`#${i + 1}`, { 'ip.src': s.host }, 1, packets(s)]),
        ['#4', null, 3, rest.reduce((n, s) => n + packets(s), 0)],
      ],
    );
    // Line by line and together, second by second, as tshark counts the capture.
    const hosts = top.map((s) => s.host);
    await checkLines(file, a.rows, bySource('udp', hosts, true), 'udp');
    assert.equal((a.structured?.['totals'] as Record<string, number>)['count'], sent);
    assert.ok(a.rows.filter((r) => Number(r['#1 count']) > 0).length === 2, 'two busy seconds');
    assert.match(a.text, /^#4 \(other groups\): 3 groups left out \(ranked 4-6\)/m);

    // The call the answer names lists exactly the groups left out, with their totals.
    const listing = /The groups left out: capture_statistics (\{.*\}) lists them/.exec(a.text)?.[1];
    assert.ok(listing, a.text);
    const left = await stats(server.mcp, JSON.parse(listing) as Record<string, unknown>);
    assert.deepEqual(table(left.rows, ['ip.src'], 'count'), new Map(rest.map((s) => [s.host, packets(s)])));
  });

  it('orderBy picks the lines: the top 3 by bytes are other senders than the top 3 by count', async (t) => {
    if (!(await requireCapture(t))) return;
    const a = await perSender({ orderBy: 'sum:frame.len desc', topN: 3 });
    const bytes = new Map<string, number>();
    for (const [src = '', len = ''] of await tsharkFields(file, ['ip.src', 'frame.len'], { filter: 'udp' }))
      bytes.set(src, (bytes.get(src) ?? 0) + Number(len));
    const top = ranked((s) => bytes.get(s.host) ?? 0)
      .slice(0, 3)
      .map((s) => s.host);
    const byCount = ranked(packets)
      .slice(0, 3)
      .map((s) => s.host);
    assert.notDeepEqual(top, byCount, 'the test needs the two orders to differ');
    const lines = a.structured?.['lines'] as Line[];
    assert.deepEqual(
      lines.map((l) => l.group?.['ip.src'] ?? null),
      [...top, null],
    );
    await checkLines(file, a.rows, bySource('udp', top, true), 'udp');
  });

  it('with topN at least the groups, every group has its line and there is no "(other groups)"', async (t) => {
    if (!(await requireCapture(t))) return;
    const a = await perSender({});
    const order = ranked(packets).map((s) => s.host);
    const lines = a.structured?.['lines'] as Line[];
    assert.deepEqual(
      lines.map((l) => l.group?.['ip.src']),
      order,
    );
    assert.doesNotMatch(a.text, /other groups/);
    await checkLines(file, a.rows, bySource('udp', order, false), 'udp');
  });

  it('when no packet matches, it says so instead of empty buckets', async (t) => {
    if (!(await requireCapture(t))) return;
    const a = await perSender({ displayFilter: `udp && ip.src == ${NET}.250` });
    assert.match(a.text, /No packet matched the display filter/);
    assert.deepEqual([a.rows, a.structured?.['lines']], [[], []]);
  });
});
