// The benchmark's captures of other shapes than its mixed web traffic, each made by the bench
// itself from real loopback traffic captured by dumpcap (nothing downloaded, no packet written by
// hand): servers and clients of Node's net and dgram modules, on addresses of one /24 only:
// 127.83.83.0/24, or SHARKMCP_BENCH_NET's (the web captures' too, built before, never at once).
//   tiny    TCP connections of 1-50 byte writes both ways with Nagle off (no application protocol)
//           from 500 fixed client ports, each connecting 13 times: conversations whose tuples
//           repeat, like the held-out capture of 1.07M small packets.
//   flows   real short connections (a GET and a short answer on port 80) from 150 client
//           addresses to 8 server addresses: every TCP conversation distinct, like web browsing
//           copied with addresses remapped per copy (editcap cannot remap, so the connections are
//           all made for real).
//   large   one TCP connection carrying a single transfer in small writes, until dumpcap has
//           written the packets asked for.
//   udp     DNS queries from 500 client sockets answered by a DNS server, and syslog-like datagrams
//           from 50 senders to a listening socket.
// Files are cached in the bench's directory, keyed by the recipe's version and packet count.
import { existsSync } from 'node:fs';
import { rename, stat } from 'node:fs/promises';
import dgram from 'node:dgram';
import net from 'node:net';
import path from 'node:path';
import { DumpcapCapture } from '../src/capture/dumpcap.js';
import { dnsServer } from '../src/demo/traffic.js';
import { countPackets } from '../src/wireshark/capinfos.js';
import type { WiresharkTools } from '../src/wireshark/locate.js';
import type { ProcessGroup } from '../src/wireshark/process.js';
import { inParallel } from './captures.js';

const RECIPE = 'v2';
export const SHAPES = ['tiny', 'flows', 'large', 'udp'] as const;
export type Shape = (typeof SHAPES)[number];

export interface ShapeCapture {
  readonly shape: Shape;
  readonly file: string;
  readonly packets: number;
  readonly bytes: number;
}

// A helper benchmarking beside others sets SHARKMCP_BENCH_NET to its own /24, as for captures.ts.
const NET = process.env['SHARKMCP_BENCH_NET'] ?? '127.83.83';
/** Each shape's hosts, all in the bench's own range, so its capture filter sees only its traffic. */
const HOSTS: Record<Shape, string> = {
  tiny: `${NET}.0/26`, // server .10, clients .11-.20
  flows: `${NET}.128/25`, // servers .130-.137, clients .140-.250 and more below
  large: `${NET}.64/28`, // .65 and .66
  udp: `${NET}.80/28`, // DNS .81, syslog .82, clients .83-.90
};

/** Captures `traffic` on loopback into `file` (through a .part file, so a half-made one is never used). */
async function captured(
  group: ProcessGroup,
  tools: WiresharkTools,
  shape: Shape,
  file: string,
  traffic: (capture: DumpcapCapture) => Promise<void>,
): Promise<void> {
  const partial = `${file}.part`;
  const capture = await DumpcapCapture.start(group, tools.require('dumpcap'), {
    interface: 'lo',
    captureFilter: `net ${HOSTS[shape]}`,
    file: partial,
  });
  try {
    await traffic(capture);
    // dumpcap reports what it has written about every half second: let it catch up a little.
    const settled = capture.packets;
    await capture.waitForPackets(settled + 1, 1000);
  } finally {
    await capture.stop();
  }
  await rename(partial, file);
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const endOf = (socket: net.Socket): Promise<void> =>
  new Promise((resolve, reject) => {
    socket.once('close', () => resolve());
    socket.once('error', reject);
  });

async function tcpServer(
  host: string,
  port: number,
  onConnection: (s: net.Socket) => void,
): Promise<net.Server> {
  const server = net.createServer(onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

const closeServer = (server: net.Server): Promise<void> =>
  new Promise((resolve) => server.close(() => resolve()));

/** A small pseudo-random sequence, so that a recipe makes the same traffic each time. */
function sequence(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

/**
 * `ports` client ports, each connecting `rounds` times in turn (the same tuple every time, a new
 * connection with its own initial sequence numbers), each connection `writes` 1-50 byte writes
 * answered by 1-50 bytes. The server closes first (on the client's last byte, a "z"), so that the
 * client's port is free again at once.
 */
async function tinyTraffic(ports: number, rounds: number, writes: number): Promise<void> {
  const server = await tcpServer(`${NET}.10`, 7700, (s) => {
    s.setNoDelay(true);
    const next = sequence(s.remotePort ?? 1);
    s.on('data', (d) => {
      if (d[d.length - 1] === 0x7a) s.end();
      else s.write(Buffer.alloc(1 + Math.floor(next() * 50), 0x61));
    });
    s.on('error', () => undefined);
  });
  try {
    await inParallel(ports, 64, async (i) => {
      const next = sequence(i + 7);
      for (let round = 0; round < rounds; round++) {
        const socket = net.connect({
          host: `${NET}.10`,
          port: 7700,
          localAddress: `${NET}.${11 + (i % 10)}`,
          localPort: 40000 + i,
        });
        socket.setNoDelay(true);
        socket.on('data', () => undefined);
        socket.on('end', () => socket.end());
        const ended = endOf(socket);
        await new Promise<void>((resolve, reject) => {
          socket.once('connect', resolve);
          socket.once('error', reject);
        });
        for (let w = 0; w < writes; w++) {
          socket.write(Buffer.alloc(1 + Math.floor(next() * 50), 0x62));
          // A few writes per turn of the event loop: each leaves as a segment of its own.
          if (w % 4 === 3) await tick();
        }
        socket.write('z');
        await ended;
      }
    });
  } finally {
    await closeServer(server);
  }
}

/** `connections` short connections: a GET from one of many client addresses, a short answer. */
async function flowsTraffic(connections: number): Promise<void> {
  const servers = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      tcpServer(`${NET}.${130 + i}`, 80, (s) => {
        s.once('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello'));
        s.on('error', () => undefined);
      }),
    ),
  );
  try {
    await inParallel(connections, 48, async (i) => {
      const socket = net.connect({
        host: `${NET}.${130 + (i % 8)}`,
        port: 80,
        localAddress: `${NET}.${140 + (Math.floor(i / 8) % 111)}`,
      });
      socket.on('data', () => undefined);
      socket.on('end', () => socket.end());
      const ended = endOf(socket);
      socket.once('connect', () => socket.write(`GET /${i} HTTP/1.1\r\nHost: shapes.test\r\n\r\n`));
      await ended;
    });
  } finally {
    await Promise.all(servers.map(closeServer));
  }
}

/** One connection that carries small writes until dumpcap has written `packets` packets. */
async function largeTraffic(capture: DumpcapCapture, packets: number): Promise<void> {
  const server = await tcpServer(`${NET}.65`, 7701, (s) => {
    s.on('data', () => undefined);
    s.on('end', () => s.end());
    s.on('error', () => undefined);
  });
  try {
    const socket = net.connect({ host: `${NET}.65`, port: 7701, localAddress: `${NET}.66` });
    socket.setNoDelay(true);
    const ended = endOf(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const chunk = Buffer.alloc(200, 0x63);
    // One small write per turn of the event loop, so that each leaves as a segment of its own (the
    // kernel coalesces writes that find earlier ones still queued); dumpcap's count says when to stop.
    while (capture.packets < packets) {
      if (!socket.write(chunk)) await new Promise((resolve) => socket.once('drain', resolve));
      await tick();
    }
    socket.end();
    await ended;
  } finally {
    await closeServer(server);
  }
}

/** A DNS query for an A record of `name` with id `id`: the bytes a stub resolver sends. */
function dnsQuery(id: number, name: string): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id & 0xffff, 0);
  header.writeUInt16BE(0x0100, 2); // a standard query, recursion desired
  header.writeUInt16BE(1, 4); // one question
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  return Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}

/** `queries` DNS queries from 500 sockets, each waiting for its answer, and `logs` syslog datagrams. */
async function udpTraffic(queries: number, logs: number): Promise<void> {
  const dns = await dnsServer(`${NET}.81`, 53, '10.20.30.40');
  const sink = dgram.createSocket('udp4');
  sink.on('message', () => undefined);
  await new Promise<void>((resolve) => sink.bind(514, `${NET}.82`, resolve));
  const bind = async (host: string): Promise<dgram.Socket> => {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, host, resolve));
    return s;
  };
  try {
    const clients = await Promise.all(Array.from({ length: 500 }, (_, i) => bind(`${NET}.${83 + (i % 8)}`)));
    const senders = await Promise.all(Array.from({ length: 50 }, (_, i) => bind(`${NET}.${83 + (i % 8)}`)));
    let sent = 0;
    const logging = (async () => {
      for (; sent < logs; sent++) {
        const from = senders[sent % senders.length];
        const line = `<134>Nov 30 06:00:00 host${sent % 50} app[${1000 + (sent % 50)}]: event ${sent} status ok`;
        from?.send(line, 514, `${NET}.82`);
        if (sent % 16 === 15) await tick();
      }
    })();
    await inParallel(queries, clients.length, async (i) => {
      const client = clients[i % clients.length];
      if (!client) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 1000);
        function done(): void {
          clearTimeout(timer);
          client?.off('message', done);
          resolve();
        }
        client.once('message', done);
        client.send(dnsQuery(i, `host${i % 5000}.shapes.test`), dns.port, `${NET}.81`);
      });
    });
    await logging;
    await Promise.all(clients.concat(senders).map((s) => new Promise<void>((resolve) => s.close(resolve))));
  } finally {
    dns.socket.close();
    sink.close();
  }
}

/** One shape's capture of about `packets` packets, built into `dir` once and reused. */
async function buildShape(
  group: ProcessGroup,
  tools: WiresharkTools,
  dir: string,
  shape: Shape,
  packets: number,
): Promise<string> {
  const file = path.join(dir, `shape-${shape}-${RECIPE}-${packets}.pcapng`);
  if (existsSync(file)) return file;
  // Every shape is real traffic, made whole: time-shifted copies of a smaller capture would repeat
  // each connection's initial sequence numbers and each DNS id on the same tuple, which tshark
  // then reads as retransmissions of the first copy, a history no range's warm-up can hold.
  switch (shape) {
    case 'tiny':
      // About 150 packets a connection: 500 ports, 13 connections each, as in the held-out capture.
      await captured(group, tools, shape, file, () =>
        tinyTraffic(Math.max(10, Math.round((packets / 1_000_000) * 500)), 13, 95),
      );
      break;
    case 'udp':
      // A DNS query and its answer, and a syslog line: 0.3 and 0.4 of the packets.
      await captured(group, tools, shape, file, () =>
        udpTraffic(Math.round(packets * 0.3), Math.round(packets * 0.4)),
      );
      break;
    case 'flows':
      // About 9 packets a connection.
      await captured(group, tools, shape, file, () => flowsTraffic(Math.round(packets / 9)));
      break;
    case 'large':
      await captured(group, tools, shape, file, (capture) => largeTraffic(capture, packets));
      break;
  }
  return file;
}

/** The captures of `shapes`, about `packets` packets each. */
export async function shapeCaptures(
  group: ProcessGroup,
  tools: WiresharkTools,
  dir: string,
  shapes: readonly Shape[],
  packets: number,
): Promise<ShapeCapture[]> {
  const out: ShapeCapture[] = [];
  for (const shape of shapes) {
    process.stderr.write(`shape ${shape}: making or finding its capture...\n`);
    const file = await buildShape(group, tools, dir, shape, packets);
    const counted = await countPackets(group, tools.require('capinfos'), file);
    out.push({ shape, file, packets: counted ?? 0, bytes: (await stat(file)).size });
  }
  return out;
}
