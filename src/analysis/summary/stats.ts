// Parsers for tshark's `-z` statistics output (io,phs, endpoints, expert), which tshark only
// prints as fixed-layout text. Pure: text in, typed values out, tested on recorded output. Several
// statistics printed by one run are told apart by their section titles.
import type { ConversationKind, Endpoint, ExpertEntry, ProtocolNode, Severity, Statistics } from './types.js';

const KIND: Record<string, ConversationKind> = { TCP: 'tcp', UDP: 'udp', IPv4: 'ipv4', IPv6: 'ipv6' };
const SEVERITY: Record<string, Severity> = {
  Errors: 'error',
  Warns: 'warning',
  Notes: 'note',
  Chats: 'chat',
  Comments: 'comment',
};

type Section =
  | { kind: 'phs' }
  | { kind: 'endpoints'; of: ConversationKind }
  | { kind: 'expert'; severity: Severity }
  | { kind: 'none' };

export function parseStatistics(text: string): Statistics {
  const out: Statistics = { protocols: [], endpoints: [], expert: [] };
  let section: Section = { kind: 'none' };
  const stack: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const title = line.match(/^(TCP|UDP|IPv4|IPv6) Endpoints$/);
    if (title) {
      section = { kind: 'endpoints', of: KIND[title[1] ?? ''] ?? 'tcp' };
      continue;
    }
    if (line === 'Protocol Hierarchy Statistics') {
      section = { kind: 'phs' };
      stack.length = 0;
      continue;
    }
    const expertTitle = line.match(/^(Errors|Warns|Notes|Chats|Comments) \(\d+\)$/);
    if (expertTitle) {
      section = { kind: 'expert', severity: SEVERITY[expertTitle[1] ?? ''] ?? 'note' };
      continue;
    }
    switch (section.kind) {
      case 'phs': {
        const m = line.match(/^(\s*)(\S+)\s+frames:(\d+) bytes:(\d+)$/);
        if (!m) break;
        const depth = Math.floor((m[1] ?? '').length / 2);
        stack.length = depth;
        stack.push(m[2] ?? '');
        out.protocols.push({
          path: stack.join(':'),
          protocol: m[2] ?? '',
          depth,
          frames: Number(m[3]),
          bytes: Number(m[4]),
        });
        break;
      }
      case 'endpoints': {
        const e = parseEndpointRow(line, section.of);
        if (e) out.endpoints.push(e);
        break;
      }
      case 'expert': {
        // "%12u %10s %18s  %s": a group may hold a space; the protocol is padded, so the summary
        // starts after the first two spaces that a non-space follows.
        const m = line.match(/^\s*(\d+)\s+(.+?)\s+(\S+) {2}(\S.*)$/);
        if (m) {
          out.expert.push({
            severity: section.severity,
            count: Number(m[1]),
            group: m[2] ?? '',
            protocol: m[3] ?? '',
            summary: (m[4] ?? '').replace(/\\r\\n$/, ''),
          });
        }
        break;
      }
      case 'none':
        break;
    }
  }
  return out;
}

function parseEndpointRow(line: string, kind: ConversationKind): Endpoint | undefined {
  const t = line.trim().split(/\s+/);
  const withPort = kind === 'tcp' || kind === 'udp';
  const n = withPort ? 8 : 7;
  if (t.length !== n || !/^\d+$/.test(t[n - 1] ?? '')) return undefined;
  const nums = t.slice(withPort ? 2 : 1).map(Number);
  if (nums.some((x) => !Number.isFinite(x))) return undefined;
  const address = withPort ? `${t[0] ?? ''}:${t[1] ?? ''}` : (t[0] ?? '');
  return {
    kind,
    address,
    packets: nums[0] ?? 0,
    bytes: nums[1] ?? 0,
    txBytes: nums[3] ?? 0,
    rxBytes: nums[5] ?? 0,
  };
}

/** The `-z` arguments whose output parseStatistics reads. */
export const SUMMARY_STATISTICS = [
  'io,phs',
  'endpoints,ip',
  'endpoints,ipv6',
  'endpoints,tcp',
  'endpoints,udp',
  'expert',
] as const;

/**
 * The statistics of consecutive ranges of one capture, added up as each range is read, in range
 * order: protocol counts by path (a path first seen in a later range goes after its parent's other
 * children, as tshark orders them by first appearance), endpoints by address, expert messages by
 * what they say.
 */
export class StatisticsFold {
  private readonly root: FoldNode[] = [];
  private readonly byPath = new Map<string, FoldNode>();
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly expert = new Map<string, ExpertEntry>();
  private only: Statistics | undefined;
  private ranges = 0;

  /** The next range's statistics. */
  add(part: Statistics): void {
    // One range's statistics are the answer as they are: nothing is copied for a single pass.
    if (this.ranges++ === 0) {
      this.only = part;
      return;
    }
    if (this.only) {
      const first = this.only;
      this.only = undefined;
      this.fold(first);
    }
    this.fold(part);
  }

  result(): Statistics {
    if (this.only) return this.only;
    const protocols: ProtocolNode[] = [];
    const walk = (nodes: FoldNode[]): void => {
      for (const n of nodes) {
        protocols.push({ ...n.node, frames: n.frames, bytes: n.bytes });
        walk(n.children);
      }
    };
    walk(this.root);
    return { protocols, endpoints: [...this.endpoints.values()], expert: [...this.expert.values()] };
  }

  private fold(part: Statistics): void {
    for (const p of part.protocols) {
      const known = this.byPath.get(p.path);
      if (known) {
        known.frames += p.frames;
        known.bytes += p.bytes;
        continue;
      }
      const fresh: FoldNode = { node: p, frames: p.frames, bytes: p.bytes, children: [] };
      this.byPath.set(p.path, fresh);
      const parent = p.path.includes(':')
        ? this.byPath.get(p.path.slice(0, p.path.lastIndexOf(':')))
        : undefined;
      (parent ? parent.children : this.root).push(fresh);
    }
    const endpoints = this.endpoints;
    for (const e of part.endpoints) {
      const key = `${e.kind} ${e.address}`;
      const known = endpoints.get(key);
      if (!known) endpoints.set(key, { ...e });
      else {
        known.packets += e.packets;
        known.bytes += e.bytes;
        known.txBytes += e.txBytes;
        known.rxBytes += e.rxBytes;
      }
    }
    const expert = this.expert;
    for (const e of part.expert) {
      const key = `${e.severity}\t${e.group}\t${e.protocol}\t${e.summary}`;
      const known = expert.get(key);
      if (!known) expert.set(key, { ...e });
      else known.count += e.count;
    }
  }
}

interface FoldNode {
  readonly node: ProtocolNode;
  frames: number;
  bytes: number;
  readonly children: FoldNode[];
}

/** The statistics of consecutive ranges of one capture, added up (see StatisticsFold). */
export function mergeStatistics(parts: readonly Statistics[]): Statistics {
  const fold = new StatisticsFold();
  for (const part of parts) fold.add(part);
  return fold.result();
}
