// The socket sampler: while at least one capture session watches, it polls the kernel's socket
// counters every POLL_MS, reads a socket table when its counters moved (each TCP table at most
// once per walk gap, sized from what a walk costs so the sampling stays within its CPU budget, and
// never more than MAX_WALK_GAP_MS so a connection that lives 100 ms is seen), and finds the owner
// of each new socket while it is still open. One sampler serves every session: each watcher is a
// sink told of sockets as they open (with their owner) and close. The timer is its own: the last
// watcher to leave stops it, and close() stops it whatever is watching. When the socket watcher
// (sock-diag.ts, a helper in C) was built, it runs this whole loop in its own process and the
// sampler only hears its news; without it, or when it fails, the sampler polls /proc itself.
import { SocketOwners } from './owners.js';
import type { ProcessInfo } from './owners.js';
import { parseSocketTable, portOf, ProcFile, readTableCounters, SOCKET_TABLES } from './proc-net.js';
import type { SocketRow, SocketTable, TableCounters } from './proc-net.js';
import { SOCK_DIAG_HELPER, SockWatch } from './sock-diag.js';
import type { TableRow, WatchFigures } from './sock-diag.js';

/** How often the counters are read. */
export const POLL_MS = 25;
/** Every table is read at least this often, so closes are noticed and nothing missed for long. */
const REFRESH_MS = 2000;
/** Share of one core the TCP table walks may take, which spaces them out on a large hash table. */
const WALK_BUDGET = 0.03;
/** The widest spacing of walks: a connection that lives 100 ms still spans one. */
export const MAX_WALK_GAP_MS = 60;
/** A scan of every process, for sockets the likely processes did not hold, at most this often. */
const FULL_SCAN_GAP_MS = 250;
/** A socket whose owner full scans did not find for this long is recorded without one. */
const GIVE_UP_MS = 1000;

/** A socket as the sampler saw it, once its owner was looked for. */
export interface SeenSocket extends SocketRow {
  /** When a walk first listed it (ms since the epoch): it opened up to a walk gap earlier. */
  readonly firstSeen: number;
  /** Its process; undefined when it was not found (gone too soon, or not ours to read). */
  readonly owner: ProcessInfo | undefined;
}

/** Where a watcher hears of sockets: `flush` ends each poll that told it something. */
export interface SocketSink {
  opened(socket: SeenSocket): void;
  /** `lastSeen`: the last walk that still listed it. */
  closed(inode: number, lastSeen: number): void;
  flush(): void;
}

/** What the sampling has cost so far. */
export interface SamplerFigures {
  polls: number;
  walks: number;
  /**
   * CPU (user + system) spent sampling, µs, of which reading tables and searching for owners: the
   * socket watcher's own (it reports it) plus Node's parsing of its news; or, when Node polls,
   * process.cpuUsage() around each poll (it counts all the server's threads, but a poll is
   * synchronous: little else runs meanwhile). Wall time is no measure: on a busy machine a poll
   * waits for a core.
   */
  cpuMicros: number;
  walkMicros: number;
  searchMicros: number;
  /** Wall time sampled, ms. */
  sampledMs: number;
  processesScanned: number;
  linksRead: number;
  fullScans: number;
  /** Of cpuMicros, what the socket watcher spent (its own process; the rest is Node's). */
  helperMicros: number;
  /** Time the socket watcher polled slower than usual to stay within its CPU budget. */
  slowedMs: number;
  /** Who sampled: 'netlink' while the socket watcher ran, else 'proc' (Node read /proc). */
  tables: 'netlink' | 'proc';
}

/** Who samples: the socket watcher at this path (Node polls /proc when it cannot), or Node only (false). */
export interface SamplerOptions {
  readonly helper?: string | false;
}

interface LiveSocket {
  row: SocketRow;
  table: SocketTable;
  firstSeen: number;
  lastSeen: number;
  /** undefined while it is still looked for; null once it was not found. */
  owner: ProcessInfo | null | undefined;
}

export class SocketSampler {
  private timer: NodeJS.Timeout | undefined;
  private readonly sinks = new Set<SocketSink>();
  private readonly files = new Map<string, ProcFile>();
  private live = new Map<number, LiveSocket>();
  private owners = new SocketOwners();
  private counters: TableCounters | undefined;
  private readonly dirty = new Set<SocketTable>();
  private readonly lastWalk = new Map<SocketTable, number>();
  /** CPU ms one walk of each table took lately (moving average). */
  private readonly walkCost = new Map<SocketTable, number>();
  private lastFullScan = 0;
  private startedAt = 0;
  private figures: SamplerFigures = emptyFigures();
  private watcher: SockWatch | undefined;
  /** Counts runs (begin to end), so that news told after its run ended is dropped. */
  private run = 0;
  private readonly helper: string | false;

  constructor(
    private readonly pollMs: number = POLL_MS,
    options: SamplerOptions = {},
  ) {
    this.helper = options.helper ?? SOCK_DIAG_HELPER;
  }

  /** Whether this machine shows its socket tables (Linux with /proc). */
  static available(): boolean {
    return process.platform === 'linux' && readTableCounters() !== undefined;
  }

  /**
   * Tells `sink` of every socket open now (with its owner) and, from then on, of sockets as they
   * open and close. The returned function stops it and gives the sampler's figures so far.
   */
  watch(sink: SocketSink): () => SamplerFigures {
    const first = this.sinks.size === 0;
    if (!first) {
      for (const s of this.live.values()) if (s.owner !== undefined) sink.opened(seen(s));
      sink.flush();
    }
    this.sinks.add(sink);
    if (first) this.begin();
    return () => {
      this.sinks.delete(sink);
      const figures = this.current();
      if (this.sinks.size === 0) this.end();
      return figures;
    };
  }

  /** The sampler's figures since sampling began. */
  current(): SamplerFigures {
    const counts = this.owners.counts;
    const sampling = this.timer !== undefined || this.watcher !== undefined;
    return {
      ...this.figures,
      sampledMs: sampling ? Date.now() - this.startedAt : 0,
      processesScanned: this.figures.processesScanned + counts.processes,
      linksRead: this.figures.linksRead + counts.links,
      fullScans: this.figures.fullScans + counts.fullScans,
      tables: this.watcher?.alive ? 'netlink' : 'proc',
    };
  }

  /** Stops sampling, whoever watches (the server is closing). */
  close(): void {
    this.sinks.clear();
    this.end();
  }

  private begin(): void {
    this.live = new Map();
    this.owners = new SocketOwners();
    this.counters = undefined;
    this.dirty.clear();
    this.lastWalk.clear();
    this.figures = emptyFigures();
    this.startedAt = Date.now();
    this.lastFullScan = 0;
    this.run++;
    this.watcher = this.helper === false ? undefined : this.startWatcher(this.helper);
    if (this.watcher === undefined) this.poll();
  }

  /** Starts the socket watcher, whose news this run takes in; undefined when it cannot start. */
  private startWatcher(file: string): SockWatch | undefined {
    const run = this.run;
    const ours = (): boolean => run === this.run && this.sinks.size > 0;
    return SockWatch.start(file, {
      opened: (row, firstSeen, owner) => {
        if (!ours()) return;
        const { table, ...socket } = row;
        const s: LiveSocket = { row: socket, table, firstSeen, lastSeen: firstSeen, owner: owner ?? null };
        this.live.set(row.inode, s);
        this.tell((sink) => sink.opened(seen(s)));
      },
      closed: (inode, lastSeen) => {
        if (!ours()) return;
        this.live.delete(inode);
        this.tell((sink) => sink.closed(inode, lastSeen));
      },
      batch: () => {
        if (ours()) this.tell((sink) => sink.flush());
      },
      figures: (delta, nodeMicros) => {
        if (ours()) this.addFigures(delta, nodeMicros);
      },
      // The sockets it told of stay known: the first walk of /proc keeps those still open.
      failed: () => {
        if (!ours()) return;
        this.watcher = undefined;
        this.poll();
      },
    });
  }

  private addFigures(helper: WatchFigures, nodeMicros: number): void {
    const f = this.figures;
    f.polls += helper.polls;
    f.walks += helper.walks;
    f.cpuMicros += helper.cpuMicros + nodeMicros;
    f.helperMicros += helper.cpuMicros;
    f.walkMicros += helper.walkMicros;
    f.searchMicros += helper.searchMicros;
    f.processesScanned += helper.processesScanned;
    f.linksRead += helper.linksRead;
    f.fullScans += helper.fullScans;
    f.slowedMs += helper.slowedMs;
  }

  /** A /proc file, through a descriptor kept open while sampling. */
  private read(file: string): string | undefined {
    let open = this.files.get(file);
    if (!open) this.files.set(file, (open = new ProcFile(file)));
    return open.read();
  }

  private end(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    for (const file of this.files.values()) file.close();
    this.files.clear();
    this.watcher?.close();
    this.watcher = undefined;
    this.run++;
    this.live = new Map();
    this.owners = new SocketOwners();
    this.figures = emptyFigures();
  }

  private schedule(): void {
    this.timer = setTimeout(() => this.poll(), this.pollMs);
  }

  private poll(): void {
    const began = process.cpuUsage();
    try {
      this.sample();
    } finally {
      this.figures.polls++;
      this.figures.cpuMicros += cpuSince(began);
      if (this.sinks.size > 0) this.schedule();
    }
  }

  /** One poll: the counters, the tables that moved, the owners of new sockets. */
  private sample(): void {
    const now = Date.now();
    const counters = readTableCounters((file) => this.read(file));
    let moved = false;
    for (const { table } of SOCKET_TABLES) {
      if (counters !== undefined && this.counters?.[table] === counters[table]) continue;
      this.dirty.add(table);
      moved = true;
    }
    this.counters = counters;
    // A socket just opened by a new process (a `curl`) may be closed again by the time the search
    // that wants it runs, on a busy machine: its process is noted now, before the tables are read.
    if (moved && this.sinks.size > 0) this.owners.lookout(new Set(this.live.keys()));
    const dueTables = SOCKET_TABLES.filter(({ table }) => {
      const last = this.lastWalk.get(table) ?? -Infinity;
      if (now - last >= REFRESH_MS) return true;
      return this.dirty.has(table) && now - last >= this.walkGap(table);
    }).map(({ table }) => table);
    this.takeIn(dueTables, this.walkProc(dueTables, now), now);
  }

  /** Reads the due tables from /proc/net: their rows. */
  private walkProc(due: readonly SocketTable[], now: number): TableRow[] {
    const rows: TableRow[] = [];
    for (const { table, protocol, file } of SOCKET_TABLES) {
      if (!due.includes(table)) continue;
      const began = process.cpuUsage();
      const text = this.read(file);
      const cost = cpuSince(began) / 1000;
      this.walkCost.set(table, 0.7 * (this.walkCost.get(table) ?? cost) + 0.3 * cost);
      this.lastWalk.set(table, now);
      this.dirty.delete(table);
      this.figures.walks++;
      this.figures.walkMicros += cost * 1000;
      if (text !== undefined) rows.push(...parseSocketTable(protocol, text).map((r) => ({ ...r, table })));
    }
    return rows;
  }

  /** The rows of the walked tables: sockets opened and closed, owners looked for, sinks told. */
  private takeIn(walked: readonly SocketTable[], rows: readonly TableRow[], now: number): void {
    if (walked.length === 0 && !this.hasUnowned()) return;
    this.update(walked, rows, now);
    this.resolveOwners(now);
    this.tell((sink) => sink.flush());
  }

  /** Spacing of one table's walks that keeps walks of TCP tables within WALK_BUDGET. */
  private walkGap(table: SocketTable): number {
    const cost = this.walkCost.get(table) ?? 0;
    return Math.min(MAX_WALK_GAP_MS, Math.max(this.pollMs, cost / WALK_BUDGET));
  }

  private hasUnowned(): boolean {
    for (const s of this.live.values()) if (s.owner === undefined) return true;
    return false;
  }

  /** Takes in the walked tables' rows: new sockets wait for an owner, gone ones are told closed. */
  private update(walked: readonly SocketTable[], rows: readonly TableRow[], now: number): void {
    const listed = new Set<number>();
    for (const { table, ...row } of rows) {
      listed.add(row.inode);
      const known = this.live.get(row.inode);
      if (known && known.row.local === row.local && known.row.remote === row.remote) {
        known.lastSeen = now;
        continue;
      }
      // A socket that connects (or binds) after it was listed is told as closed and opened again.
      if (known) this.drop(row.inode, known);
      this.live.set(row.inode, { row, table, firstSeen: now, lastSeen: now, owner: undefined });
    }
    const walkedSet = new Set(walked);
    for (const [inode, s] of this.live) {
      if (walkedSet.has(s.table) && !listed.has(inode)) this.drop(inode, s);
    }
  }

  /** Forgets a socket that closed, telling the sinks (of one never told, both ends at once). */
  private drop(inode: number, s: LiveSocket): void {
    this.live.delete(inode);
    if (s.owner === undefined) {
      // Closed before its owner was found: still a socket that was there.
      s.owner = null;
      this.tell((sink) => sink.opened(seen(s)));
    }
    this.tell((sink) => sink.closed(inode, s.lastSeen));
  }

  private tell(fn: (sink: SocketSink) => void): void {
    for (const sink of this.sinks) fn(sink);
  }

  /** Looks for the owners of sockets that have none yet, and tells the sinks of those resolved. */
  private resolveOwners(now: number): void {
    const wanted = new Set<number>();
    // A connection a server accepted is most likely held by the process that listens on its port.
    const listeners = new Map<string, number>();
    for (const [inode, s] of this.live) {
      if (s.owner === undefined) wanted.add(inode);
      else if (s.owner && s.row.wildcard)
        listeners.set(`${s.row.protocol} ${portOf(s.row.local)}`, s.owner.pid);
    }
    if (wanted.size === 0) return;
    const hints = new Set<number>();
    for (const inode of wanted) {
      const row = this.live.get(inode)?.row;
      const pid = row && listeners.get(`${row.protocol} ${portOf(row.local)}`);
      if (pid !== undefined) hints.add(pid);
    }
    const full = now - this.lastFullScan >= FULL_SCAN_GAP_MS;
    const began = process.cpuUsage();
    const found = this.owners.find(wanted, new Set(this.live.keys()), full, hints);
    this.figures.searchMicros += cpuSince(began);
    if (full && found.size < wanted.size) this.lastFullScan = now;
    for (const inode of wanted) {
      const s = this.live.get(inode);
      if (!s) continue;
      const owner = found.get(inode);
      if (owner !== undefined) s.owner = owner;
      // Searched everywhere for a while: nobody we may look at holds it (not yet accepted by its
      // server, or another user's process).
      else if (full && now - s.firstSeen >= GIVE_UP_MS) s.owner = null;
      else continue;
      this.tell((sink) => sink.opened(seen(s)));
    }
  }
}

function cpuSince(began: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(began);
  return used.user + used.system;
}

function seen(s: LiveSocket): SeenSocket {
  return { ...s.row, firstSeen: s.firstSeen, owner: s.owner ?? undefined };
}

/** Figures of a sampler that has not sampled. */
export function emptyFigures(): SamplerFigures {
  return {
    polls: 0,
    walks: 0,
    cpuMicros: 0,
    walkMicros: 0,
    searchMicros: 0,
    sampledMs: 0,
    processesScanned: 0,
    linksRead: 0,
    fullScans: 0,
    helperMicros: 0,
    slowedMs: 0,
    tables: 'proc',
  };
}
