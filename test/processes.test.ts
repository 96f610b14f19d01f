// The process room's parts: /proc/net rows and counters parsed (recorded text), the sidecar
// written and read back (bounded, a torn line skipped), "who owned this 5-tuple at this time"
// (a port used again by another process), and the sampler on the real machine (Linux): it finds
// the process behind a connection another process makes, and stops its timer when the last
// watcher leaves.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, rm, symlink } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { summarizeProcesses } from '../src/analysis/summary/processes.js';
import type { Conversation } from '../src/analysis/summary/types.js';
import { Attribution, processFilter } from '../src/processes/attribution.js';
import { parseProcAddress, parseSocketTable, parseTableCounters } from '../src/processes/proc-net.js';
import { emptyFigures, SocketSampler } from '../src/processes/sampler.js';
import type { SeenSocket } from '../src/processes/sampler.js';
import { parseSidecar, readSidecar, SidecarWriter, sidecarPath } from '../src/processes/sidecar.js';
import { makeFifo } from '../src/wireshark/fifo.js';
import { tempDir } from './helpers/loopback-capture.js';
import { waitFor } from './helpers/processes.js';

// Recorded from /proc/net/tcp and /proc/net/udp6 (x86, little-endian), trailing columns cut.
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0147537F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 51234 1 0000000000000000 100 0 0 10 0
   1: 0A47537F:D431 0147537F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 51240 1 0000000000000000 20 4 30 10 -1
   2: 0147537F:1F90 0A47537F:D430 06 00000000:00000000 03:000005FE 00000000     0        0 0 3 0000000000000000
`;
const UDP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  12: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 7001 2 0000000000000000 0
  13: 0000000000000000FFFF00000100007F:C350 0000000000000000FFFF00000200007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 7002 2 0000000000000000 0
`;

describe('/proc/net parsing', () => {
  it('decodes addresses as tshark writes them, v4-mapped IPv6 as IPv4', () => {
    assert.equal(parseProcAddress('0100007F:1F90'), '127.0.0.1:8080');
    assert.equal(parseProcAddress('00000000000000000000000001000000:0050'), '[::1]:80');
    assert.equal(parseProcAddress('0000000000000000FFFF00000100007F:1F90'), '127.0.0.1:8080');
    assert.equal(parseProcAddress('000080FE00000000FF000002030000FE:01BB'), '[fe80::200:ff:fe00:3]:443');
    assert.equal(parseProcAddress('nonsense'), undefined);
  });

  it('lists open sockets with their inode and user, leaving out TIME_WAIT rows', () => {
    assert.deepEqual(parseSocketTable('tcp', TCP), [
      {
        protocol: 'tcp',
        inode: 51234,
        local: '127.83.71.1:8080',
        remote: '0.0.0.0:0',
        wildcard: true,
        uid: 0,
      },
      {
        protocol: 'tcp',
        inode: 51240,
        local: '127.83.71.10:54321',
        remote: '127.83.71.1:8080',
        wildcard: false,
        uid: 1000,
      },
    ]);
    assert.deepEqual(
      parseSocketTable('udp', UDP6).map((r) => [r.local, r.remote, r.wildcard, r.uid]),
      [
        ['[::1]:53', '[::]:0', true, 101],
        ['127.0.0.1:50000', '127.0.0.2:53', false, 0],
      ],
    );
  });

  it('reads the counters that say a table changed, each table apart', () => {
    const sockstat = 'sockets: used 25\nTCP: inuse 3 orphan 0 tw 2 alloc 4 mem 1\nUDP: inuse 2 mem 0\n';
    const sockstat6 = 'TCP6: inuse 1\nUDP6: inuse 5\n';
    const before = parseTableCounters(sockstat, sockstat6);
    // One connection opened while another closed: inuse and alloc stay, tw moves.
    const after = parseTableCounters(sockstat.replace('tw 2', 'tw 3'), sockstat6);
    assert.notEqual(before.tcp, after.tcp, 'the tcp counters moved');
    assert.equal(before.tcp6, after.tcp6, 'the tcp6 ones did not: that table is not read for it');
    assert.equal(
      parseTableCounters(sockstat.replace('mem 1', 'mem 9'), sockstat6).tcp,
      before.tcp,
      'traffic alone moves nothing',
    );
    assert.equal(before.udp, '2');
    assert.equal(before.udp6, '5');
  });
});

function socket(over: Partial<SeenSocket> & Pick<SeenSocket, 'inode' | 'local' | 'remote'>): SeenSocket {
  return { protocol: 'tcp', wildcard: false, uid: 0, firstSeen: 1000, owner: undefined, ...over };
}

const curl = { key: '10@1', pid: 10, comm: 'curl', cmdline: 'curl http://x/', uid: 0, user: 'root' };
const node = { key: '20@1', pid: 20, comm: 'node', cmdline: 'node client.js', uid: 0, user: 'root' };
const server = { key: '30@1', pid: 30, comm: 'node', cmdline: 'node server.js', uid: 0, user: 'root' };

describe('the process sidecar', () => {
  it('is written a poll at a time, read back, and bounded', async () => {
    const dir = await tempDir();
    try {
      const capture = path.join(dir, 'c.pcapng');
      const writer = SidecarWriter.create(capture, 40, 2);
      writer.opened(socket({ inode: 1, local: '127.0.0.1:5000', remote: '127.0.0.1:80', owner: curl }));
      writer.flush();
      // What a crash would leave: every poll flushed so far.
      assert.equal((await readSidecar(capture))?.sockets.length, 1);
      writer.closed(1, 1200);
      writer.opened(socket({ inode: 2, local: '127.0.0.1:5001', remote: '127.0.0.1:80', owner: node }));
      writer.opened(socket({ inode: 3, local: '127.0.0.1:5002', remote: '127.0.0.1:80', owner: curl }));
      writer.finish({
        polls: 3,
        walks: 2,
        cpuMicros: 900,
        walkMicros: 500,
        searchMicros: 300,
        sampledMs: 100,
        processesScanned: 4,
        linksRead: 10,
        fullScans: 0,
        helperMicros: 0,
        slowedMs: 0,
        tables: 'proc',
      });
      assert.deepEqual(writer.counts, { sockets: 2, processes: 2, capped: true });
      const read = await readSidecar(capture);
      assert.ok(read);
      assert.deepEqual(
        read.sockets.map((s) => [s.inode, s.process, s.at, s.last]),
        [
          [1, '10@1', 1000, 1200],
          [2, '20@1', 1000, undefined],
        ],
      );
      assert.ok(read.cappedAt !== undefined, 'the cap is said');
      assert.equal(read.end?.polls, 3);
      assert.throws(() => SidecarWriter.create(capture, 40), /EEXIST/, 'never over an existing sidecar');
      assert.equal(sidecarPath(capture), `${capture}.processes.jsonl`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads only a plain file beside the capture: not a link, not a FIFO', async () => {
    const dir = await tempDir();
    try {
      const capture = path.join(dir, 'e.pcapng');
      await symlink('/dev/zero', sidecarPath(capture));
      assert.equal(await readSidecar(capture), undefined);
      await rm(sidecarPath(capture));
      await makeFifo(sidecarPath(capture));
      assert.equal(await readSidecar(capture), undefined, 'a FIFO is not waited on');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('skips a torn last line, and is not ours without its header', () => {
    const header = JSON.stringify({ t: 'header', version: 1, at: 1, host: 'h', pollMs: 40, maxSockets: 9 });
    const open = JSON.stringify({
      t: 'open',
      inode: 5,
      protocol: 'udp',
      local: '127.0.0.1:53',
      remote: '0.0.0.0:0',
      wildcard: true,
      uid: 0,
      at: 5,
      process: null,
    });
    const read = parseSidecar(`${header}\n${open}\n{"t":"open","ino`);
    assert.equal(read?.sockets.length, 1);
    assert.equal(read?.skipped, 1);
    assert.equal(read?.end, undefined, 'a recording cut short has no end');
    assert.equal(parseSidecar(`${open}\n`), undefined);
  });
});

describe('who owned a 5-tuple at a time', () => {
  const text = (lines: object[]): string => lines.map((l) => JSON.stringify(l)).join('\n');
  const header = { t: 'header', version: 1, at: 0, host: 'h', pollMs: 40, maxSockets: 100 };
  const proc = (p: typeof curl): object => ({ t: 'process', ...p });
  const open = (
    inode: number,
    local: string,
    remote: string,
    owner: typeof curl,
    at: number,
    wildcard = false,
  ): object => ({
    t: 'open',
    inode,
    protocol: 'tcp',
    local,
    remote,
    wildcard,
    uid: 0,
    at,
    process: owner.key,
  });
  const sidecar = parseSidecar(
    text([
      header,
      proc(curl),
      proc(node),
      proc(server),
      open(1, '0.0.0.0:80', '0.0.0.0:0', server, 0, true),
      open(2, '127.0.0.1:5000', '127.0.0.1:80', curl, 1000),
      { t: 'close', inode: 2, at: 1100 },
      // The same port used again, later, by another program.
      open(3, '127.0.0.1:5000', '127.0.0.1:80', node, 9000),
      { t: 'close', inode: 3, at: 9100 },
      // The server's end of a connection, recorded without its owner (the search missed it).
      { ...open(4, '127.0.0.1:80', '127.0.0.1:7000', server, 20_000), process: null },
      { t: 'close', inode: 4, at: 20_100 },
    ]),
  );
  assert.ok(sidecar);
  const attribution = new Attribution(sidecar);

  it('tells apart two processes that used one port at different times', () => {
    assert.equal(attribution.ownerOf('tcp', '127.0.0.1:5000', '127.0.0.1:80', 980, 1150)?.comm, 'curl');
    assert.equal(attribution.ownerOf('tcp', '127.0.0.1:5000', '127.0.0.1:80', 8990, 9150)?.pid, 20);
    assert.equal(attribution.ownerOf('tcp', '127.0.0.1:5000', '127.0.0.1:80', 30_000, 30_100), undefined);
  });

  it("builds a bounded display filter of one process's sockets, each within its lifetime", () => {
    const filter = processFilter(attribution, (o) => o.comm === 'curl');
    assert.deepEqual(filter, {
      kind: 'filter',
      filter:
        '(ip.addr==127.0.0.1 && tcp.port==5000 && ip.addr==127.0.0.1 && tcp.port==80 && frame.time_epoch >= 0.000 && frame.time_epoch <= 2.100)',
      sockets: 1,
      exact: true,
    });
    assert.equal(processFilter(attribution, (o) => o.pid === 99).kind, 'none');
  });

  it("credits the server's end to the process listening on every address", () => {
    assert.equal(attribution.ownerOf('tcp', '127.0.0.1:80', '127.0.0.1:5000', 1000, 1100)?.pid, 30);
    assert.equal(attribution.ownerOf('udp', '127.0.0.1:80', '127.0.0.1:5000', 1000, 1100), undefined);
    assert.equal(
      attribution.ownerOf('tcp', '127.0.0.1:80', '127.0.0.1:7000', 20_000, 20_100)?.pid,
      30,
      'a recorded socket without its owner leaves the question to the listener',
    );
    assert.deepEqual(
      [attribution.facts.sockets, attribution.facts.ownedSockets, attribution.facts.processes],
      [4, 3, 3],
    );
  });

  it('counts the conversations whose local end has no process, apart from those not ours at all', () => {
    const conversation = (a: string, b: string, startSeconds: number): Conversation => ({
      kind: 'tcp',
      a,
      b,
      framesAToB: 5,
      framesBToA: 5,
      frames: 10,
      bytes: 1000,
      startSeconds,
      durationSeconds: 0.01,
    });
    const summary = summarizeProcesses(
      attribution,
      [
        conversation('127.0.0.1:5000', '127.0.0.1:80', 1), // curl ↔ server
        conversation('127.0.0.1:6000', '127.0.0.1:80', 1), // ? ↔ server: too short to be sampled
        conversation('192.0.2.7:6000', '192.0.2.9:443', 1), // neither end is this machine's
      ],
      0,
      10,
    );
    assert.deepEqual(
      [summary.unknownLocalEnds, summary.unattributedConversations, summary.rows.map((r) => r.comm)],
      [1, 1, ['node', 'curl']],
    );
    assert.equal(summary.slowedSeconds, 0, 'a recording that never slowed says none');
  });

  it('says how long the sampling slowed to stay within its CPU budget', () => {
    const slowed = parseSidecar(
      text([
        header,
        { t: 'end', at: 5000, polls: 100, walks: 50, cpuMicros: 150_000, sampledMs: 5000, slowedMs: 2460 },
      ]),
    );
    assert.ok(slowed);
    assert.equal(summarizeProcesses(new Attribution(slowed), [], 0, 10).slowedSeconds, 2.5);
  });
});

describe('the socket sampler (Linux)', { skip: !SocketSampler.available() && 'no /proc/net here' }, () => {
  it('finds the process behind a connection another process makes, then stops its timer', async () => {
    // The server holds its end until the sampler has told of both ends, so a loaded machine (a
    // slow walk, an accept that waits for the event loop) cannot close it first: how short a
    // connection may be and still be seen is measured by process-attribution.test.ts.
    const held: net.Socket[] = [];
    const tcp = net.createServer((s) => {
      s.resume();
      held.push(s);
    });
    await new Promise<void>((resolve) => tcp.listen(0, '127.83.71.3', resolve));
    const port = (tcp.address() as net.AddressInfo).port;
    const seen: SeenSocket[] = [];
    const closed = new Set<number>();
    const sampler = new SocketSampler();
    const stop = sampler.watch({
      opened: (s) => seen.push(s),
      closed: (inode) => closed.add(inode),
      flush: () => undefined,
    });
    try {
      const client = spawn(
        process.execPath,
        [
          '-e',
          `const s = require('node:net').connect({ host: '127.83.71.3', port: ${port}, localAddress: '127.83.71.12' }); s.resume(); s.on('close', () => process.exit(0));`,
          // A secret on the command line, as curl -H or a --password flag would carry it.
          '--',
          '--password',
          'hunter2-secret',
          'Authorization: Bearer tok-12345',
        ],
        { stdio: 'ignore' },
      );
      const exited = new Promise((resolve) => client.on('close', resolve));
      const mineOf = (): SeenSocket | undefined => seen.find((s) => s.local.startsWith('127.83.71.12:'));
      await waitFor('both ends of the connection told of', () => {
        const end = mineOf();
        return end !== undefined && seen.some((s) => s.remote === end.local);
      });
      for (const s of held) s.end();
      await exited;
      const mine = mineOf();
      assert.ok(mine, 'the connection was seen');
      assert.equal(mine.remote, `127.83.71.3:${port}`);
      assert.equal(mine.owner?.pid, client.pid);
      assert.equal(mine.owner?.comm, 'node');
      assert.match(mine.owner?.cmdline ?? '', /^\S*node -e /);
      // The secrets are redacted where the command line is recorded; the flags stay readable.
      assert.doesNotMatch(mine.owner?.cmdline ?? '', /hunter2|tok-12345/);
      assert.match(
        mine.owner?.cmdline ?? '',
        / -- --password \[redacted, 14 characters\] "Authorization: \[redacted, 16 characters\]"$/,
      );
      await waitFor('its close told of', () => closed.has(mine.inode), 3000).catch(() => undefined);
      const accepted = seen.find((s) => s.remote === mine.local);
      assert.equal(accepted?.owner?.pid, process.pid, "the server's end is this process's");
      assert.ok(closed.has(mine.inode), 'its close was noticed');
    } finally {
      const figures = stop();
      tcp.close();
      assert.ok(figures.polls > 0);
      assert.equal(sampler.current().polls, 0, 'the last watcher gone, sampling stopped');
    }
    // A timer left behind would keep this test file from ending: node:test would report it.
  });
});

// The sidecar format is what other tools may read: a line is one JSON object.
it('writes the sidecar as JSON lines', async () => {
  const dir = await tempDir();
  try {
    const capture = path.join(dir, 'd.pcapng');
    SidecarWriter.create(capture, 40).finish(emptyFigures());
    const lines = (await readFile(sidecarPath(capture), 'utf8')).trim().split('\n');
    assert.deepEqual(
      lines.map((l) => (JSON.parse(l) as { t: string }).t),
      ['header', 'end'],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
