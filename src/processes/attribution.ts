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
  readonly protocol: 'tcp' | 'udp';
  readonly local: string;
  readonly remote: string;
  readonly wildcard: boolean;
}

/** A display filter for one process's conversations, or why there is none. */
export type ProcessFilter =
  | { readonly kind: 'filter'; readonly filter: string; readonly sockets: number; readonly exact: boolean }
  | { readonly kind: 'none'; readonly why: string };

/** Terms of one socket each, past which sockets are grouped by local address into port sets. */
const MAX_EXACT_TERMS = 64;
/** The longest filter made: tshark takes longer ones, but compiling them is slow. */
const MAX_FILTER_CHARS = 16_000;
/** A socket is first seen up to a walk gap after its first packet, and last seen before its last. */
const SPAN_SLACK_MS = 1000;

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
  /** How long it sampled, in ms (when it said). */
  readonly sampledMs: number | undefined;
  /** How long of that it polled slower than usual to stay within its CPU budget. */
  readonly slowedMs: number;
}

export class Attribution {
  /** By "protocol local remote", and by "protocol local" for listening and unconnected sockets. */
  private readonly exact = new Map<string, Span[]>();
  private readonly wild = new Map<string, Span[]>();
  private readonly spans: Span[] = [];
  private readonly addresses: ReadonlySet<string>;
  readonly facts: AttributionFacts;

  constructor(contents: SidecarContents) {
    const owners = new Map<string, Owner>();
    for (const p of contents.processes.values()) owners.set(p.key, toOwner(p));
    let owned = 0;
    for (const s of contents.sockets) {
      const owner = s.process === null ? undefined : owners.get(s.process);
      if (owner) owned++;
      const span: Span = {
        first: s.at,
        last: s.last ?? Infinity,
        owner,
        protocol: s.protocol,
        local: s.local,
        remote: s.remote,
        wildcard: s.wildcard,
      };
      this.spans.push(span);
      const key = s.wildcard ? `${s.protocol} ${s.local}` : `${s.protocol} ${s.local} ${s.remote}`;
      const index = s.wildcard ? this.wild : this.exact;
      const list = index.get(key);
      if (list) list.push(span);
      else index.set(key, [span]);
    }
    this.addresses = new Set(contents.header?.addresses ?? []);
    const end = contents.end;
    this.facts = {
      sockets: contents.sockets.length,
      ownedSockets: owned,
      processes: new Set(contents.sockets.flatMap((s) => (s.process === null ? [] : [s.process]))).size,
      pollMs: contents.header?.pollMs ?? 0,
      cappedAt: contents.cappedAt,
      complete: end !== undefined,
      cpuShare: end && end.sampledMs > 0 ? end.cpuMicros / 1000 / end.sampledMs : undefined,
      sampledMs: end?.sampledMs,
      slowedMs: end?.slowedMs ?? 0,
    };
  }

  /** Every process that owned a recorded socket, with how many, most first (then by pid). */
  owners(): { readonly owner: Owner; readonly sockets: number }[] {
    const counts = new Map<string, { owner: Owner; sockets: number }>();
    for (const s of this.spans) {
      if (!s.owner) continue;
      const c = counts.get(s.owner.key);
      if (c) c.sockets++;
      else counts.set(s.owner.key, { owner: s.owner, sockets: 1 });
    }
    return [...counts.values()].sort((a, b) => b.sockets - a.sockets || a.owner.pid - b.owner.pid);
  }

  /**
   * Whether an endpoint ("1.2.3.4:80", "[::1]:53") is on this machine: a loopback address, or one
   * its interfaces had when the recording began.
   */
  isLocal(endpoint: string): boolean {
    const at = endpoint.lastIndexOf(':');
    const address = endpoint.slice(0, at).replace(/^\[(.*)\]$/, '$1');
    return address.startsWith('127.') || address === '::1' || this.addresses.has(address);
  }

  /** See processFilter. */
  filterFor(wanted: (o: Owner) => boolean): ProcessFilter {
    const spans = this.spans.filter((s) => s.owner && wanted(s.owner));
    if (spans.length === 0) return { kind: 'none', why: 'no socket of that process was recorded' };
    const exact = spans.length <= MAX_EXACT_TERMS;
    const terms = exact ? spans.map(socketTerm) : groupedTerms(spans);
    const filter = terms.join(' || ');
    if (filter.length > MAX_FILTER_CHARS)
      return {
        kind: 'none',
        why: `its ${spans.length} sockets make a filter longer than ${MAX_FILTER_CHARS} characters`,
      };
    return { kind: 'filter', filter, sockets: spans.length, exact };
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
    // A socket recorded without its owner (an accepted one the search missed) leaves the question
    // to the listening socket: its server most likely holds it.
    for (const spans of candidates) {
      const best = nearest(spans ?? [], firstMs, lastMs);
      if (best?.owner) return best.owner;
    }
    return undefined;
  }
}

/**
 * A display filter that selects the packets of the sockets the processes `wanted` picks (a pid,
 * or a command name, for the coming `process` parameter) owned, each within its lifetime (a port
 * used again later by another program stays out). Bounded: past MAX_EXACT_TERMS sockets they are
 * grouped by protocol and local address into port sets over their common time span.
 */
export function processFilter(attribution: Attribution, wanted: (o: Owner) => boolean): ProcessFilter {
  return attribution.filterFor(wanted);
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

/** "ip.addr==a.b.c.d" or "ipv6.addr==x::y" for an endpoint's address. */
function addressTerm(endpoint: string): string {
  const at = endpoint.lastIndexOf(':');
  const address = endpoint.slice(0, at);
  return address.startsWith('[') ? `ipv6.addr==${address.slice(1, -1)}` : `ip.addr==${address}`;
}

/** The time bounds of a lifetime, widened by SPAN_SLACK_MS, in frame.time_epoch seconds. */
function timeTerm(first: number, last: number): string {
  const from = `frame.time_epoch >= ${((first - SPAN_SLACK_MS) / 1000).toFixed(3)}`;
  return last === Infinity
    ? from
    : `${from} && frame.time_epoch <= ${((last + SPAN_SLACK_MS) / 1000).toFixed(3)}`;
}

/** One socket: its local end (and its peer, when it has one) within its lifetime. */
function socketTerm(s: Span): string {
  const local = isAnyAddress(s.local) ? [] : [addressTerm(s.local)];
  const ends = [...local, `${s.protocol}.port==${portOf(s.local)}`];
  if (!s.wildcard) ends.push(addressTerm(s.remote), `${s.protocol}.port==${portOf(s.remote)}`);
  return `(${[...ends, timeTerm(s.first, s.last)].join(' && ')})`;
}

/** Sockets grouped by protocol and local address: a port set over the group's whole time span. */
function groupedTerms(spans: readonly Span[]): string[] {
  const groups = new Map<string, Span[]>();
  for (const s of spans) {
    const key = `${s.protocol} ${s.local.slice(0, s.local.lastIndexOf(':'))}`;
    const list = groups.get(key);
    if (list) list.push(s);
    else groups.set(key, [s]);
  }
  return [...groups.values()].map((list) => {
    const [s] = list as [Span, ...Span[]];
    const ports = [...new Set(list.map((x) => portOf(x.local)))].sort((a, b) => a - b);
    const first = Math.min(...list.map((x) => x.first));
    const last = Math.max(...list.map((x) => x.last));
    const local = isAnyAddress(s.local) ? [] : [addressTerm(s.local)];
    return `(${[...local, `${s.protocol}.port in {${ports.join(',')}}`, timeTerm(first, last)].join(' && ')})`;
  });
}

function isAnyAddress(endpoint: string): boolean {
  return endpoint.startsWith('0.0.0.0:') || endpoint.startsWith('[::]:');
}
