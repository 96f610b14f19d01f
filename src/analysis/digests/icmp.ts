// The icmp digest: ICMP messages, one row each, built from tshark's fields.
import { ICMP_TYPES } from './codes.js';
import { first, num, keyed, fieldDigest } from './fields.js';
import type { FieldDigest, Row } from './fields.js';
import { column, count, tally, timing } from './aggregate.js';

export const icmp: FieldDigest<'icmp'> = fieldDigest({
  kind: 'icmp',
  description: 'echo requests and replies, errors.',
  filter: 'icmp || icmpv6',
  fields: [
    'frame.number',
    'ip.src',
    'ip.dst',
    'ipv6.src',
    'ipv6.dst',
    'icmp.type',
    'icmp.code',
    'icmp.ident',
    'icmp.seq',
    'icmp.resp_to',
    'icmp.resptime',
    'icmpv6.type',
    'icmpv6.code',
    'icmpv6.echo.sequence_number',
    'icmpv6.resp_to',
    'icmpv6.resptime',
  ],
  columns: ['frame', 'from', 'to', 'message', 'sequence', 'outcome', 'rttMs'],
  aggregate(rows) {
    return `${count(rows.length, 'message')}; by message: ${tally(column(rows, 'message'))}; by outcome: ${tally(column(rows, 'outcome'))}; RTT ${timing(column(rows, 'rttMs'))}`;
  },
  build(rows) {
    const out: Row[] = [];
    const requests = new Map<string, Row>();
    for (const f of keyed(this.fields, rows)) {
      const v6 = first(f.get('icmpv6.type')) !== '';
      const type = first(f.get(v6 ? 'icmpv6.type' : 'icmp.type'));
      const frame = f.get('frame.number') ?? '';
      const from = first(f.get(v6 ? 'ipv6.src' : 'ip.src'));
      const to = first(f.get(v6 ? 'ipv6.dst' : 'ip.dst'));
      const seq = first(f.get(v6 ? 'icmpv6.echo.sequence_number' : 'icmp.seq'));
      const isRequest = v6 ? type === '128' : type === '8';
      const isReply = v6 ? type === '129' : type === '0';
      if (isRequest) {
        const row: Row = {
          frame: Number(frame),
          from,
          to,
          message: 'echo request',
          sequence: seq,
          outcome: 'no reply',
          rttMs: null,
        };
        requests.set(frame, row);
        out.push(row);
      } else if (isReply) {
        const req = requests.get(first(f.get(v6 ? 'icmpv6.resp_to' : 'icmp.resp_to')));
        if (req) {
          req.outcome = 'reply';
          req.rttMs = num(f.get(v6 ? 'icmpv6.resptime' : 'icmp.resptime'));
        } else
          out.push({
            frame: Number(frame),
            from,
            to,
            message: 'echo reply',
            sequence: seq,
            outcome: 'request not captured',
            rttMs: null,
          });
      } else {
        const code = first(f.get(v6 ? 'icmpv6.code' : 'icmp.code'));
        const name = v6 ? `ICMPv6 type ${type}` : (ICMP_TYPES[type] ?? `type ${type}`);
        out.push({
          frame: Number(frame),
          from,
          to,
          message: `${name} (code ${code})`,
          sequence: seq,
          outcome: '',
          rttMs: null,
        });
      }
    }
    return out;
  },
});
