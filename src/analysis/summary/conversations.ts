// Conversations counted from per-packet values, because tshark 4.0 prints `-z conv` bytes rounded
// ("176 kB"), which can neither rank them nor be added up across the ranges of a chunked pass.
// tshark prints one line per packet of PACKET_COLUMNS as custom columns (`-T tabs`), which costs a
// fraction of `-T fields` (that builds the whole visible tree). Pure: lines in, conversations out.
import type { RangeFacts, Stamp } from '../../wireshark/capinfos.js';
import { columnArgs } from '../../wireshark/tshark-args.js';
import type {
  Conversation,
  ConversationKind,
  Endpoint,
  ExpertEntry,
  ProtocolNode,
  Severity,
} from './stats.js';

export const PACKET_COLUMNS = [
  'frame.len',
  'frame.time_epoch',
  'ip.src',
  'ip.dst',
  'ipv6.src',
  'ipv6.dst',
  'tcp.stream',
  'tcp.srcport',
  'tcp.dstport',
  'tcp.flags',
  'udp.stream',
  'udp.srcport',
  'udp.dstport',
  'icmp.type',
  'icmpv6.type',
] as const;

/** tshark arguments that print one tab-separated line of PACKET_COLUMNS per packet. */
export function packetColumnArgs(): string[] {
  return columnArgs(PACKET_COLUMNS);
}

/**
 * A packet time as tshark prints frame.time_epoch ("1687555544.173804000"): kept as text, which is
 * exact (a double would lose the nanoseconds) and, at equal length, orders as the time does.
 */
export type Instant = string;

function parts(t: Instant): [number, number] {
  const dot = t.indexOf('.');
  if (dot < 0) return [Number(t) || 0, 0];
  return [Number(t.slice(0, dot)) || 0, Number(t.slice(dot + 1, dot + 10).padEnd(9, '0')) || 0];
}

function before(x: Instant, y: Instant): boolean {
  if (x.length === y.length) return x < y;
  const [xs, xn] = parts(x);
  const [ys, yn] = parts(y);
  return xs < ys || (xs === ys && xn < yn);
}

/** Seconds from `origin` to `t`. */
export function secondsSince(origin: Instant, t: Instant): number {
  const [os, on] = parts(origin);
  const [ts, tn] = parts(t);
  return ts - os + (tn - on) / 1e9;
}

/** One conversation as one pass over one range saw it. */
export interface ConversationPart {
  readonly kind: ConversationKind;
  /** The same for every part of one conversation: its kind and both ends, in a fixed order. */
  readonly tuple: string;
  readonly a: string;
  readonly b: string;
  /** Address and port of side a, to tell the direction of a packet without building strings. */
  readonly aAddress: string;
  readonly aPort: string;
  framesAToB: number;
  framesBToA: number;
  bytes: number;
  first: Instant;
  last: Instant;
  /**
   * Whether this part may carry on a conversation of an earlier range: IP and UDP always do; a TCP
   * stream does when its worker saw it in the warm-up, or when its first packet is not a SYN.
   */
  continues: boolean;
}

/** A conversation's kind and both ends, the lower end first: the same for each of its parts. */
function tupleOf(kind: ConversationKind, a: string, b: string): string {
  return a < b ? `${kind} ${a} ${b}` : `${kind} ${b} ${a}`;
}

const SYN = 0x002;
const ACK = 0x010;

/** The first of a field's values: tunnels and ICMP errors repeat fields, the outer header first. */
function outer(s: string | undefined): string {
  if (s === undefined) return '';
  const comma = s.indexOf(',');
  return comma < 0 ? s : s.slice(0, comma);
}

/**
 * Adds up one pass's packet lines. The first `warmup` lines are context only: they are not
 * counted, but a stream seen among them is known to carry on from before the range.
 */
export class ConversationAggregator {
  /** TCP and UDP parts by tshark's stream ("t3", "u7"); IP parts by source, then destination. */
  private readonly streams = new Map<string, ConversationPart>();
  private readonly ip = new Map<string, Map<string, ConversationPart>>();
  private readonly order: ConversationPart[] = [];
  /** TCP streams seen in the warm-up. */
  private readonly warm = new Set<string>();
  /** Tuples that already have a part in this pass: only a tuple's first part may carry on. */
  private readonly tuples = new Set<string>();
  private seen = 0;
  /** Time of the first counted packet. */
  firstTime: Instant | undefined;

  constructor(private readonly warmup = 0) {}

  /** One packet's line, PACKET_COLUMNS separated by tabs. */
  add(line: string): void {
    const counted = this.seen++ >= this.warmup;
    const [
      len,
      time = '',
      ip4src,
      ip4dst,
      ip6src,
      ip6dst,
      tcpStream,
      tcpSrc,
      tcpDst,
      tcpFlags,
      udpStream,
      udpSrc,
      udpDst,
      icmp,
      icmp6,
    ] = line.split('\t');
    const tcp = outer(tcpStream);
    const isIcmp = (icmp !== undefined && icmp !== '') || (icmp6 !== undefined && icmp6 !== '');
    if (!counted) {
      if (!isIcmp && tcp !== '') this.warm.add(`t${tcp}`);
      return;
    }
    this.firstTime ??= time;
    const bytes = Number(len) || 0;
    const v4 = ip4src !== undefined && ip4src !== '';
    const src = outer(v4 ? ip4src : ip6src);
    const dst = outer(v4 ? ip4dst : ip6dst);
    if (src === '' || dst === '') return;
    const pair = this.ip.get(src)?.get(dst) ?? this.ip.get(dst)?.get(src);
    if (pair) this.count(pair, src, '', bytes, time);
    else {
      const p = this.part(v4 ? 'ipv4' : 'ipv6', src, '', dst, '', time, true, v4);
      let bySrc = this.ip.get(src);
      if (!bySrc) this.ip.set(src, (bySrc = new Map<string, ConversationPart>()));
      bySrc.set(dst, p);
      this.count(p, src, '', bytes, time);
    }
    // An ICMP error quotes the TCP or UDP header it is about; it belongs to no stream of its own.
    if (isIcmp) return;
    const udp = tcp === '' ? outer(udpStream) : '';
    if (tcp === '' && udp === '') return;
    const key = tcp !== '' ? `t${tcp}` : `u${udp}`;
    const sport = outer(tcp !== '' ? tcpSrc : udpSrc);
    let p = this.streams.get(key);
    if (!p) {
      const dport = outer(tcp !== '' ? tcpDst : udpDst);
      let continues = true;
      if (tcp !== '') {
        const flags = Number(outer(tcpFlags));
        const opens = (flags & SYN) !== 0 && (flags & ACK) === 0;
        continues = this.warm.has(key) || !opens;
      }
      p = this.part(tcp !== '' ? 'tcp' : 'udp', src, sport, dst, dport, time, continues, v4);
      this.streams.set(key, p);
    }
    this.count(p, src, sport, bytes, time);
  }

  private part(
    kind: ConversationKind,
    src: string,
    sport: string,
    dst: string,
    dport: string,
    t: Instant,
    continues: boolean,
    v4: boolean,
  ): ConversationPart {
    const name = (addr: string, port: string): string =>
      port === '' ? addr : v4 ? `${addr}:${port}` : `[${addr}]:${port}`;
    const from = name(src, sport);
    const to = name(dst, dport);
    const tuple = tupleOf(kind, from, to);
    const p: ConversationPart = {
      kind,
      tuple,
      a: from,
      b: to,
      aAddress: src,
      aPort: sport,
      framesAToB: 0,
      framesBToA: 0,
      bytes: 0,
      first: t,
      last: t,
      continues: continues && !this.tuples.has(tuple),
    };
    this.tuples.add(tuple);
    this.order.push(p);
    return p;
  }

  private count(p: ConversationPart, src: string, sport: string, bytes: number, t: Instant): void {
    if (src === p.aAddress && sport === p.aPort) p.framesAToB++;
    else p.framesBToA++;
    p.bytes += bytes;
    // Packets mostly come in time order: one comparison for most of them.
    if (before(p.last, t)) p.last = t;
    else if (before(t, p.first)) p.first = t;
  }

  /** This pass's conversations, in the order their first counted packet came. */
  result(): ConversationPart[] {
    return this.order;
  }
}

/**
 * The conversations of consecutive ranges, joined: a part that carries on is added to the latest
 * conversation with the same tuple. Times are seconds from `origin`, the capture's first packet.
 */
export function mergeConversations(
  passes: readonly (readonly ConversationPart[])[],
  origin: Instant | undefined,
): Conversation[] {
  const merged: ConversationPart[] = [];
  const latest = new Map<string, ConversationPart>();
  passes.forEach((parts, index) => {
    for (const p of parts) {
      const into = index > 0 && p.continues ? latest.get(p.tuple) : undefined;
      if (!into) {
        const copy = { ...p };
        merged.push(copy);
        latest.set(p.tuple, copy);
        continue;
      }
      const same = p.a === into.a;
      into.framesAToB += same ? p.framesAToB : p.framesBToA;
      into.framesBToA += same ? p.framesBToA : p.framesAToB;
      into.bytes += p.bytes;
      if (before(p.first, into.first)) into.first = p.first;
      if (before(into.last, p.last)) into.last = p.last;
    }
  });
  const zero = origin ?? '0';
  return merged.map((e) => ({
    kind: e.kind,
    a: e.a,
    b: e.b,
    framesAToB: e.framesAToB,
    framesBToA: e.framesBToA,
    frames: e.framesAToB + e.framesBToA,
    bytes: e.bytes,
    startSeconds: secondsSince(zero, e.first),
    durationSeconds: secondsSince(e.first, e.last),
  }));
}

/** The first and last lines of the summary counter's output (native/summary-counter.c). */
export const COUNTER_BEGIN = 'SHARKMCP-SUMMARY 1';
export const COUNTER_END = 'SHARKMCP-SUMMARY END';

/**
 * Reads the counter's lines (between COUNTER_BEGIN and COUNTER_END): the same conversation parts
 * as ConversationAggregator makes from per-packet lines, and the same protocol hierarchy, endpoints
 * and expert messages as tshark's `-z io,phs`, `-z endpoints,…` and `-z expert`, added up inside
 * tshark.
 */
export class CounterReader {
  private readonly parts: ConversationPart[] = [];
  readonly endpoints: Endpoint[] = [];
  readonly protocols: ProtocolNode[] = [];
  readonly expert: ExpertEntry[] = [];
  firstTime: Instant | undefined;
  /** Packets whose headers the counter could not see in full; its parts are not exact then. */
  incomplete = 0;
  ended = false;
  private counts: Omit<RangeFacts, 'interfaces'> | undefined;
  private readonly interfaces = new Map<number, number>();

  /** What capinfos would count over the records this pass counted. */
  facts(): RangeFacts | undefined {
    return this.counts && { ...this.counts, interfaces: this.interfaces };
  }

  add(line: string): void {
    const f = line.split('\t');
    if (f[0] === 'first') this.firstTime = f[1];
    else if (f[0] === 'facts' && f.length >= 4) {
      const stamp = (at: number): Stamp | undefined =>
        f.length >= at + 4
          ? { secs: Number(f[at]), nsecs: Number(f[at + 1]), prec: Number(f[at + 2]), text: f[at + 3] ?? '' }
          : undefined;
      this.counts = {
        packets: Number(f[1]),
        dataBytes: Number(f[2]),
        allTimes: f[3] === '1',
        start: stamp(4),
        stop: stamp(8),
      };
    } else if (f[0] === 'interface' && f.length >= 3) this.interfaces.set(Number(f[1]), Number(f[2]));
    else if (f[0] === 'incomplete') this.incomplete = Number(f[1]) || 0;
    else if (f[0] === 'protocol' && f.length >= 4) {
      const path = f[1] ?? '';
      const names = path.split(':');
      this.protocols.push({
        path,
        protocol: names[names.length - 1] ?? '',
        depth: names.length - 1,
        frames: Number(f[2]),
        bytes: Number(f[3]),
      });
    } else if (f[0] === 'expert' && f.length >= 6) {
      this.expert.push({
        severity: f[1] as Severity,
        group: f[2] ?? '',
        protocol: f[3] ?? '',
        // As the statistics parser reads tshark's own table: without the "\r\n" that ends a line.
        summary: (f[4] ?? '').replace(/\\r\\n$/, ''),
        count: Number(f[5]),
      });
    } else if (f[0] === 'endpoint' && f.length >= 7) {
      this.endpoints.push({
        kind: f[1] as ConversationKind,
        address: f[2] ?? '',
        packets: Number(f[3]),
        bytes: Number(f[4]),
        txBytes: Number(f[5]),
        rxBytes: Number(f[6]),
      });
    } else if (f[0] === 'part' && f.length >= 12) {
      const kind = f[1] as ConversationKind;
      const a = f[2] ?? '';
      const b = f[3] ?? '';
      this.parts.push({
        kind,
        tuple: tupleOf(kind, a, b),
        a,
        b,
        aAddress: f[4] ?? '',
        aPort: f[5] ?? '',
        framesAToB: Number(f[6]),
        framesBToA: Number(f[7]),
        bytes: Number(f[8]),
        first: f[9] ?? '',
        last: f[10] ?? '',
        continues: f[11] === '1',
      });
    }
  }

  result(): ConversationPart[] {
    return this.parts;
  }
}
