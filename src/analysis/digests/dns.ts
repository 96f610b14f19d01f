// The dns digest: DNS queries and their answers, one row each, built from tshark's fields.
import { DNS_TYPES, DNS_RCODES } from './codes.js';
import { all, first, num, ms, keyed, fieldDigest } from './fields.js';
import type { FieldDigest, Row } from './fields.js';
import { column, count, tally, timing } from './aggregate.js';

export const dns: FieldDigest<'dns'> = fieldDigest({
  kind: 'dns',
  description: 'queries with type, rcode, answers, response time.',
  filter: 'dns',
  fields: [
    'frame.number',
    'frame.time_relative',
    'ip.src',
    'ipv6.src',
    'dns.id',
    'dns.flags.response',
    'dns.qry.name',
    'dns.qry.type',
    'dns.flags.rcode',
    'dns.a',
    'dns.aaaa',
    'dns.cname',
    'dns.time',
    'dns.response_to',
  ],
  columns: ['frame', 'client', 'query', 'type', 'rcode', 'answers', 'responseMs'],
  aggregate(rows) {
    const unanswered = rows.filter((r) => r.rcode === 'no response').length;
    return `${count(rows.length, 'query', 'queries')}; by rcode: ${tally(column(rows, 'rcode'))}; unanswered ${unanswered}; response time ${timing(column(rows, 'responseMs'))}`;
  },
  build(rows) {
    const out: Row[] = [];
    const byFrame = new Map<string, Row>();
    for (const f of keyed(this.fields, rows)) {
      const frame = f.get('frame.number') ?? '';
      const type = DNS_TYPES[first(f.get('dns.qry.type'))] ?? first(f.get('dns.qry.type'));
      if (first(f.get('dns.flags.response')) !== '1') {
        const row: Row = {
          frame: Number(frame),
          client: first(f.get('ip.src')) || first(f.get('ipv6.src')),
          query: first(f.get('dns.qry.name')),
          type,
          rcode: 'no response',
          answers: '',
          responseMs: null,
        };
        byFrame.set(frame, row);
        out.push(row);
        continue;
      }
      const answers = [...all(f.get('dns.a')), ...all(f.get('dns.aaaa')), ...all(f.get('dns.cname'))].join(
        ', ',
      );
      const rcode = DNS_RCODES[first(f.get('dns.flags.rcode'))] ?? `rcode ${first(f.get('dns.flags.rcode'))}`;
      const query = byFrame.get(first(f.get('dns.response_to')));
      if (query) {
        query.rcode = rcode;
        query.answers = answers;
        query.responseMs = ms(num(f.get('dns.time')));
      } else {
        out.push({
          frame: Number(frame),
          client: '',
          query: first(f.get('dns.qry.name')),
          type,
          rcode: `${rcode} (query not captured)`,
          answers,
          responseMs: null,
        });
      }
    }
    return out;
  },
});
