// The socket tables through netlink sock_diag (native/sock-diag.c, built by `npm run build` with
// the system's C compiler): one long-lived helper the sampler owns, asked for the tables it wants
// a line at a time. A dump costs the kernel about 0.3 ms for TCP v4 and v6 together, against 1.6 ms
// for each of /proc/net/tcp and tcp6 on a 262,144-bucket hash, because the kernel neither walks the
// hash twice nor formats the TIME_WAIT rows no process holds. The helper exits when its stdin
// closes and when its parent dies; a dump that does not end within DUMP_TIMEOUT_MS stops it, and
// the sampler goes back to /proc for the rest of its run.
import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { formatIpv6, portOf } from './proc-net.js';
import type { SocketRow, SocketTable } from './proc-net.js';

/** dist/native/sock-diag, beside dist/src. */
export const SOCK_DIAG_HELPER = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'native',
  'sock-diag',
);
/** A dump that takes longer than this (the helper's own receive limit is 1 s) ends the helper. */
export const DUMP_TIMEOUT_MS = 3000;
/** SIGTERM, then SIGKILL after this. */
const KILL_GRACE_MS = 500;
/** No line of the helper's is longer: a longer one is not the helper talking. */
const MAX_LINE = 200;
/** Row lines kept parsed (the same sockets are listed dump after dump); it starts again past this. */
const MAX_PARSED = 20_000;

export type TableRow = SocketRow & { readonly table: SocketTable };

/** One line of the helper's answer. */
export type DiagLine =
  | { readonly kind: 'row'; readonly row: TableRow }
  | { readonly kind: 'end'; readonly cpuMicros: number }
  | { readonly kind: 'error'; readonly table: string; readonly reason: string };

const TCP_LISTEN = 0x0a;
const ROW_LINE = /^([tu]) ([46]) ([0-9a-f]{2}) (\d+) (\d+) ([0-9a-f]+):(\d+) ([0-9a-f]+):(\d+)$/;

/**
 * An address as the helper prints it (network-order bytes in hex) and a port, as tshark writes an
 * endpoint; a v4-mapped IPv6 address as IPv4, since its packets are IPv4 on the wire.
 */
export function diagEndpoint(hex: string, port: number): string | undefined {
  if (hex.length !== 8 && hex.length !== 32) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < hex.length; i += 2) bytes.push(Number.parseInt(hex.slice(i, i + 2), 16));
  if (bytes.length === 4) return `${bytes.join('.')}:${port}`;
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (mapped) return `${bytes.slice(12).join('.')}:${port}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  return `[${formatIpv6(groups)}]:${port}`;
}

/** One line of the helper's output, or undefined for one it does not write. */
export function parseDiagLine(line: string): DiagLine | undefined {
  if (line.startsWith('. ')) {
    const cpuMicros = Number(line.slice(2));
    return Number.isSafeInteger(cpuMicros) ? { kind: 'end', cpuMicros } : undefined;
  }
  if (line.startsWith('! ')) {
    const space = line.indexOf(' ', 2);
    if (space < 0) return undefined;
    return { kind: 'error', table: line.slice(2, space), reason: line.slice(space + 1) };
  }
  const m = ROW_LINE.exec(line);
  if (!m) return undefined;
  const [, proto, family, stateText = '', inodeText = '', uidText = '', lh = '', lp = '', rh = '', rp = ''] =
    m;
  const inode = Number(inodeText);
  // Sockets no process holds any more (inode 0) are left out, as in the /proc tables.
  if (inode === 0) return undefined;
  const local = diagEndpoint(lh, Number(lp));
  const remote = diagEndpoint(rh, Number(rp));
  if (local === undefined || remote === undefined) return undefined;
  const protocol = proto === 't' ? 'tcp' : 'udp';
  const table: SocketTable = `${protocol}${family === '6' ? '6' : ''}`;
  const state = Number.parseInt(stateText, 16);
  const wildcard = protocol === 'tcp' ? state === TCP_LISTEN : portOf(remote) === 0;
  return { kind: 'row', row: { table, protocol, inode, local, remote, wildcard, uid: Number(uidText) } };
}

/** What one dump gave: the rows of the tables asked for, and the helper's CPU it cost. */
export interface DiagDump {
  readonly rows: TableRow[];
  /** Tables the kernel would not list (no udp_diag module, say): read from /proc instead. */
  readonly failed: string[];
  readonly cpuMicros: number;
}

type Helper = ChildProcessByStdio<Writable, Readable, null>;

/** The running helper. `dump` answers one request at a time. */
export class SockDiag {
  private partial = '';
  private rows: TableRow[] = [];
  private failedTables: string[] = [];
  private waiting: ((dump: DiagDump | undefined) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastCpu = 0;
  private dead = false;
  private parsed = new Map<string, TableRow>();

  private constructor(private readonly child: Helper) {
    child.stdout.setEncoding('latin1');
    child.stdout.on('data', (chunk: string) => this.take(chunk));
    child.on('error', () => this.fail());
    child.on('exit', () => this.fail());
    // A write after the helper died is told by 'exit' already.
    child.stdin.on('error', () => this.fail());
  }

  /** Starts the helper at `file`; undefined when it was not built or cannot start. */
  static start(file: string = SOCK_DIAG_HELPER): SockDiag | undefined {
    if (!existsSync(file)) return undefined;
    try {
      return new SockDiag(spawn(file, [], { stdio: ['pipe', 'pipe', 'ignore'] }));
    } catch {
      return undefined;
    }
  }

  /** Whether it still answers: false once it died, stalled or said something it does not say. */
  get alive(): boolean {
    return !this.dead;
  }

  /** The helper's pid (undefined if it did not start). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Whether a dump is under way. */
  get busy(): boolean {
    return this.waiting !== undefined;
  }

  /**
   * Lists `tables`; `done` hears the rows, or undefined when the helper failed (it is stopped then,
   * and the caller should read /proc).
   */
  dump(tables: readonly SocketTable[], done: (dump: DiagDump | undefined) => void): void {
    if (this.dead || this.waiting) {
      done(undefined);
      return;
    }
    this.waiting = done;
    this.timer = setTimeout(() => this.fail(), DUMP_TIMEOUT_MS);
    this.child.stdin.write(`${tables.join(' ')}\n`);
  }

  /** Closes its stdin (it exits), and makes sure of it with SIGTERM then SIGKILL. */
  close(): void {
    this.fail();
  }

  private take(chunk: string): void {
    this.partial += chunk;
    let at = 0;
    for (let end = this.partial.indexOf('\n'); end >= 0; end = this.partial.indexOf('\n', at)) {
      const text = this.partial.slice(at, end);
      at = end + 1;
      // Parsing was most of the sampler's CPU at 120 connections a second: a socket still open is
      // listed again with the same line.
      const known = this.parsed.get(text);
      if (known) {
        this.rows.push(known);
        continue;
      }
      const line = parseDiagLine(text);
      if (line?.kind === 'row') {
        if (this.parsed.size >= MAX_PARSED) this.parsed = new Map();
        this.parsed.set(text, line.row);
        this.rows.push(line.row);
      } else if (line?.kind === 'error') this.failedTables.push(line.table);
      else if (line?.kind === 'end') this.finish(line.cpuMicros);
    }
    this.partial = this.partial.slice(at);
    if (this.partial.length > MAX_LINE) this.fail();
  }

  private finish(cpuMicros: number): void {
    const done = this.waiting;
    const dump: DiagDump = {
      rows: this.rows,
      failed: this.failedTables,
      cpuMicros: cpuMicros - this.lastCpu,
    };
    this.lastCpu = cpuMicros;
    this.rows = [];
    this.failedTables = [];
    this.settle();
    done?.(dump);
  }

  private settle(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.waiting = undefined;
  }

  private fail(): void {
    const done = this.waiting;
    this.settle();
    if (!this.dead) {
      this.dead = true;
      this.child.stdin.end();
      if (this.child.exitCode === null && this.child.signalCode === null) {
        this.child.kill('SIGTERM');
        const force = setTimeout(() => this.child.kill('SIGKILL'), KILL_GRACE_MS);
        force.unref();
        this.child.once('exit', () => clearTimeout(force));
      }
    }
    done?.(undefined);
  }
}
