// The dns digest: DNS queries and their answers, one row per question a client asked, built from
// tshark's fields. A query sent again unanswered (same client, server, id, name and type; resolvers
// such as c-ares resend from a new source port, where tshark's own dns.retransmission does not see
// it) is counted on the first copy's row, never listed as a second, unanswered query.
import { DNS_TYPES, DNS_RCODES } from './codes.js';
import { all, first, num, ms, keyed, fieldDigest } from './fields.js';
import type { FieldDigest, Row } from './fields.js';
import { column, count, tally, timing } from './aggregate.js';

/** Answers a cell lists before it says how many are left and where to read them. */
const MAX_ANSWERS = 10;

/** How long after its last copy a query can still be sent again (resolvers give up within seconds). */
const RETRY_WINDOW_S = 30;

const NO_RESPONSE = 'no response';

/** The k-th value of a field in a response, undefined when there is none. */
type Nth = (field: string) => string | undefined;

/** How each record type reads, from its fields; a type not here shows as "(unparsed, frame N)". */
const RECORDS: Record<string, (nth: Nth) => string | undefined> = {
  A: (nth) => nth('dns.a'),
  AAAA: (nth) => nth('dns.aaaa'),
  CNAME: (nth) => nth('dns.cname'),
  PTR: (nth) => prefixed('PTR', nth('dns.ptr.domain_name')),
  NS: (nth) => prefixed('NS', nth('dns.ns')),
  SOA: (nth) => prefixed('SOA', nth('dns.soa.mname')),
  MX: (nth) => prefixed('MX', joined(nth('dns.mx.preference'), nth('dns.mx.mail_exchange'), ' ')),
  SRV: (nth) => prefixed('SRV', joined(nth('dns.srv.target'), nth('dns.srv.port'), ':')),
  SVCB: (nth) => prefixed('SVCB', nth('dns.svcb.targetname')),
  HTTPS: (nth) => prefixed('HTTPS', nth('dns.svcb.targetname')),
  DNSKEY: (nth) => prefixed('DNSKEY key id', nth('dns.dnskey.key_id')),
  DS: (nth) => prefixed('DS key id', nth('dns.ds.key_id')),
  RRSIG: (nth) => {
    const covered = nth('dns.rrsig.type_covered');
    return prefixed(
      'RRSIG of',
      covered === undefined ? undefined : (DNS_TYPES[covered] ?? `type ${covered}`),
    );
  },
};

/** The fields RECORDS reads (and TXT's). */
const RECORD_FIELDS = [
  'dns.a',
  'dns.aaaa',
  'dns.cname',
  'dns.ptr.domain_name',
  'dns.ns',
  'dns.soa.mname',
  'dns.mx.preference',
  'dns.mx.mail_exchange',
  'dns.srv.port',
  'dns.srv.target',
  'dns.svcb.targetname',
  'dns.dnskey.key_id',
  'dns.ds.key_id',
  'dns.rrsig.type_covered',
  'dns.txt',
];

/**
 * Each answer record as "value" (A, AAAA, CNAME) or "TYPE value", read from the fields of its type.
 * `dns.resp.type` lists the records of every section in packet order, answers first, so the first
 * `dns.count.answers` are the answers and the k-th record of a type is that type's k-th value.
 */
function answersOf(f: Map<string, string>, frame: string): string {
  const n = num(f.get('dns.count.answers')) ?? 0;
  if (n === 0) return '(no records)';
  const seen = new Map<string, number>();
  const items: string[] = [];
  let txt = false;
  for (const code of all(f.get('dns.resp.type')).slice(0, n)) {
    const name = DNS_TYPES[code] ?? `type ${code}`;
    const k = seen.get(code) ?? 0;
    seen.set(code, k + 1);
    if (name === 'TXT') {
      // One TXT record can hold several strings, which cannot be told apart per record: all of
      // them, once, for the TXT records together.
      if (!txt)
        items.push(
          `TXT ${all(f.get('dns.txt'))
            .map((s) => JSON.stringify(s))
            .join(' ')}`,
        );
      txt = true;
      continue;
    }
    const value = RECORDS[name]?.((field) => all(f.get(field))[k]);
    items.push(value ?? `${name} (unparsed, frame ${frame})`);
  }
  if (items.length <= MAX_ANSWERS) return items.join(', ');
  return `${items.slice(0, MAX_ANSWERS).join(', ')}, … ${items.length - MAX_ANSWERS} more (get_packet_details frames "${frame}")`;
}

const prefixed = (type: string, v: string | undefined): string | undefined =>
  v === undefined ? undefined : `${type} ${v}`;
const joined = (a: string | undefined, b: string | undefined, sep: string): string | undefined =>
  a === undefined || b === undefined ? undefined : `${a}${sep}${b}`;

const address = (f: Map<string, string>, side: 'src' | 'dst'): string =>
  first(f.get(`ip.${side}`)) || first(f.get(`ipv6.${side}`));

export const dns: FieldDigest<'dns'> = fieldDigest({
  kind: 'dns',
  description:
    'queries with client, server, type, rcode, answers, response time (from the first copy) and how often the query was sent again.',
  filter: 'dns',
  fields: [
    'frame.number',
    'frame.time_relative',
    'ip.src',
    'ipv6.src',
    'ip.dst',
    'ipv6.dst',
    'dns.id',
    'dns.flags.response',
    'dns.qry.name',
    'dns.qry.type',
    'dns.flags.rcode',
    'dns.count.answers',
    'dns.resp.type',
    ...RECORD_FIELDS,
    'dns.time',
    'dns.response_to',
    'dns.retransmission',
  ],
  columns: [
    'frame',
    'client',
    'server',
    'query',
    'type',
    'rcode',
    'answers',
    'responseMs',
    'retransmissions',
  ],
  countsLoss: 'unanswered and retransmitted queries',
  aggregate(rows) {
    const unanswered = rows.filter((r) => r.rcode === NO_RESPONSE).length;
    const copies = rows.reduce(
      (n, r) => n + (typeof r.retransmissions === 'number' ? r.retransmissions : 0),
      0,
    );
    const resent = rows.filter((r) => typeof r.retransmissions === 'number' && r.retransmissions > 0);
    const answeredResent = resent.filter((r) => r.rcode !== NO_RESPONSE).length;
    return [
      `${count(rows.length, 'query', 'queries')}`,
      `by rcode: ${tally(column(rows, 'rcode'))}`,
      `unanswered ${unanswered}`,
      resent.length === 0
        ? 'sent again: none'
        : `sent again: ${count(resent.length, 'query', 'queries')} (${count(copies, 'extra copy', 'extra copies')}; ${answeredResent} of them answered in the end)`,
      `response time ${timing(column(rows, 'responseMs'))}`,
      `servers: ${tally(column(rows, 'server'))}`,
    ].join('; ');
  },
  build(rows) {
    const out: Row[] = [];
    /** Every query frame (first copy or a copy sent again) to its row. */
    const byFrame = new Map<string, Row>();
    /** Unanswered questions by client, server, id, name and type, with when they were last sent. */
    const pending = new Map<string, { row: Row; last: number }>();
    /** Answered questions by the same key, for an answer sent again (tshark: dns.retransmission). */
    const answered = new Map<string, Row>();
    const start = new Map<Row, number>();
    for (const f of keyed(this.fields, rows)) {
      const frame = f.get('frame.number') ?? '';
      const time = num(f.get('frame.time_relative')) ?? 0;
      const qtype = first(f.get('dns.qry.type'));
      const type = DNS_TYPES[qtype] ?? (qtype === '' ? `(unparsed, frame ${frame})` : `type ${qtype}`);
      const query = first(f.get('dns.qry.name')) || `(unparsed, frame ${frame})`;
      const id = first(f.get('dns.id'));
      if (first(f.get('dns.flags.response')) !== '1') {
        const client = address(f, 'src');
        const server = address(f, 'dst');
        const key = [client, server, id, query, type].join('|');
        const earlier = pending.get(key);
        if (
          earlier &&
          (time - earlier.last <= RETRY_WINDOW_S || first(f.get('dns.retransmission')) === '1')
        ) {
          earlier.row.retransmissions = Number(earlier.row.retransmissions) + 1;
          earlier.last = time;
          byFrame.set(frame, earlier.row);
          continue;
        }
        const row: Row = {
          frame: Number(frame),
          client,
          server,
          query,
          type,
          rcode: NO_RESPONSE,
          answers: '(no response)',
          responseMs: null,
          retransmissions: 0,
        };
        byFrame.set(frame, row);
        pending.set(key, { row, last: time });
        start.set(row, time);
        out.push(row);
        continue;
      }
      const code = first(f.get('dns.flags.rcode'));
      const rcode = DNS_RCODES[code] ?? (code === '' ? `(unparsed, frame ${frame})` : `rcode ${code}`);
      const answers = answersOf(f, frame);
      const client = address(f, 'dst');
      const server = address(f, 'src');
      const key = [client, server, id, query, type].join('|');
      // tshark pairs by id within a conversation; the key finds the question when it does not.
      const asked =
        byFrame.get(first(f.get('dns.response_to'))) ??
        pending.get(key)?.row ??
        (first(f.get('dns.retransmission')) === '1' ? answered.get(key) : undefined);
      if (asked) {
        // A second answer (to a copy sent again) adds nothing to a question already answered.
        if (asked.rcode !== NO_RESPONSE) continue;
        asked.rcode = rcode;
        asked.answers = answers;
        const resent = Number(asked.retransmissions) > 0;
        const sentAt = start.get(asked);
        asked.responseMs =
          resent && sentAt !== undefined
            ? ms(time - sentAt)
            : (ms(num(f.get('dns.time'))) ?? ms(time - (sentAt ?? time)));
        for (const [k, p] of pending) if (p.row === asked) pending.delete(k);
        answered.set(key, asked);
        continue;
      }
      out.push({
        frame: Number(frame),
        client,
        server,
        query,
        type,
        rcode: `${rcode} (query not captured)`,
        answers,
        responseMs: null,
        retransmissions: 0,
      });
    }
    return out;
  },
});
