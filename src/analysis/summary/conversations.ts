// Conversations counted from per-packet values, because tshark 4.0 prints `-z conv` bytes rounded
// ("176 kB"), which can neither rank them nor be added up across the ranges of a chunked pass.
// tshark prints one line per packet of PACKET_COLUMNS as custom columns (`-T tabs`), which costs a
// fraction of `-T fields` (that builds the whole visible tree). Pure: lines in, conversations out.
import { communityId } from '../community-id.js';
import { columnArgs } from '../../wireshark/tshark-args.js';
import type { Conversation, ConversationKind } from './types.js';

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
  'frame.interface_id',
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
  /** The capture interfaces its packets came from: bit i for interface ID i, bit 31 for 31 and later. */
  ifaces: number;
}

/** The bit of capture interface `id` in ConversationPart's ifaces. */
export function interfaceBit(id: number): number {
  return (1 << Math.min(Math.max(0, Math.trunc(id) || 0), 31)) >>> 0;
}

/** A conversation's kind and both ends, the lower end first: the same for each of its parts. */
export function tupleOf(kind: ConversationKind, a: string, b: string): string {
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

/** One end of a conversation as a packet names it: its address, and its port for TCP and UDP. */
interface End {
  readonly address: string;
  /** '' for an IP conversation. */
  readonly port: string;
  /** An IPv4 address, written "a.b.c.d:port"; an IPv6 one is bracketed, "[::1]:port". */
  readonly v4: boolean;
}

function endName(e: End): string {
  return e.port === '' ? e.address : e.v4 ? `${e.address}:${e.port}` : `[${e.address}]:${e.port}`;
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
  /** The bit of the capture interface of the packet being added. */
  private bit = 1;
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
      iface,
    ] = line.split('\t');
    const tcp = outer(tcpStream);
    const isIcmp = (icmp !== undefined && icmp !== '') || (icmp6 !== undefined && icmp6 !== '');
    if (!counted) {
      if (!isIcmp && tcp !== '') this.warm.add(`t${tcp}`);
      return;
    }
    this.firstTime ??= time;
    const bytes = Number(len) || 0;
    this.bit = interfaceBit(Number(iface));
    const v4 = ip4src !== undefined && ip4src !== '';
    const src = outer(v4 ? ip4src : ip6src);
    const dst = outer(v4 ? ip4dst : ip6dst);
    if (src === '' || dst === '') return;
    const pair = this.ip.get(src)?.get(dst) ?? this.ip.get(dst)?.get(src);
    if (pair) this.count(pair, src, '', bytes, time);
    else {
      const p = this.part(
        v4 ? 'ipv4' : 'ipv6',
        { address: src, port: '', v4 },
        { address: dst, port: '', v4 },
        time,
        true,
      );
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
      const from = { address: src, port: sport, v4 };
      p = this.part(tcp !== '' ? 'tcp' : 'udp', from, { address: dst, port: dport, v4 }, time, continues);
      this.streams.set(key, p);
    }
    this.count(p, src, sport, bytes, time);
  }

  /** A new part, whose side a is the packet's source. */
  private part(kind: ConversationKind, src: End, dst: End, t: Instant, continues: boolean): ConversationPart {
    const from = endName(src);
    const to = endName(dst);
    const tuple = tupleOf(kind, from, to);
    const p: ConversationPart = {
      kind,
      tuple,
      a: from,
      b: to,
      aAddress: src.address,
      aPort: src.port,
      framesAToB: 0,
      framesBToA: 0,
      bytes: 0,
      first: t,
      last: t,
      continues: continues && !this.tuples.has(tuple),
      ifaces: 0,
    };
    this.tuples.add(tuple);
    this.order.push(p);
    return p;
  }

  private count(p: ConversationPart, src: string, sport: string, bytes: number, t: Instant): void {
    p.ifaces = (p.ifaces | this.bit) >>> 0;
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
 * The conversations of consecutive ranges, joined as each range is read, in range order: a part
 * that carries on is added to the latest conversation with the same tuple. Folding a range as soon
 * as the ranges before it are in leaves only the last range's parts to join once all are read.
 */
export class ConversationFold {
  private readonly merged: ConversationPart[] = [];
  private readonly latest = new Map<string, ConversationPart>();
  private ranges = 0;

  /** The next range's parts. */
  add(parts: readonly ConversationPart[]): void {
    const { merged, latest } = this;
    const later = this.ranges++ > 0;
    for (const p of parts) {
      const into = later && p.continues ? latest.get(p.tuple) : undefined;
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
      into.ifaces = (into.ifaces | p.ifaces) >>> 0;
      if (before(p.first, into.first)) into.first = p.first;
      if (before(into.last, p.last)) into.last = p.last;
    }
  }

  /** The joined conversations, in the order their first packet came (not yet timed). */
  parts(): readonly ConversationPart[] {
    return this.merged;
  }
}

/**
 * Names of the capture interfaces in a part's ifaces, from the names by interface ID (the
 * capture's, given only when it has several interfaces: a merged capture of several hosts).
 */
export function interfaceNames(ifaces: number, names: readonly string[]): string[] {
  const out: string[] = [];
  for (let id = 0; id < 32; id++) {
    if (((ifaces >>> id) & 1) === 0) continue;
    if (id === 31 && names.length > 32) out.push(`interfaces ${id}–${names.length - 1}`);
    else out.push(names[id] ?? `interface ${id}`);
  }
  return out;
}

/**
 * A joined conversation with times in seconds from `origin`, the capture's first packet, and the
 * capture interfaces it was seen on when `interfaces` names them.
 */
export function conversationOf(
  e: ConversationPart,
  origin: Instant | undefined,
  interfaces?: readonly string[],
): Conversation {
  const zero = origin ?? '0';
  return {
    kind: e.kind,
    a: e.a,
    b: e.b,
    framesAToB: e.framesAToB,
    framesBToA: e.framesBToA,
    frames: e.framesAToB + e.framesBToA,
    bytes: e.bytes,
    startSeconds: secondsSince(zero, e.first),
    durationSeconds: secondsSince(e.first, e.last),
    ...(interfaces && { capturedOn: interfaceNames(e.ifaces, interfaces) }),
    ...withCommunityId(e.kind, e.a, e.b),
  };
}

function withCommunityId(kind: string, a: string, b: string): { communityId?: string } {
  if (kind !== 'tcp' && kind !== 'udp') return {};
  const id = communityId(kind, a, b);
  return id === undefined ? {} : { communityId: id };
}

/** The conversations of consecutive ranges, joined (see ConversationFold). */
export function mergeConversations(
  passes: readonly (readonly ConversationPart[])[],
  origin: Instant | undefined,
): Conversation[] {
  const fold = new ConversationFold();
  for (const parts of passes) fold.add(parts);
  return fold.parts().map((p) => conversationOf(p, origin));
}
