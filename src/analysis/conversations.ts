// Conversations counted from per-packet fields, because tshark 4.0 prints `-z conv` bytes rounded
// ("176 kB"), which cannot rank them. One line of `-T fields` per packet in CONVERSATION_FIELDS
// order; the aggregate keeps one entry per conversation. Pure.
import type { Conversation, ConversationKind } from './stats.js';

export const CONVERSATION_FIELDS = [
  'frame.len',
  'frame.time_relative',
  'ip.src',
  'ip.dst',
  'ipv6.src',
  'ipv6.dst',
  'tcp.stream',
  'tcp.srcport',
  'tcp.dstport',
  'udp.stream',
  'udp.srcport',
  'udp.dstport',
  'icmp.type',
  'icmpv6.type',
] as const;

interface Entry {
  kind: ConversationKind;
  a: string;
  b: string;
  framesAToB: number;
  framesBToA: number;
  bytes: number;
  first: number;
  last: number;
}

export class ConversationAggregator {
  private readonly entries = new Map<string, Entry>();

  /** One packet's fields, in CONVERSATION_FIELDS order. */
  add(cols: readonly string[]): void {
    const [
      len,
      time,
      ip4src,
      ip4dst,
      ip6src,
      ip6dst,
      tcpStream,
      tcpSrc,
      tcpDst,
      udpStream,
      udpSrc,
      udpDst,
      icmp,
      icmp6,
    ] = cols;
    const bytes = Number(len) || 0;
    const t = Number(time) || 0;
    // Tunnels repeat the address fields; the first occurrence is the outer header.
    const first = (s: string | undefined): string => (s ?? '').split(',')[0] ?? '';
    const v4 = first(ip4src) !== '';
    const src = v4 ? first(ip4src) : first(ip6src);
    const dst = v4 ? first(ip4dst) : first(ip6dst);
    if (src === '' || dst === '') return;
    const host = (addr: string, port: string): string => (v4 ? `${addr}:${port}` : `[${addr}]:${port}`);
    this.count(v4 ? 'ipv4' : 'ipv6', [src, dst].sort().join(' '), src, dst, bytes, t);
    // An ICMP error quotes the TCP or UDP header it is about; it belongs to no stream of its own.
    if (first(icmp) !== '' || first(icmp6) !== '') return;
    if (first(tcpStream) !== '') {
      this.count(
        'tcp',
        `tcp ${first(tcpStream)}`,
        host(src, first(tcpSrc)),
        host(dst, first(tcpDst)),
        bytes,
        t,
      );
    } else if (first(udpStream) !== '') {
      this.count(
        'udp',
        `udp ${first(udpStream)}`,
        host(src, first(udpSrc)),
        host(dst, first(udpDst)),
        bytes,
        t,
      );
    }
  }

  private count(
    kind: ConversationKind,
    key: string,
    from: string,
    to: string,
    bytes: number,
    t: number,
  ): void {
    let e = this.entries.get(`${kind}|${key}`);
    if (!e) {
      e = { kind, a: from, b: to, framesAToB: 0, framesBToA: 0, bytes: 0, first: t, last: t };
      this.entries.set(`${kind}|${key}`, e);
    }
    if (from === e.a) e.framesAToB++;
    else e.framesBToA++;
    e.bytes += bytes;
    e.first = Math.min(e.first, t);
    e.last = Math.max(e.last, t);
  }

  conversations(): Conversation[] {
    return [...this.entries.values()].map((e) => ({
      kind: e.kind,
      a: e.a,
      b: e.b,
      framesAToB: e.framesAToB,
      framesBToA: e.framesBToA,
      frames: e.framesAToB + e.framesBToA,
      bytes: e.bytes,
      startSeconds: e.first,
      durationSeconds: e.last - e.first,
    }));
  }
}
