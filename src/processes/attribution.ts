// Which local process owned each end of a conversation, from a capture's sidecar: the question
// "who owns this 5-tuple at this time" answered from the sockets the sampler recorded. An end is
// matched to the socket with that local and remote endpoint, else to a listening or unconnected
// socket on its local endpoint (or on the port of a socket bound to every address), choosing among
// several (a port used again) the one whose lifetime lies nearest the conversation's.
import { portOf } from './proc-net.js';
import type { ProcessRecord, SidecarContents } from './sidecar.js';

/** A socket is matched to a conversation that lies at most this far outside its lifetime. */
const MAX_GAP_MS = 5000;

/** An owner as answers name it. */
export interface Owner {
  readonly key: string;
  readonly pid: number;
  readonly comm: string;
  readonly cmdline: string;
  readonly user: string | undefined;
}

/** "curl[1234]" */
export function ownerName(o: Pick<Owner, 'comm' | 'pid'>): string {
  return `${o.comm}[${o.pid}]`;
}

interface Span {
  readonly first: number;
  readonly last: number;
  readonly owner: Owner | undefined;
}

/** What a sidecar says of the sampling itself, for answers to say whether and how it ran. */
export interface AttributionFacts {
  /** Sockets recorded, and how many of them had an owner found. */
  readonly sockets: number;
  readonly ownedSockets: number;
  readonly processes: number;
  readonly pollMs: number;
  /** The recording stopped at its socket cap at this time (ms since the epoch). */
  readonly cappedAt: number | undefined;
  /** Whether the recording ended properly (false: the server stopped while it ran). */
  readonly complete: boolean;
  /** CPU the sampler took, as a share of one core over the time it sampled (when it said). */
  readonly cpuShare: number | undefined;
}

export class Attribution {
  /** By "protocol local remote", and by "protocol local" for listening and unconnected sockets. */
  private readonly exact = new Map<string, Span[]>();
  private readonly wild = new Map<string, Span[]>();
  readonly facts: AttributionFacts;

  constructor(contents: SidecarContents) {
    const owners = new Map<string, Owner>();
    for (const p of contents.processes.values()) owners.set(p.key, toOwner(p));
    let owned = 0;
    for (const s of contents.sockets) {
      const owner = s.process === null ? undefined : owners.get(s.process);
      if (owner) owned++;
      const span: Span = { first: s.at, last: s.last ?? Infinity, owner };
      const key = s.wildcard ? `${s.protocol} ${s.local}` : `${s.protocol} ${s.local} ${s.remote}`;
      const index = s.wildcard ? this.wild : this.exact;
      const list = index.get(key);
      if (list) list.push(span);
      else index.set(key, [span]);
    }
    const end = contents.end;
    this.facts = {
      sockets: contents.sockets.length,
      ownedSockets: owned,
      processes: new Set(contents.sockets.flatMap((s) => (s.process === null ? [] : [s.process]))).size,
      pollMs: contents.header?.pollMs ?? 0,
      cappedAt: contents.cappedAt,
      complete: end !== undefined,
      cpuShare: end && end.sampledMs > 0 ? end.cpuMicros / 1000 / end.sampledMs : undefined,
    };
  }

  /**
   * The process that owned the local end `local` of a `protocol` conversation with `remote`, seen
   * from `firstMs` to `lastMs` (ms since the epoch); undefined when no recorded socket fits.
   */
  ownerOf(
    protocol: 'tcp' | 'udp',
    local: string,
    remote: string,
    firstMs: number,
    lastMs: number,
  ): Owner | undefined {
    const port = portOf(local);
    const anyV4 = `0.0.0.0:${port}`;
    const anyV6 = `[::]:${port}`;
    const candidates = [
      this.exact.get(`${protocol} ${local} ${remote}`),
      this.wild.get(`${protocol} ${local}`),
      // A socket bound to every address; an IPv6 one also takes IPv4 unless it is v6-only.
      this.wild.get(`${protocol} ${local.startsWith('[') ? anyV6 : anyV4}`),
      local.startsWith('[') ? undefined : this.wild.get(`${protocol} ${anyV6}`),
    ];
    for (const spans of candidates) {
      const best = nearest(spans ?? [], firstMs, lastMs);
      if (best) return best.owner;
    }
    return undefined;
  }
}

/** The span whose lifetime lies nearest [first, last], within MAX_GAP_MS; the later one on a tie. */
function nearest(spans: readonly Span[], first: number, last: number): Span | undefined {
  let best: Span | undefined;
  let bestGap = Infinity;
  for (const s of spans) {
    const gap = Math.max(0, s.first - last, first - s.last);
    if (gap > MAX_GAP_MS) continue;
    // Among spans that all overlap, the one that began nearest the conversation's start.
    if (
      gap < bestGap ||
      (gap === bestGap && best && Math.abs(s.first - first) < Math.abs(best.first - first))
    ) {
      best = s;
      bestGap = gap;
    }
  }
  return best;
}

function toOwner(p: ProcessRecord): Owner {
  return { key: p.key, pid: p.pid, comm: p.comm, cmdline: p.cmdline, user: p.user ?? undefined };
}
