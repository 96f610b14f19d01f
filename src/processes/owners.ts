// Which process holds a socket: the kernel's tables give the socket's inode but no pid, so the
// owner is found among /proc/<pid>/fd links ("socket:[inode]"), while the socket is open. A full
// scan of every process's descriptors costs about 1.5-2.7 ms here, so it is the last resort: the
// process listening on the socket's port comes first (a connection a server accepted), then those
// that started lately (a new `curl`), then those that held sockets before, latest first (a client
// in a loop), then everyone. Descriptors known to hold a socket still open are not read again.
// Who a process is (name, command line, user) is read once per process.
import { readdirSync, readlinkSync } from 'node:fs';
import { redactCommandLine } from '../analysis/redact.js';
import { readText } from './proc-net.js';

/** Bytes of a command line kept: enough to tell two runs of one program apart, bounded. */
export const CMDLINE_MAX_CHARS = 512;

/** A process as the sampler met it. */
export interface ProcessInfo {
  /** pid and start time (clock ticks since boot): a pid used again later is another process. */
  readonly key: string;
  readonly pid: number;
  /** The kernel's name for it (comm, at most 15 characters): "curl", "node". */
  readonly comm: string;
  /** Its arguments joined by spaces, cut to CMDLINE_MAX_CHARS. */
  readonly cmdline: string;
  readonly uid: number | undefined;
  readonly user: string | undefined;
}

/** What one search cost, for the sampler's figures. */
export interface ScanCounts {
  processes: number;
  links: number;
  fullScans: number;
}

/** A process listed this recently is searched before the others. */
const RECENT_MS = 500;
/** Sockets the memory keeps at most (it starts again past this). */
const MAX_REMEMBERED = 20_000;
const SOCKET_LINK = /^socket:\[(\d+)\]$/;
/** NULs between arguments, and any control character a name or argument holds, become spaces. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/g;
/** Characters of /proc/<pid>/cmdline read: room for the arguments a line of CMDLINE_MAX_CHARS shows. */
const CMDLINE_READ_CHARS = 16 * 1024;

export class SocketOwners {
  /** Pids seen at the last listing of /proc, with when they were first listed. */
  private known = new Map<number, number>();
  private listed = false;
  /** Per pid: descriptor -> socket inode, for descriptors that held a socket at the last read. */
  private readonly sockets = new Map<number, Map<string, number>>();
  /** Pids that held a socket, with the time they last did: searched before everyone else. */
  private readonly owners = new Map<number, number>();
  /** Who each pid is, with the program it ran when read: an exec makes it someone else. */
  private readonly infos = new Map<
    number,
    { readonly info: ProcessInfo; readonly exe: string | undefined }
  >();
  /**
   * Sockets met in any scan, with who held them then: a socket whose process closed it (or ended)
   * before the search that wanted it still has its owner. `likeParent`: a new process running its
   * parent's program, which may only be holding its parent's sockets between fork and exec.
   */
  private memory = new Map<
    number,
    { readonly info: ProcessInfo; readonly ppid: number; readonly likeParent: boolean }
  >();
  /** Pids listed lately, newest first (see RECENT_MS). */
  private fresh: number[] = [];
  private users: Map<number, string> | undefined;
  readonly counts: ScanCounts = { processes: 0, links: 0, fullScans: 0 };

  /**
   * Finds the owners of `wanted` inodes; `open` holds every inode the tables list now, so a cached
   * descriptor whose socket is gone is read again. `full` allows a scan of every process for what
   * the likely ones did not hold; `hints` are searched first (the owner of a listening socket on
   * the same port). Returns inode -> owner for those found.
   */
  find(
    wanted: ReadonlySet<number>,
    open: ReadonlySet<number>,
    full: boolean,
    hints: Iterable<number> = [],
  ): Map<number, ProcessInfo> {
    const found = new Map<number, number>();
    const pending = new Set(wanted);
    const first = !this.listed;
    const pids = this.relist();
    const fresh = this.fresh;
    const now = Date.now();
    const searched = new Set<number>();
    const search = (list: Iterable<number>): void => {
      for (const pid of list) {
        if (pending.size === 0) return;
        if (searched.has(pid)) continue;
        searched.add(pid);
        this.scan(pid, pending, open, found);
      }
    };
    const owners = [...this.owners.entries()].sort((a, b) => b[1] - a[1]).map(([pid]) => pid);
    search(hints);
    search(first ? pids : fresh);
    this.preferParents(found, new Set(fresh), open);
    search(owners);
    if (full && pending.size > 0) {
      this.counts.fullScans++;
      search(pids);
    }
    for (const pid of found.values()) this.owners.set(pid, now);
    return this.identify(found, pending, open);
  }

  /** Who holds each found socket, and who held each one still pending when a scan last met it. */
  private identify(
    found: ReadonlyMap<number, number>,
    pending: ReadonlySet<number>,
    open: ReadonlySet<number>,
  ): Map<number, ProcessInfo> {
    const owners = new Map<number, ProcessInfo>();
    for (const [inode, pid] of found) {
      const info = this.info(pid);
      if (info) owners.set(inode, info);
    }
    for (const inode of pending) {
      const held = this.memory.get(inode);
      if (!held) continue;
      // A parent that holds it now lent it to its child between fork and exec.
      const lender = new Map<number, number>();
      if (held.likeParent) this.scan(held.ppid, new Set([inode]), open, lender);
      const parent = lender.has(inode) ? this.info(held.ppid) : undefined;
      owners.set(inode, parent ?? held.info);
    }
    return owners;
  }

  /**
   * Reads the descriptors of the processes that started lately, so a socket they open and close
   * before the tables are next read still has its owner: the sampler calls this when the counters
   * moved, before it reads the tables.
   */
  lookout(open: ReadonlySet<number>): void {
    if (!this.listed) return; // the first search reads every process anyway
    this.relist();
    const ignored = new Map<number, number>();
    for (const pid of this.fresh) this.scan(pid, new Set(), open, ignored, true);
  }

  /** Lists /proc: forgets the processes that ended, notes when each new one was first listed. */
  private relist(): number[] {
    const pids = listPids();
    const now = Date.now();
    // At the first look every process counts as old: the first search reads them all anyway.
    const since = this.listed ? now : 0;
    this.listed = true;
    const current = new Map(pids.map((p) => [p, this.known.get(p) ?? since]));
    for (const pid of this.known.keys()) if (!current.has(pid)) this.forget(pid);
    this.known = current;
    // Processes that started lately, newest first: a program is often listed before it opens its
    // first socket (a `curl` still starting), so "new since the last look" would miss it.
    this.fresh = pids.filter((p) => now - (current.get(p) ?? 0) <= RECENT_MS).reverse();
    return pids;
  }

  /**
   * A child between fork and exec holds copies of all its parent's sockets for a moment (a server
   * that starts `curl` lends it its own connections), and a pre-forked worker holds its parent's:
   * a socket found in a new process that runs the same program as its parent, and that the parent
   * holds too, is the parent's.
   */
  private preferParents(
    found: Map<number, number>,
    fresh: ReadonlySet<number>,
    open: ReadonlySet<number>,
  ): void {
    for (const [inode, pid] of found) {
      if (!fresh.has(pid)) continue;
      const ppid = Number(statFields(pid)?.[1]);
      if (!(ppid > 1)) continue;
      // After the exec, a child still holding the socket under another program has it as its own.
      const program = exe(pid);
      if (program !== undefined && program !== exe(ppid) && this.holds(pid, inode)) continue;
      const held = new Map<number, number>();
      this.scan(ppid, new Set([inode]), open, held);
      if (held.has(inode)) found.set(inode, ppid);
    }
  }

  /** Whether `pid` still holds `inode` on the descriptor it was found on. */
  private holds(pid: number, inode: number): boolean {
    for (const [fd, known] of this.sockets.get(pid) ?? []) {
      if (known !== inode) continue;
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`;
      } catch {
        return false;
      }
    }
    return false;
  }

  /** Reads `pid`'s descriptors, noting each socket; moves the wanted ones it holds into `found`. */
  private scan(
    pid: number,
    pending: Set<number>,
    open: ReadonlySet<number>,
    found: Map<number, number>,
    /** Remember every socket met (a lookout), not only the ones searched for. */
    lookout = false,
  ): void {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      return; // gone, or not ours to read
    }
    this.counts.processes++;
    const before = this.sockets.get(pid);
    const now = new Map<string, number>();
    for (const fd of fds) {
      let inode = before?.get(fd);
      if (inode === undefined || !open.has(inode)) {
        let link: string;
        try {
          link = readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          continue; // closed while we looked
        }
        this.counts.links++;
        const m = SOCKET_LINK.exec(link);
        if (!m) continue;
        inode = Number(m[1]);
      }
      now.set(fd, inode);
      if (pending.delete(inode)) found.set(inode, pid);
    }
    this.sockets.set(pid, now);
    if (lookout) this.remember(pid, now);
  }

  /**
   * Notes who holds each socket a lookout met. A new process that runs its parent's program and
   * holds one of the parent's sockets is a copy between fork and exec (or a forked worker): what it
   * holds is not noted as its own.
   */
  private remember(pid: number, sockets: ReadonlyMap<string, number>): void {
    const inodes = [...sockets.values()].filter((i) => !this.memory.has(i));
    if (inodes.length === 0) return;
    const holder = this.holder(pid);
    if (!holder) return;
    if (holder.likeParent) {
      const parents = new Set(this.sockets.get(holder.ppid)?.values());
      if (parents.size === 0 || inodes.some((i) => parents.has(i))) return;
    }
    if (this.memory.size + inodes.length > MAX_REMEMBERED) this.memory = new Map();
    for (const inode of inodes) this.memory.set(inode, holder);
  }

  private forget(pid: number): void {
    this.sockets.delete(pid);
    this.owners.delete(pid);
    this.infos.delete(pid);
  }

  /** What the memory keeps of a process that holds a socket; undefined once it has gone. */
  private holder(pid: number): { info: ProcessInfo; ppid: number; likeParent: boolean } | undefined {
    const info = this.info(pid);
    const ppid = Number(statFields(pid)?.[1]);
    if (!info || !(ppid > 0)) return undefined;
    const fresh = this.fresh.includes(pid);
    return { info, ppid, likeParent: fresh && exe(pid) === exe(ppid) };
  }

  /** Who `pid` is, read once while it lives; undefined once it has gone. */
  info(pid: number): ProcessInfo | undefined {
    const program = exe(pid);
    const known = this.infos.get(pid);
    if (known && known.exe === program) return known.info;
    const stat = readText(`/proc/${pid}/stat`, 'utf8');
    if (stat === undefined) return undefined;
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses; starttime is field 22.
    const close = stat.lastIndexOf(')');
    const uidText = /^Uid:\s+(\d+)/m.exec(readText(`/proc/${pid}/status`) ?? '')?.[1];
    const info = describeProcess(
      {
        pid,
        started: stat.slice(close + 2).split(' ')[19] ?? '',
        comm: stat.slice(stat.indexOf('(') + 1, close),
        cmdline: readText(`/proc/${pid}/cmdline`, 'utf8') ?? '',
        uid: uidText === undefined ? undefined : Number(uidText),
      },
      (uid) => this.userName(uid),
    );
    this.infos.set(pid, { info, exe: program });
    return info;
  }

  /** A user's name from /etc/passwd (read once), or undefined. */
  userName(uid: number): string | undefined {
    this.users ??= readUserNames();
    return this.users.get(uid);
  }
}

/** A process as /proc tells it: its comm and NUL-separated command line as they are. */
export interface RawProcess {
  readonly pid: number;
  /** Its start time (clock ticks since boot), as text. */
  readonly started: string;
  readonly comm: string;
  readonly cmdline: string;
  readonly uid: number | undefined;
}

/**
 * Who a process is, as the sampler keeps it: control characters made spaces, its arguments with
 * their secrets redacted and cut to CMDLINE_MAX_CHARS, its user named.
 */
export function describeProcess(raw: RawProcess, userName: (uid: number) => string | undefined): ProcessInfo {
  const comm = raw.comm.replace(CONTROL, ' ');
  // Arguments are NUL-separated; secrets among them are redacted before anything keeps them.
  const cmdline = redactCommandLine(
    raw.cmdline
      .slice(0, CMDLINE_READ_CHARS)
      .replace(/\0+$/, '')
      .split('\0')
      .map((arg) => arg.replace(CONTROL, ' ')),
  );
  return {
    // An exec keeps the pid and start time but makes another program of it: comm tells them apart.
    key: `${raw.pid}@${raw.started}@${comm}`,
    pid: raw.pid,
    comm,
    cmdline: cmdline.length > CMDLINE_MAX_CHARS ? `${cmdline.slice(0, CMDLINE_MAX_CHARS - 1)}…` : cmdline,
    uid: raw.uid,
    user: raw.uid === undefined ? undefined : userName(raw.uid),
  };
}

/** Users' names by uid, from /etc/passwd. */
export function readUserNames(): Map<number, string> {
  const users = new Map<number, string>();
  for (const line of (readText('/etc/passwd') ?? '').split('\n').slice(0, 10_000)) {
    const [name, , id] = line.split(':');
    if (name !== undefined && id !== undefined && /^\d+$/.test(id)) users.set(Number(id), name);
  }
  return users;
}

/** The fields of /proc/<pid>/stat after "pid (comm) ": state, ppid, ... */
function statFields(pid: number): string[] | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The program a process runs, or undefined when it cannot be read. */
function exe(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return undefined;
  }
}

/** The pids /proc lists now. */
function listPids(): number[] {
  try {
    return readdirSync('/proc').flatMap((e) => (/^\d+$/.test(e) ? [Number(e)] : []));
  } catch {
    return [];
  }
}
