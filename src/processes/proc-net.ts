// The kernel's socket tables as Linux shows them in /proc/net (tcp, tcp6, udp, udp6), and the
// cheap counters (sockstat, sockstat6) that say whether they changed. Reading tcp or tcp6
// walks the kernel's whole established-socket hash table (1.6 ms of system time each with 262,144
// buckets, measured on a 24 GB machine), while the counters cost about 20-40 µs: the sampler reads
// the counters every poll and a table only when its counters moved. Parsers are pure (text in,
// rows out); the readers return undefined where a file cannot be read.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import os from 'node:os';

export type SocketProtocol = 'tcp' | 'udp';

/** The four tables: their protocol and file. */
export const SOCKET_TABLES = [
  { table: 'tcp', protocol: 'tcp', file: '/proc/net/tcp' },
  { table: 'tcp6', protocol: 'tcp', file: '/proc/net/tcp6' },
  { table: 'udp', protocol: 'udp', file: '/proc/net/udp' },
  { table: 'udp6', protocol: 'udp', file: '/proc/net/udp6' },
] as const;
export type SocketTable = (typeof SOCKET_TABLES)[number]['table'];

/** One open socket as a table lists it. */
export interface SocketRow {
  readonly protocol: SocketProtocol;
  /** The socket's inode: what /proc/<pid>/fd/<n> links to as "socket:[inode]". */
  readonly inode: number;
  /** "a.b.c.d:port" or "[v6]:port", written as tshark writes addresses; v4-mapped IPv6 as IPv4. */
  readonly local: string;
  /** The peer, or a port-0 address for a listening or unconnected socket. */
  readonly remote: string;
  /** TCP LISTEN, or a UDP socket with no peer: it stands for every peer of its local end. */
  readonly wildcard: boolean;
  readonly uid: number;
}

const TCP_LISTEN = 0x0a;
/** One row: local, remote, state, then (past tx/rx queues, timer, retransmits) uid, timeout, inode. */
const ROW = /^ *\d+: ([0-9A-F]+:[0-9A-F]+) ([0-9A-F]+:[0-9A-F]+) ([0-9A-F]{2}) \S+ \S+ \S+ +(\d+) +\d+ (\d+)/;
const TIME_WAIT = '06';
const LITTLE_ENDIAN = os.endianness() === 'LE';

/** The four bytes of a 32-bit word as /proc prints it (%08X of the word in host order). */
function wordBytes(hex: string): number[] {
  const n = Number.parseInt(hex, 16);
  const bytes = [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  return LITTLE_ENDIAN ? bytes.reverse() : bytes;
}

/** An IPv6 address in the compressed form tshark prints (RFC 5952): the longest run of 2+ zero groups as "::". */
export function formatIpv6(groups: readonly number[]): string {
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestAt < 0) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`;
}

/**
 * "0100007F:1F90" (or 32 hex digits for IPv6) as an endpoint. A v4-mapped IPv6 address
 * (::ffff:a.b.c.d) is written as IPv4, because its packets are IPv4 on the wire.
 */
export function parseProcAddress(text: string): string | undefined {
  // The same sockets are listed poll after poll: their addresses are decoded once.
  const known = decoded.get(text);
  if (known !== undefined) return known;
  const endpoint = decodeProcAddress(text);
  if (endpoint === undefined) return undefined;
  if (decoded.size >= MAX_DECODED) decoded.clear();
  decoded.set(text, endpoint);
  return endpoint;
}

const decoded = new Map<string, string>();
const MAX_DECODED = 20_000;

function decodeProcAddress(text: string): string | undefined {
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  const hex = text.slice(0, colon);
  const port = Number.parseInt(text.slice(colon + 1), 16);
  if (!Number.isInteger(port) || !/^[0-9A-Fa-f]+$/.test(hex)) return undefined;
  if (hex.length === 8) return `${wordBytes(hex).join('.')}:${port}`;
  if (hex.length !== 32) return undefined;
  const bytes = [0, 8, 16, 24].flatMap((i) => wordBytes(hex.slice(i, i + 8)));
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (mapped) return `${bytes.slice(12).join('.')}:${port}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  return `[${formatIpv6(groups)}]:${port}`;
}

/** The port of an endpoint string. */
export function portOf(endpoint: string): number {
  return Number(endpoint.slice(endpoint.lastIndexOf(':') + 1));
}

/**
 * The rows of one table's text. Sockets with inode 0 (TIME_WAIT, or closed and only lingering) are
 * left out: no process holds them any more.
 */
export function parseSocketTable(protocol: SocketProtocol, text: string): SocketRow[] {
  const rows: SocketRow[] = [];
  // "sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...":
  // one match a line, and the addresses decoded only for a live socket (TIME_WAIT rows, inode 0,
  // can be most of a busy machine's table).
  for (let at = text.indexOf('\n') + 1; at > 0 && at < text.length;) {
    const next = text.indexOf('\n', at);
    const end = next < 0 ? text.length : next;
    const line = text.slice(at, end);
    at = end + 1;
    // The state follows two "HEX:PORT " addresses: a TIME_WAIT row is skipped without a match.
    const colon = line.indexOf(':');
    const stateAt = colon + 2 + 2 * (line.indexOf(':', colon + 2) - colon + 4);
    if (line.startsWith(TIME_WAIT, stateAt)) continue;
    const m = ROW.exec(line);
    if (m === null) continue;
    const [, localText = '', remoteText = '', stateText = '', uid = '', inodeText = ''] = m;
    if (inodeText === '0') continue;
    const local = parseProcAddress(localText);
    const remote = parseProcAddress(remoteText);
    if (local === undefined || remote === undefined) continue;
    const state = Number.parseInt(stateText, 16);
    const wildcard = protocol === 'tcp' ? state === TCP_LISTEN : portOf(remote) === 0;
    rows.push({ protocol, inode: Number(inodeText), local, remote, wildcard, uid: Number(uid) });
  }
  return rows;
}

/**
 * The counters that move when a socket of a table opens or closes, from sockstat ("TCP: inuse 5
 * orphan 0 tw 2 alloc 10 mem 1") and sockstat6: a table whose counters stayed the same since the
 * last poll need not be read. One connection opening while another closes still moves `tw`; one
 * that opened and closed between two polls lived too short to be seen anyway. (`mem` is left out:
 * it moves with every packet.)
 */
export type TableCounters = Record<SocketTable, string>;

/** Values of "Key: name value name value" lines, by "Key:name". */
function namedValues(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [key, ...rest] = line.split(' ');
    if (key === undefined || !key.endsWith(':')) continue;
    for (let i = 0; i + 1 < rest.length; i += 2) values.set(`${key}${rest[i] ?? ''}`, rest[i + 1] ?? '');
  }
  return values;
}

export function parseTableCounters(sockstat: string, sockstat6: string): TableCounters {
  const v4 = namedValues(sockstat);
  const v6 = namedValues(sockstat6);
  return {
    tcp: ['inuse', 'orphan', 'tw', 'alloc'].map((k) => v4.get(`TCP:${k}`) ?? '').join('/'),
    tcp6: v6.get('TCP6:inuse') ?? '',
    udp: v4.get('UDP:inuse') ?? '',
    udp6: v6.get('UDP6:inuse') ?? '',
  };
}

export function readText(file: string, encoding: BufferEncoding = 'latin1'): string | undefined {
  try {
    return readFileSync(file, encoding);
  } catch {
    return undefined;
  }
}

/**
 * A /proc file kept open and read again from its start each time: one pread instead of the open,
 * fstat, reads and close of readFileSync, which costs 300 µs instead of 75 µs for the two counter
 * files when a poll runs cold every 25 ms.
 */
export class ProcFile {
  private fd: number | undefined;
  private buffer = Buffer.alloc(16 * 1024);

  constructor(readonly file: string) {}

  /** The file's text now, or undefined when it cannot be read. */
  read(): string | undefined {
    try {
      this.fd ??= openSync(this.file, 'r');
      // The kernel hands a table over a page or so at a time: read on until it says the end.
      let size = 0;
      for (;;) {
        if (size === this.buffer.length) {
          const larger = Buffer.alloc(this.buffer.length * 2);
          this.buffer.copy(larger);
          this.buffer = larger;
        }
        const n = readSync(this.fd, this.buffer, size, this.buffer.length - size, size);
        if (n === 0) return this.buffer.toString('latin1', 0, size);
        size += n;
      }
    } catch {
      this.close();
      return undefined;
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // already gone
    }
    this.fd = undefined;
    this.buffer = Buffer.alloc(16 * 1024);
  }
}

/** The counters now (each file read by `read`), or undefined where /proc/net does not have them. */
export function readTableCounters(
  read: (file: string) => string | undefined = (file) => readText(file),
): TableCounters | undefined {
  const sockstat = read('/proc/net/sockstat');
  if (sockstat === undefined) return undefined;
  // A kernel without IPv6 has no sockstat6: its tables stay empty.
  return parseTableCounters(sockstat, read('/proc/net/sockstat6') ?? '');
}
