// The netlink socket lister (native/sock-diag.c) and its reader: recorded helper output parsed
// into the rows the sampler takes in, the live helper listing the same sockets as /proc/net does
// (Linux, when `npm run build` could build it), its end when its stdin closes, and the sampler
// going back to /proc when the helper is not there.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import dgram from 'node:dgram';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { parseSocketTable, readText, SOCKET_TABLES } from '../src/processes/proc-net.js';
import { SocketSampler } from '../src/processes/sampler.js';
import { parseDiagLine, SOCK_DIAG_HELPER, SockDiag } from '../src/processes/sock-diag.js';
import type { DiagDump, TableRow } from '../src/processes/sock-diag.js';

// Recorded from the helper: a TCP listener on 127.83.75.1:46665 and one on [::]:34013, a
// connection to the first from 127.83.75.11:40701, one to the second through ::ffff:127.83.75.2
// (from 127.0.0.1:44598), and a UDP socket bound to [::1]:52581.
const RECORDED = `t 6 0a 2988917 0 00000000000000000000000000000000:34013 00000000000000000000000000000000:0
t 4 0a 2988916 0 7f534b01:46665 00000000:0
t 4 01 2988921 0 7f534b01:46665 7f534b0b:40701
t 6 01 2988922 0 00000000000000000000ffff7f534b02:34013 00000000000000000000ffff7f000001:44598
t 4 01 2988918 0 7f534b0b:40701 7f534b01:46665
u 6 07 2988920 0 00000000000000000000000000000001:52581 00000000000000000000000000000000:0
! udp Protocol not supported
. 2457`;

const linux = process.platform === 'linux';
const built = linux && existsSync(SOCK_DIAG_HELPER);

describe('sock_diag helper output', () => {
  const lines = RECORDED.split('\n').map(parseDiagLine);
  const rows = lines.flatMap((l) => (l?.kind === 'row' ? [l.row] : []));
  const byInode = (inode: number): TableRow | undefined => rows.find((r) => r.inode === inode);

  it('reads each socket with its table, endpoints as tshark writes them, and whether it is a wildcard', () => {
    assert.equal(rows.length, 6);
    assert.deepEqual(byInode(2988917), {
      table: 'tcp6',
      protocol: 'tcp',
      inode: 2988917,
      local: '[::]:34013',
      remote: '[::]:0',
      wildcard: true,
      uid: 0,
    });
    assert.equal(byInode(2988916)?.local, '127.83.75.1:46665');
    assert.equal(byInode(2988916)?.wildcard, true);
    assert.equal(byInode(2988918)?.local, '127.83.75.11:40701');
    assert.equal(byInode(2988918)?.remote, '127.83.75.1:46665');
    assert.equal(byInode(2988918)?.wildcard, false);
    // v4-mapped: its packets are IPv4 on the wire, so it is written as IPv4 (the table stays tcp6).
    assert.equal(byInode(2988922)?.local, '127.83.75.2:34013');
    assert.equal(byInode(2988922)?.remote, '127.0.0.1:44598');
    assert.equal(byInode(2988922)?.table, 'tcp6');
    const udp = byInode(2988920);
    assert.equal(udp?.local, '[::1]:52581');
    assert.equal(udp?.protocol, 'udp');
    assert.equal(udp?.wildcard, true, 'a UDP socket with no peer stands for every peer');
  });

  it('reads the end line with the CPU so far, and a table the kernel would not list', () => {
    assert.deepEqual(lines.at(-1), { kind: 'end', cpuMicros: 2457 });
    assert.deepEqual(lines.at(-2), { kind: 'error', table: 'udp', reason: 'Protocol not supported' });
  });

  it('leaves out what the helper does not write', () => {
    assert.equal(
      parseDiagLine('t 4 01 0 0 7f000001:80 7f000001:9999'),
      undefined,
      'inode 0: no process holds it',
    );
    assert.equal(parseDiagLine('t 4 01 5 0 7f0001:80 7f000001:9999'), undefined, 'a short address');
    assert.equal(parseDiagLine('x 4 01 5 0 7f000001:80 7f000001:9999'), undefined);
    assert.equal(parseDiagLine('. soon'), undefined);
    assert.equal(parseDiagLine(''), undefined);
  });
});

/** One dump from a live helper. */
function dump(diag: SockDiag, tables: Parameters<SockDiag['dump']>[0]): Promise<DiagDump | undefined> {
  return new Promise((resolve) => diag.dump(tables, resolve));
}

/** Whether a process is gone (or a zombie nobody reaped yet, which holds nothing). */
function ended(pid: number): boolean {
  const stat = readText(`/proc/${pid}/stat`);
  return stat === undefined || stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
}

describe(
  'sock_diag helper, live',
  { skip: !built && 'the helper was not built (Linux and a C compiler)' },
  () => {
    it('lists the same open sockets as /proc/net, TCP and UDP, v4 and v6, and ends when its stdin closes', async () => {
      const server = net.createServer((s) => s.resume());
      await new Promise<void>((resolve) => server.listen(0, '127.83.75.1', resolve));
      const port = (server.address() as net.AddressInfo).port;
      const client = net.connect({ host: '127.83.75.1', port, localAddress: '127.83.75.11' });
      await new Promise((resolve) => client.once('connect', resolve));
      const udp = dgram.createSocket('udp6');
      await new Promise<void>((resolve) => udp.bind(0, '::1', resolve));
      const diag = SockDiag.start();
      assert.ok(diag);
      try {
        const answer = await dump(diag, ['tcp', 'tcp6', 'udp', 'udp6']);
        assert.ok(answer, 'the helper answered');
        assert.deepEqual(answer.failed, []);
        assert.ok(answer.cpuMicros > 0);
        const proc = SOCKET_TABLES.flatMap(({ table, protocol, file }) =>
          parseSocketTable(protocol, readText(file) ?? '').map((r) => ({ ...r, table })),
        );
        const ours = (rows: readonly TableRow[]): TableRow[] =>
          rows
            .filter((r) => r.local.startsWith('127.83.75.') || r.local === `[::1]:${udp.address().port}`)
            .sort((a, b) => a.inode - b.inode);
        const listed = ours(answer.rows);
        assert.equal(listed.length, 4, 'listener, both ends of the connection, the UDP socket');
        assert.deepEqual(listed, ours(proc));
        assert.ok(listed.some((r) => r.local === `127.83.75.11:${client.localPort ?? 0}` && !r.wildcard));
        // One request at a time: a second while one runs is refused, not queued.
        const again = dump(diag, ['udp']);
        assert.equal(await dump(diag, ['udp']), undefined);
        assert.ok(await again);
      } finally {
        const pid = diag.pid ?? 0;
        diag.close();
        client.destroy();
        server.close();
        udp.close();
        for (let i = 0; i < 50 && !ended(pid); i++) await delay(20);
        assert.ok(ended(pid), 'the helper ended');
        assert.equal(diag.alive, false);
      }
    });

    it('is what the sampler reads when built; without it the sampler reads /proc', async () => {
      for (const [helper, tables] of [
        [undefined, 'netlink'],
        ['/nonexistent/sock-diag', 'proc'],
      ] as const) {
        const sampler = new SocketSampler(undefined, { helper });
        const unwatch = sampler.watch({ opened: () => {}, closed: () => {}, flush: () => {} });
        await delay(100);
        const figures = unwatch();
        assert.equal(figures.tables, tables);
        assert.ok(figures.walks > 0);
        if (tables === 'netlink') assert.ok(figures.helperMicros > 0);
        sampler.close();
      }
    });
  },
);
