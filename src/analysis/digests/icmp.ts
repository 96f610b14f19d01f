// The icmp digest: ICMP and ICMPv6 messages, one row each (an echo request carries its reply), with
// type and code by name. An error (destination unreachable, time exceeded, ...) quotes the header of
// the packet that caused it; tshark dissects that quoted header as a second IP layer, so its fields
// are the second (last) occurrences. A second, small pass finds the causing packet's frame by its
// addresses, ports and IP id.
import { ICMP_CODES, ICMP_TYPES, ICMPV6_CODES, ICMPV6_TYPES } from './codes.js';
import { all, first, num, keyed, fieldDigest } from './fields.js';
import type { DigestReader, FieldDigest, Row } from './fields.js';
import { count, tally, timing } from './aggregate.js';

const FIELDS = [
  'frame.number',
  'ip.src',
  'ip.dst',
  'ipv6.src',
  'ipv6.dst',
  'icmp.type',
  'icmp.code',
  'icmp.seq',
  'icmp.resp_to',
  'icmp.resptime',
  'icmp.mtu',
  'icmpv6.type',
  'icmpv6.code',
  'icmpv6.echo.sequence_number',
  'icmpv6.resp_to',
  'icmpv6.resptime',
  'icmpv6.mtu',
  'ip.id',
  'ip.proto',
  'ipv6.nxt',
  'udp.srcport',
  'udp.dstport',
  'tcp.srcport',
  'tcp.dstport',
] as const;

/** Fields of the pass that looks for the packets the errors quote (their outer headers come first). */
const CAUSE_FIELDS = [
  'frame.number',
  'ip.src',
  'ip.dst',
  'ip.id',
  'ipv6.src',
  'ipv6.dst',
  'udp.srcport',
  'udp.dstport',
  'tcp.srcport',
  'tcp.dstport',
] as const;

/** Errors quote the packet that caused them (RFC 792 / RFC 4443). */
const ERROR_TYPES = { v4: new Set(['3', '4', '5', '11', '12']), v6: new Set(['1', '2', '3', '4']) };

/** More distinct quoted packets than this and the frame lookup is skipped (the filter would be huge). */
const MAX_CAUSE_LOOKUPS = 1000;

const PROTOCOLS: Record<string, string> = { '1': 'ICMP', '6': 'TCP', '17': 'UDP', '58': 'ICMPv6' };

const last = (v: string | undefined): string => all(v).at(-1) ?? '';

/** The quoted packet of an error, as read from the inner (last) occurrences of its fields. */
interface Quoted {
  readonly v6: boolean;
  readonly src: string;
  readonly dst: string;
  readonly id: string;
  readonly sport: string;
  readonly dport: string;
}

/** What a row keeps beside its columns, until the cause pass has run. */
const QUOTED = new WeakMap<Row, Quoted>();

function quotedOf(f: Map<string, string>, v6: boolean): Quoted | undefined {
  // Two IP layers: the error's own, then the quoted one.
  const srcs = all(f.get(v6 ? 'ipv6.src' : 'ip.src'));
  if (srcs.length < 2) return undefined;
  return {
    v6,
    src: srcs.at(-1) ?? '',
    dst: last(f.get(v6 ? 'ipv6.dst' : 'ip.dst')),
    id: v6 ? '' : last(f.get('ip.id')),
    sport: last(f.get('udp.srcport')) || last(f.get('tcp.srcport')),
    dport: last(f.get('udp.dstport')) || last(f.get('tcp.dstport')),
  };
}

/** "UDP 127.0.0.1:5353 → 127.0.0.2:53" from the quoted header, or "(unparsed, frame N)". */
function describeQuoted(f: Map<string, string>, v6: boolean, frame: string): string {
  const q = quotedOf(f, v6);
  if (!q) return `(unparsed, frame ${frame}: no quoted header)`;
  const proto = last(f.get(v6 ? 'ipv6.nxt' : 'ip.proto'));
  const name = PROTOCOLS[proto] ?? `IP protocol ${proto}`;
  const end = (a: string, p: string): string => (p === '' ? a : v6 ? `[${a}]:${p}` : `${a}:${p}`);
  const id = q.id !== '' ? `, ip.id ${q.id}` : '';
  return `${name} ${end(q.src, q.sport)} → ${end(q.dst, q.dport)}${id}`;
}

function typeName(v6: boolean, type: string, frame: string): string {
  if (type === '') return `(unparsed, frame ${frame})`;
  return (v6 ? ICMPV6_TYPES : ICMP_TYPES)[type] ?? `${v6 ? 'ICMPv6' : 'ICMP'} type ${type}`;
}

function codeName(v6: boolean, type: string, code: string, mtu: number | null): string {
  const name = (v6 ? ICMPV6_CODES : ICMP_CODES)[type]?.[code] ?? (code === '0' ? '' : `code ${code}`);
  const withMtu = mtu !== null ? `${name === '' ? 'MTU' : `${name}, MTU`} ${mtu}` : name;
  return withMtu === '' ? 'code 0' : withMtu;
}

const base = fieldDigest({
  kind: 'icmp',
  description:
    'echo requests with their reply and round trip; errors by type and code name, each with the frame and addresses/ports of the packet that caused it.',
  filter: 'icmp || icmpv6',
  fields: FIELDS,
  columns: ['frame', 'from', 'to', 'message', 'code', 'sequence', 'outcome', 'rttMs', 'causeFrame', 'cause'],
  aggregate(rows) {
    const requests = rows.filter((r) => r.message === 'echo request');
    const replied = requests.filter((r) => r.outcome === 'reply').length;
    const lost = requests.length - replied;
    const lossPct = requests.length > 0 ? ` (${Math.round((lost / requests.length) * 1000) / 10}%)` : '';
    const messages = rows.flatMap((r) => (r.outcome === 'reply' ? [r.message, 'echo reply'] : [r.message]));
    const errors = rows.filter((r) => r.outcome === 'error');
    const drewError = requests.filter((r) => r.outcome !== 'reply' && r.outcome !== 'no reply').length;
    // What caused the errors, without the per-packet source port and IP id, so like errors add up.
    const causes = errors.map(
      (r) =>
        `${String(r.code)} from ${String(r.from)} for ${String(r.cause)
          .replace(/ \(.*$/, '')
          .replace(/, ip\.id \S+/, '')
          .replace(/:\d+ →/, ' →')}`,
    );
    return [
      `${count(messages.length, 'message')} by type: ${tally(messages)}`,
      `echo: ${count(requests.length, 'request')}, ${lost} without reply${lossPct}${drewError > 0 ? ` (${drewError} answered by an error)` : ''}, RTT ${timing(rows.map((r) => r.rttMs))}`,
      `${count(errors.length, 'error')}${errors.length > 0 ? ` (code, from, caused by): ${tally(causes)}` : ''}`,
    ].join('; ');
  },
  build(rows) {
    const out: Row[] = [];
    const requests = new Map<string, Row>();
    for (const f of keyed(this.fields, rows)) {
      const v6 = first(f.get('icmpv6.type')) !== '';
      const type = first(f.get(v6 ? 'icmpv6.type' : 'icmp.type'));
      const code = first(f.get(v6 ? 'icmpv6.code' : 'icmp.code'));
      const frame = f.get('frame.number') ?? '';
      const from = first(f.get(v6 ? 'ipv6.src' : 'ip.src'));
      const to = first(f.get(v6 ? 'ipv6.dst' : 'ip.dst'));
      const seq = first(f.get(v6 ? 'icmpv6.echo.sequence_number' : 'icmp.seq'));
      const row: Row = {
        frame: Number(frame),
        from,
        to,
        message: typeName(v6, type, frame),
        code: codeName(v6, type, code, num(f.get(v6 ? 'icmpv6.mtu' : 'icmp.mtu'))),
        sequence: seq === '' ? null : Number(seq),
        outcome: '',
        rttMs: null,
        causeFrame: null,
        cause: null,
      };
      if (v6 ? type === '128' : type === '8') {
        row.code = null;
        row.outcome = 'no reply';
        requests.set(frame, row);
      } else if (v6 ? type === '129' : type === '0') {
        const req = requests.get(first(f.get(v6 ? 'icmpv6.resp_to' : 'icmp.resp_to')));
        if (req) {
          req.outcome = 'reply';
          req.rttMs = num(f.get(v6 ? 'icmpv6.resptime' : 'icmp.resptime'));
          continue;
        }
        row.code = null;
        row.outcome = 'request not captured';
      } else if (ERROR_TYPES[v6 ? 'v6' : 'v4'].has(type)) {
        row.outcome = 'error';
        row.cause = describeQuoted(f, v6, frame);
        const q = quotedOf(f, v6);
        if (q) QUOTED.set(row, q);
      } else row.outcome = 'informational';
      out.push(row);
    }
    return out;
  },
});

/** The frames the errors quote: the last earlier packet with the same addresses, ports and IP id. */
async function findCauses(read: DigestReader, rows: readonly Row[]): Promise<void> {
  const errors = rows.filter((r) => QUOTED.has(r));
  if (errors.length === 0) return;
  const key = (q: Omit<Quoted, 'v6'>): string => [q.src, q.dst, q.id, q.sport, q.dport].join(' ');
  const clauses = new Set<string>();
  for (const r of errors) {
    const q = QUOTED.get(r);
    if (!q) continue;
    clauses.add(
      q.v6
        ? `(ipv6.src == ${q.src} && ipv6.dst == ${q.dst})`
        : `(ip.src == ${q.src} && ip.dst == ${q.dst} && ip.id == ${q.id})`,
    );
  }
  if (clauses.size > MAX_CAUSE_LOOKUPS) {
    for (const r of errors)
      r.cause = `${String(r.cause)} (frame not looked up: over ${MAX_CAUSE_LOOKUPS} distinct errors; filter on fewer)`;
    return;
  }
  // Candidates, keyed by their own (outer) header; several packets may share one, the latest wins.
  const seen = new Map<string, number[]>();
  for (const f of keyed(CAUSE_FIELDS, await read.fields([...clauses].join(' || '), CAUSE_FIELDS))) {
    const v6 = first(f.get('ipv6.src')) !== '' && first(f.get('ip.src')) === '';
    const k = key({
      src: first(f.get(v6 ? 'ipv6.src' : 'ip.src')),
      dst: first(f.get(v6 ? 'ipv6.dst' : 'ip.dst')),
      id: v6 ? '' : first(f.get('ip.id')),
      sport: first(f.get('udp.srcport')) || first(f.get('tcp.srcport')),
      dport: first(f.get('udp.dstport')) || first(f.get('tcp.dstport')),
    });
    seen.set(k, [...(seen.get(k) ?? []), Number(f.get('frame.number'))]);
  }
  const byFrame = new Map(rows.map((r) => [r.frame, r]));
  for (const r of errors) {
    const q = QUOTED.get(r);
    const frames = q ? (seen.get(key(q)) ?? []).filter((n) => n < Number(r.frame)) : [];
    const found = frames.at(-1);
    if (found === undefined) {
      r.cause = `${String(r.cause)} (its frame is not in the capture, or outside the display filter)`;
      continue;
    }
    r.causeFrame = found;
    // An echo request that drew an error (a traceroute hop) says so instead of "no reply".
    const request = byFrame.get(found);
    if (request?.message === 'echo request' && request.outcome === 'no reply')
      request.outcome = `${String(r.message)} from ${String(r.from)} (frame ${String(r.frame)})`;
  }
}

export const icmp: FieldDigest<'icmp'> = {
  ...base,
  async collect(read, options) {
    const rows = base.build(await read.fields(base.filter, base.fields), options);
    await findCauses(read, rows);
    return rows;
  },
};
