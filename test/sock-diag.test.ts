// The socket watcher (native/sock-diag.c) and its reader: recorded helper output parsed into the
// sockets and processes the sampler takes in (names and arguments of any bytes, secrets redacted),
// the live helper telling of the same sockets as /proc/net lists with their processes (Linux,
// when `npm run build` could build it), its end when the sampler stops or its parent is killed,
// and the sampler going back to /proc when the helper is not there or dies.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { rm, symlink } from 'node:fs/promises';
import dgram from 'node:dgram';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { describeProcess, SocketOwners } from '../src/processes/owners.js';
import { parseSocketTable, readText, SOCKET_TABLES } from '../src/processes/proc-net.js';
import { SocketSampler } from '../src/processes/sampler.js';
import type { SeenSocket } from '../src/processes/sampler.js';
import { parseWatchLine, SOCK_DIAG_HELPER } from '../src/processes/sock-diag.js';
import type { TableRow } from '../src/processes/sock-diag.js';
import { tempDir } from './helpers/loopback-capture.js';

const hex = (text: string): string => Buffer.from(text, 'utf8').toString('hex');

// As the helper writes them: a TCP listener on 127.83.76.1:46665 and one on [::]:34013, a
// connection to the first from 127.83.76.11:40701, one to the second through ::ffff:127.83.76.2
// (from 127.0.0.1:44598), a UDP socket bound to [::1]:52581; a process whose name holds a newline
// and whose arguments hold a password; a close; the figures; a table the kernel would not list.
const RECORDED = `P 7 4242 123456 1000 1 ${hex('we\nird')} ${hex('curl\0-u\0me:hunter2\0http://x/\0')}
O 2988917 t6 0a 0 00000000000000000000000000000000:34013 00000000000000000000000000000000:0 1796000000000 7
O 2988916 t4 0a 0 7f534c01:46665 00000000:0 1796000000001 -
O 2988921 t4 01 0 7f534c01:46665 7f534c0b:40701 1796000000002 7
O 2988922 t6 01 0 00000000000000000000ffff7f534c02:34013 00000000000000000000ffff7f000001:44598 1796000000003 7
O 2988918 t4 01 1000 7f534c0b:40701 7f534c01:46665 1796000000004 7
O 2988920 u6 07 0 00000000000000000000000000000001:52581 00000000000000000000000000000000:0 1796000000005 -
C 2988921 1796000000100
F 2457 40 3 900 400 12 80 1 150
! udp Protocol not supported`;

const linux = process.platform === 'linux';
const built = linux && existsSync(SOCK_DIAG_HELPER);

describe('socket watcher output', () => {
  const lines = RECORDED.split('\n').map(parseWatchLine);
  const rows = lines.flatMap((l) => (l?.kind === 'open' ? [l] : []));
  const byInode = (inode: number): TableRow | undefined => rows.find((r) => r.row.inode === inode)?.row;

  it('reads each socket with its table, endpoints as tshark writes them, whether it is a wildcard, and its owner', () => {
    assert.equal(rows.length, 6);
    assert.deepEqual(rows[0], {
      kind: 'open',
      row: {
        table: 'tcp6',
        protocol: 'tcp',
        inode: 2988917,
        local: '[::]:34013',
        remote: '[::]:0',
        wildcard: true,
        uid: 0,
      },
      firstSeen: 1796000000000,
      owner: 7,
    });
    assert.equal(rows[1]?.owner, undefined, 'no owner found');
    assert.equal(byInode(2988916)?.local, '127.83.76.1:46665');
    assert.equal(byInode(2988916)?.wildcard, true);
    assert.equal(byInode(2988918)?.local, '127.83.76.11:40701');
    assert.equal(byInode(2988918)?.remote, '127.83.76.1:46665');
    assert.equal(byInode(2988918)?.wildcard, false);
    assert.equal(byInode(2988918)?.uid, 1000);
    // v4-mapped: its packets are IPv4 on the wire, so it is written as IPv4 (the table stays tcp6).
    assert.equal(byInode(2988922)?.local, '127.83.76.2:34013');
    assert.equal(byInode(2988922)?.remote, '127.0.0.1:44598');
    assert.equal(byInode(2988922)?.table, 'tcp6');
    const udp = byInode(2988920);
    assert.equal(udp?.local, '[::1]:52581');
    assert.equal(udp?.protocol, 'udp');
    assert.equal(udp?.wildcard, true, 'a UDP socket with no peer stands for every peer');
  });

  it('reads a process of any bytes, kept as the /proc path keeps it: controls made spaces, secrets redacted', () => {
    const p = lines[0];
    assert.equal(p?.kind, 'process');
    const info = describeProcess(p.process, (uid) => (uid === 1000 ? 'dev' : undefined));
    assert.deepEqual(info, {
      key: '4242@123456@we ird',
      pid: 4242,
      comm: 'we ird',
      cmdline: 'curl -u me:[redacted, 7 characters] http://x/',
      uid: 1000,
      user: 'dev',
    });
  });

  it('reads closes, the figures and a table the kernel would not list', () => {
    assert.deepEqual(lines[7], { kind: 'close', inode: 2988921, lastSeen: 1796000000100 });
    assert.deepEqual(lines[8], {
      kind: 'figures',
      figures: {
        cpuMicros: 2457,
        polls: 40,
        walks: 3,
        walkMicros: 900,
        searchMicros: 400,
        processesScanned: 12,
        linksRead: 80,
        fullScans: 1,
        slowedMs: 150,
      },
    });
    assert.deepEqual(lines.at(-1), { kind: 'error', table: 'udp', reason: 'Protocol not supported' });
  });

  it('leaves out what the helper does not write', () => {
    const not = (line: string, why: string): void => assert.equal(parseWatchLine(line), undefined, why);
    not('O 0 t4 01 0 7f000001:80 7f000001:9999 1 -', 'inode 0: no process holds it');
    not('O 5 t4 01 0 7f0001:80 7f000001:9999 1 -', 'a short address');
    not('O 5 x4 01 0 7f000001:80 7f000001:9999 1 -', 'no such table');
    not('P 1 2 3 - 1 zz 00', 'a name not in hex');
    not('P 1 2 3 - 1 6 00', 'half a byte');
    not('F soon', 'figures not numbers');
    not('', 'an empty line');
  });
});

/** Whether a process is gone (or a zombie nobody reaped yet, which holds nothing). */
function ended(pid: number): boolean {
  const stat = readText(`/proc/${pid}/stat`);
  return stat === undefined || stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
}

/** The pids of running socket watchers whose parent is `parent`. */
function watchersOf(parent: number): number[] {
  return readdirSync('/proc').flatMap((e) => {
    if (!/^\d+$/.test(e) || ended(Number(e))) return [];
    const stat = readText(`/proc/${e}/stat`) ?? '';
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return stat.includes('(sock-diag)') && ppid === parent ? [Number(e)] : [];
  });
}

async function until(check: () => boolean, ms = 2000): Promise<boolean> {
  for (let waited = 0; waited < ms && !check(); waited += 20) await delay(20);
  return check();
}

/** A sampler with one watcher that keeps what it is told. */
function watching(helper?: string): {
  sampler: SocketSampler;
  seen: Map<number, SeenSocket>;
  /** Inodes as each open was told. */
  opens: number[];
  closed: Set<number>;
  stop: () => ReturnType<SocketSampler['current']>;
} {
  const sampler = new SocketSampler(undefined, helper === undefined ? {} : { helper });
  const seen = new Map<number, SeenSocket>();
  const closed = new Set<number>();
  const opens: number[] = [];
  const stop = sampler.watch({
    opened: (s) => {
      seen.set(s.inode, s);
      opens.push(s.inode);
    },
    closed: (inode) => closed.add(inode),
    flush: () => {},
  });
  return { sampler, seen, opens, closed, stop };
}

describe(
  'socket watcher, live',
  { skip: !built && 'the helper was not built (Linux and a C compiler)' },
  () => {
    it('tells of the same open sockets as /proc/net, TCP and UDP, v4 and v6, with their process, and ends with its sampler', async () => {
      const server = net.createServer((s) => s.resume());
      await new Promise<void>((resolve) => server.listen(0, '127.83.76.1', resolve));
      const port = (server.address() as net.AddressInfo).port;
      const client = net.connect({ host: '127.83.76.1', port, localAddress: '127.83.76.11' });
      await new Promise((resolve) => client.once('connect', resolve));
      const udp = dgram.createSocket('udp6');
      await new Promise<void>((resolve) => udp.bind(0, '::1', resolve));
      const w = watching();
      try {
        const ours = (r: { local: string }): boolean =>
          r.local.startsWith('127.83.76.') || r.local === `[::1]:${udp.address().port}`;
        assert.ok(await until(() => [...w.seen.values()].filter(ours).length === 4), 'all four told');
        const proc = SOCKET_TABLES.flatMap(({ protocol, file }) =>
          parseSocketTable(protocol, readText(file) ?? ''),
        );
        const key = (r: { inode: number; local: string; remote: string; wildcard: boolean }): string =>
          `${r.inode} ${r.local} ${r.remote} ${r.wildcard}`;
        assert.deepEqual(
          [...w.seen.values()].filter(ours).map(key).sort(),
          proc.filter(ours).map(key).sort(),
          'the same sockets as /proc/net lists',
        );
        for (const s of [...w.seen.values()].filter(ours)) {
          assert.equal(s.owner?.pid, process.pid, `${s.local} is this process's`);
          assert.equal(s.owner.comm, 'node');
        }
        assert.equal(w.sampler.current().tables, 'netlink');
        assert.equal(watchersOf(process.pid).length, 1, 'one helper for the sampler');
        // A close is told.
        const clientEnd = [...w.seen.values()].find(
          (s) => s.local === `127.83.76.11:${client.localPort ?? 0}`,
        );
        assert.ok(clientEnd);
        client.destroy();
        assert.ok(await until(() => w.closed.has(clientEnd.inode)), 'the close was told');
      } finally {
        w.stop();
        client.destroy();
        server.close();
        udp.close();
      }
      assert.ok(await until(() => watchersOf(process.pid).length === 0), 'the helper ended with its sampler');
    });

    it('tells a process whose name and arguments hold any bytes as the /proc path keeps it', async () => {
      const server = net.createServer((s) => s.resume());
      await new Promise<void>((resolve) => server.listen(0, '127.83.76.4', resolve));
      const port = (server.address() as net.AddressInfo).port;
      // The client runs under a name (its comm, and its first argument) holding a newline, a quote
      // and a letter outside ASCII: node, through a link of that name.
      const dir = await tempDir();
      const program = path.join(dir, 'od"d\nname ÿ');
      await symlink(process.execPath, program);
      const w = watching();
      const client = spawn(
        program,
        [
          '-e',
          `const s = require('node:net').connect({ host: '127.83.76.4', port: ${port}, localAddress: '127.83.76.13' }); s.resume(); setTimeout(() => process.exit(0), 1000);`,
          '--',
          'tab\there',
        ],
        { stdio: 'ignore' },
      );
      try {
        const mine = (): SeenSocket | undefined =>
          [...w.seen.values()].find((s) => s.local.startsWith('127.83.76.13:') && s.owner !== undefined);
        assert.ok(await until(() => mine() !== undefined, 3000), 'the connection was told with its owner');
        const owner = mine()?.owner;
        assert.ok(owner);
        assert.equal(owner.pid, client.pid);
        const comm = readText(`/proc/${client.pid ?? 0}/comm`, 'utf8')?.replace(/\n$/, '') ?? '';
        assert.equal(comm, 'od"d\nname ÿ', 'the kernel kept the newline in its name');
        assert.equal(owner.comm, 'od"d name ÿ', 'its name, the newline made a space');
        assert.doesNotMatch(owner.cmdline, /[\n\t]/);
        assert.ok(
          owner.cmdline.includes('od\\"d name ÿ') || owner.cmdline.includes('od"d name ÿ'),
          owner.cmdline,
        );
        // Exactly what Node's own reading of /proc makes of the same process.
        assert.deepEqual(owner, new SocketOwners().info(client.pid ?? 0));
      } finally {
        w.stop();
        client.kill();
        server.close();
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('ends when the process that started it is killed', async () => {
      const parent = spawn(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import { SocketSampler } from ${JSON.stringify(new URL('../src/processes/sampler.js', import.meta.url).href)};
new SocketSampler().watch({ opened() {}, closed() {}, flush() {} }); console.log('watching');`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      await new Promise((resolve) => parent.stdout.once('data', resolve));
      const pid = parent.pid ?? 0;
      assert.ok(await until(() => watchersOf(pid).length === 1), 'its helper runs');
      const [helper = 0] = watchersOf(pid);
      parent.kill('SIGKILL');
      await new Promise((resolve) => parent.once('close', resolve));
      assert.ok(await until(() => ended(helper)), 'no orphan: the helper ended with its parent');
    });

    it('is what the sampler uses when built; without it, or when it dies, the sampler reads /proc', async () => {
      const missing = watching('/nonexistent/sock-diag');
      await delay(100);
      const figures = missing.stop();
      assert.equal(figures.tables, 'proc');
      assert.ok(figures.walks > 0);

      const w = watching();
      const tcp = net.createServer((s) => s.resume());
      await new Promise<void>((resolve) => tcp.listen(0, '127.83.76.3', resolve));
      try {
        assert.ok(await until(() => watchersOf(process.pid).length === 1));
        assert.ok(await until(() => w.sampler.current().helperMicros > 0), 'the helper told its figures');
        for (const pid of watchersOf(process.pid)) process.kill(pid, 'SIGKILL');
        assert.ok(await until(() => w.sampler.current().tables === 'proc'), 'the sampler noticed');
        // Sampling goes on from /proc: a connection made now is seen, with its process.
        const port = (tcp.address() as net.AddressInfo).port;
        const client = net.connect({ host: '127.83.76.3', port, localAddress: '127.83.76.12' });
        await new Promise((resolve) => client.once('connect', resolve));
        const local = `127.83.76.12:${client.localPort ?? 0}`;
        assert.ok(
          await until(() =>
            [...w.seen.values()].some((s) => s.local === local && s.owner?.pid === process.pid),
          ),
        );
        client.destroy();
        // What the helper told before it died is not told again.
        const listener = [...w.seen.values()].find((s) => s.local === `127.83.76.3:${port}`);
        assert.equal(w.opens.filter((inode) => inode === listener?.inode).length, 1);
      } finally {
        w.stop();
        tcp.close();
      }
    });
  },
);
