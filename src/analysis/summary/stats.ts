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
 * The statistics of consecutive ranges of one capture, added up: protocol counts by path (a path
 * first seen in a later range goes after its parent's other children, as tshark orders them by
 * first appearance), endpoints by address, expert messages by what they say.
 */
export function mergeStatistics(parts: readonly Statistics[]): Statistics {
  if (parts.length === 1 && parts[0]) return parts[0];
  interface Node {
    node: ProtocolNode;
    children: Node[];
  }
  const root: Node[] = [];
  const byPath = new Map<string, Node>();
  for (const part of parts) {
    for (const p of part.protocols) {
      const known = byPath.get(p.path);
      if (known) {
        known.node = {
          ...known.node,
          frames: known.node.frames + p.frames,
          bytes: known.node.bytes + p.bytes,
        };
        continue;
      }
      const fresh: Node = { node: p, children: [] };
      byPath.set(p.path, fresh);
      const parent = p.path.includes(':') ? byPath.get(p.path.slice(0, p.path.lastIndexOf(':'))) : undefined;
      (parent ? parent.children : root).push(fresh);
    }
  }
  const protocols: ProtocolNode[] = [];
  const walk = (nodes: Node[]): void => {
    for (const n of nodes) {
      protocols.push(n.node);
      walk(n.children);
    }
  };
  walk(root);

  const endpoints = new Map<string, Endpoint>();
  for (const part of parts) {
    for (const e of part.endpoints) {
      const key = `${e.kind} ${e.address}`;
      const known = endpoints.get(key);
      endpoints.set(
        key,
        known
          ? {
              ...known,
              packets: known.packets + e.packets,
              bytes: known.bytes + e.bytes,
              txBytes: known.txBytes + e.txBytes,
              rxBytes: known.rxBytes + e.rxBytes,
            }
          : e,
      );
    }
  }
  const expert = new Map<string, ExpertEntry>();
  for (const part of parts) {
    for (const e of part.expert) {
      const key = `${e.severity}\t${e.group}\t${e.protocol}\t${e.summary}`;
      const known = expert.get(key);
      expert.set(key, known ? { ...known, count: known.count + e.count } : e);
    }
  }
  return { protocols, endpoints: [...endpoints.values()], expert: [...expert.values()] };
}
