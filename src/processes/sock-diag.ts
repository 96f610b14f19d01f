// The socket watcher (native/sock-diag.c, built by `npm run build` with the system's C compiler):
// one long-lived helper the sampler owns, which runs the whole sampling loop itself (the kernel's
// socket counters every 25 ms, a netlink sock_diag dump when they moved, the owner of each new
// socket found in /proc/<pid>/fd) and writes a line per event: a process met, a socket opened with
// its owner, a socket closed, its figures. Node only parses those lines, so a busy event loop no
// longer makes the sampling late, and the loop costs a fraction of what it did in Node. The
// helper exits when its stdin closes and when its parent dies; one that dies, stalls, says what
// it does not say or cannot list a table is stopped, and the sampler reads /proc itself instead.
import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { nativeHelperPath } from '../util/native-helper.js';
import { describeProcess, readUserNames } from './owners.js';
import type { ProcessInfo } from './owners.js';
import { formatIpv6, portOf } from './proc-net.js';
import type { SocketRow, SocketTable } from './proc-net.js';

/** dist/native/sock-diag. */
export const SOCK_DIAG_HELPER = nativeHelperPath('sock-diag');
/** The helper writes its figures every 250 ms: silence this long means it stalled. */
export const STALL_MS = 3000;
/** SIGTERM, then SIGKILL after this. */
const KILL_GRACE_MS = 500;
/** No line of the helper's is longer (a command line of 16 KiB, in hex): a longer one is not it. */
const MAX_LINE = 40_000;
/** Processes kept by id: the helper names none older than the last this many it told. */
export const KEPT_IDS = 10_000;

export type TableRow = SocketRow & { readonly table: SocketTable };

/** What the helper did since it started (its `F` line). */
/** How many times slower than its poll the watcher polls at most, to stay within its CPU budget (MAX_SLOWDOWN in native/sock-diag.c). */
export const MAX_SLOWDOWN = 4;

export interface WatchFigures {
  readonly cpuMicros: number;
  readonly polls: number;
  readonly walks: number;
  readonly walkMicros: number;
  readonly searchMicros: number;
  readonly processesScanned: number;
  readonly linksRead: number;
  readonly fullScans: number;
  /** Time it polled slower than usual to stay within its CPU budget. */
  readonly slowedMs: number;
}

/** A process as the helper tells it, before its command line is redacted. */
interface RawIdentity {
  readonly id: number;
  readonly pid: number;
  readonly started: string;
  readonly uid: number | undefined;
  readonly comm: string;
  readonly cmdline: string;
}

/** One line of the helper's. */
export type WatchLine =
  | { readonly kind: 'process'; readonly process: RawIdentity }
  | {
      readonly kind: 'open';
      readonly row: TableRow;
      readonly firstSeen: number;
      /** The id of a process told before; undefined when no owner was found. */
      readonly owner: number | undefined;
    }
  | { readonly kind: 'close'; readonly inode: number; readonly lastSeen: number }
  | { readonly kind: 'figures'; readonly figures: WatchFigures }
  | { readonly kind: 'error'; readonly table: string; readonly reason: string };

const TCP_LISTEN = 0x0a;
const PROCESS_LINE = /^P (\d+) (\d+) (\d+) (\d+|-) \d+ ((?:[0-9a-f]{2})*) ((?:[0-9a-f]{2})*)$/;
const OPEN_LINE =
  /^O (\d+) ([tu])([46]) ([0-9a-f]{2}) (\d+) ([0-9a-f]+):(\d+) ([0-9a-f]+):(\d+) (\d+) (\d+|-)$/;
const CLOSE_LINE = /^C (\d+) (\d+)$/;
const FIGURES_LINE = /^F (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)(?: (\d+))?$/;

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

/** The text of bytes the helper wrote in hex (a name or command line: any byte at all). */
function unhex(hex: string): string {
  return Buffer.from(hex, 'hex').toString('utf8');
}

function openLine(m: RegExpExecArray): WatchLine | undefined {
  const [, inodeText = '', proto, family, stateText = '', uid = '', lh = '', lp = '', rh = '', rp = ''] = m;
  const [first = '', owner = '-'] = m.slice(10);
  const local = diagEndpoint(lh, Number(lp));
  const remote = diagEndpoint(rh, Number(rp));
  const inode = Number(inodeText);
  if (local === undefined || remote === undefined || inode === 0) return undefined;
  const protocol = proto === 't' ? 'tcp' : 'udp';
  const table: SocketTable = `${protocol}${family === '6' ? '6' : ''}`;
  const state = Number.parseInt(stateText, 16);
  const wildcard = protocol === 'tcp' ? state === TCP_LISTEN : portOf(remote) === 0;
  return {
    kind: 'open',
    row: { table, protocol, inode, local, remote, wildcard, uid: Number(uid) },
    firstSeen: Number(first),
    owner: owner === '-' ? undefined : Number(owner),
  };
}

/** One line of the helper's output, or undefined for one it does not write. */
export function parseWatchLine(line: string): WatchLine | undefined {
  let m: RegExpExecArray | null;
  if ((m = OPEN_LINE.exec(line))) return openLine(m);
  if ((m = CLOSE_LINE.exec(line))) return { kind: 'close', inode: Number(m[1]), lastSeen: Number(m[2]) };
  if ((m = PROCESS_LINE.exec(line))) {
    const [, id, pid, started = '', uid = '-', comm = '', cmdline = ''] = m;
    return {
      kind: 'process',
      process: {
        id: Number(id),
        pid: Number(pid),
        started,
        uid: uid === '-' ? undefined : Number(uid),
        comm: unhex(comm),
        cmdline: unhex(cmdline),
      },
    };
  }
  if ((m = FIGURES_LINE.exec(line))) {
    const [
      cpuMicros,
      polls,
      walks,
      walkMicros,
      searchMicros,
      processesScanned,
      linksRead,
      fullScans,
      slowedMs,
    ] = m.slice(1).map((v) => Number(v ?? 0));
    return {
      kind: 'figures',
      figures: {
        cpuMicros: cpuMicros ?? 0,
        polls: polls ?? 0,
        walks: walks ?? 0,
        walkMicros: walkMicros ?? 0,
        searchMicros: searchMicros ?? 0,
        processesScanned: processesScanned ?? 0,
        linksRead: linksRead ?? 0,
        fullScans: fullScans ?? 0,
        slowedMs: slowedMs ?? 0,
      },
    };
  }
  if (line.startsWith('! ')) {
    const space = line.indexOf(' ', 2);
    if (space < 0) return undefined;
    return { kind: 'error', table: line.slice(2, space), reason: line.slice(space + 1) };
  }
  return undefined;
}

/** Where the watcher's news goes. */
export interface WatchEvents {
  opened(row: TableRow, firstSeen: number, owner: ProcessInfo | undefined): void;
  closed(inode: number, lastSeen: number): void;
  /** Ends each chunk of news. */
  batch(): void;
  /** The helper's figures moved on by this much since it last told them. */
  figures(delta: WatchFigures, nodeMicros: number): void;
  /** The helper failed (it is stopped): the sampler goes on without it. */
  failed(why: string): void;
}

type Helper = ChildProcessByStdio<Writable, Readable, null>;

const NO_FIGURES: WatchFigures = {
  cpuMicros: 0,
  polls: 0,
  walks: 0,
  walkMicros: 0,
  searchMicros: 0,
  processesScanned: 0,
  linksRead: 0,
  fullScans: 0,
  slowedMs: 0,
};

/** The running watcher. */
export class SockWatch {
  private partial = '';
  private dead = false;
  private readonly processes = new Map<number, ProcessInfo>();
  private users: Map<number, string> | undefined;
  private last: WatchFigures = NO_FIGURES;
  /** Node's CPU parsing since the helper's figures were last told. */
  private nodeMicros = 0;
  private heard = Date.now();
  private readonly watchdog: NodeJS.Timeout;

  private constructor(
    private readonly child: Helper,
    private readonly events: WatchEvents,
  ) {
    child.stdout.setEncoding('latin1');
    child.stdout.on('data', (chunk: string) => this.take(chunk));
    child.on('error', () => this.fail('it could not start'));
    child.on('exit', (code, signal) => this.fail(`it exited (${signal ?? code})`));
    // A write after the helper died is told by 'exit' already.
    child.stdin.on('error', () => this.fail('its stdin failed'));
    this.watchdog = setInterval(() => {
      if (Date.now() - this.heard > STALL_MS) this.fail('it stalled');
    }, STALL_MS);
  }

  /** Starts the helper at `file`; undefined when it was not built or cannot start. */
  static start(file: string, events: WatchEvents): SockWatch | undefined {
    if (!existsSync(file)) return undefined;
    try {
      return new SockWatch(spawn(file, [], { stdio: ['pipe', 'pipe', 'ignore'] }), events);
    } catch {
      return undefined;
    }
  }

  /** Whether it still runs: false once it died, stalled or said something it does not say. */
  get alive(): boolean {
    return !this.dead;
  }

  /** The helper's pid (undefined if it did not start). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Closes its stdin (it exits), and makes sure of it with SIGTERM then SIGKILL. */
  close(): void {
    this.stop();
  }

  private take(chunk: string): void {
    if (this.dead) return;
    const began = process.cpuUsage();
    this.partial += chunk;
    let at = 0;
    for (let end = this.partial.indexOf('\n'); end >= 0 && !this.dead; end = this.partial.indexOf('\n', at)) {
      const line = parseWatchLine(this.partial.slice(at, end));
      at = end + 1;
      if (line === undefined) this.fail('it wrote a line it does not write');
      else this.handle(line);
    }
    this.partial = this.partial.slice(at);
    if (this.partial.length > MAX_LINE) this.fail('it wrote a line longer than it writes');
    if (this.dead) return;
    this.events.batch();
    const used = process.cpuUsage(began);
    this.nodeMicros += used.user + used.system;
  }

  private handle(line: WatchLine): void {
    switch (line.kind) {
      case 'process': {
        const raw = line.process;
        this.users ??= readUserNames();
        const users = this.users;
        this.processes.set(
          raw.id,
          describeProcess(raw, (uid) => users.get(uid)),
        );
        // The helper names only the last KEPT_IDS it told: older ones go, oldest first.
        if (this.processes.size > KEPT_IDS) {
          const oldest = this.processes.keys().next().value;
          if (oldest !== undefined) this.processes.delete(oldest);
        }
        break;
      }
      case 'open':
        this.events.opened(
          line.row,
          line.firstSeen,
          line.owner === undefined ? undefined : this.processes.get(line.owner),
        );
        break;
      case 'close':
        this.events.closed(line.inode, line.lastSeen);
        break;
      case 'figures': {
        this.heard = Date.now();
        const now = line.figures;
        const delta = Object.fromEntries(
          Object.entries(now).map(([k, v]) => [k, v - this.last[k as keyof WatchFigures]]),
        ) as unknown as WatchFigures;
        this.last = now;
        this.events.figures(delta, this.nodeMicros);
        this.nodeMicros = 0;
        break;
      }
      case 'error':
        // A table the kernel will not list (no udp_diag, say): /proc lists them all.
        this.fail(`it cannot list ${line.table}: ${line.reason}`);
        break;
    }
  }

  private fail(why: string): void {
    if (this.dead) return;
    this.stop();
    this.events.failed(why);
  }

  private stop(): void {
    clearInterval(this.watchdog);
    if (this.dead) return;
    this.dead = true;
    this.child.stdin.end();
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const force = setTimeout(() => this.child.kill('SIGKILL'), KILL_GRACE_MS);
      force.unref();
      this.child.once('exit', () => clearTimeout(force));
    }
  }
}
