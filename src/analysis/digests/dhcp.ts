// The dhcp digest: DHCP exchanges, one row each, built from tshark's fields. An exchange is keyed by
// its transaction id (xid) and client: a retransmitted DISCOVER or REQUEST is counted on its row, not
// listed as another; a REQUEST that answers an OFFER under a new xid (some clients change it) joins
// the exchange of that OFFER.
import { DHCP_TYPES } from './codes.js';
import { first, num, keyed, fieldDigest } from './fields.js';
import type { FieldDigest, Row } from './fields.js';
import { column, count, tally } from './aggregate.js';

/** Messages a client sends: a second one of a kind within an exchange is a retransmission. */
const CLIENT_MESSAGES = new Set(['DISCOVER', 'REQUEST', 'DECLINE', 'RELEASE', 'INFORM']);

/** "1 h", "10 min", "1 d 2 h" for a lease in seconds. */
export function leaseText(seconds: number): string {
  if (seconds === 0xffffffff) return 'infinite';
  const parts: string[] = [];
  const units: [number, string][] = [
    [86400, 'd'],
    [3600, 'h'],
    [60, 'min'],
    [1, 's'],
  ];
  let left = seconds;
  for (const [size, unit] of units) {
    if (left >= size) parts.push(`${Math.floor(left / size)} ${unit}`);
    left %= size;
  }
  return parts.length === 0 ? '0 s' : parts.slice(0, 2).join(' ');
}

/** "DISCOVER ×2 → OFFER → REQUEST → ACK": the message sequence with repeats collapsed. */
function collapse(types: readonly string[]): string {
  const runs: [string, number][] = [];
  for (const t of types) {
    const lastRun = runs.at(-1);
    if (lastRun?.[0] === t) lastRun[1]++;
    else runs.push([t, 1]);
  }
  return runs.map(([t, n]) => (n > 1 ? `${t} ×${n}` : t)).join(' → ');
}

/** The message types of each row until the rows are final (a row keeps its own list). */
const TYPES = new WeakMap<Row, string[]>();

export const dhcp: FieldDigest<'dhcp'> = fieldDigest({
  kind: 'dhcp',
  description:
    'exchanges, one per transaction id (retransmissions counted on it), with the server, the address leased and the lease time.',
  filter: 'dhcp',
  fields: [
    'frame.number',
    'frame.time_relative',
    'ip.src',
    'dhcp.id',
    'dhcp.hw.mac_addr',
    'dhcp.option.dhcp',
    'dhcp.ip.your',
    'dhcp.option.requested_ip_address',
    'dhcp.option.hostname',
    'dhcp.option.dhcp_server_id',
    'dhcp.option.ip_address_lease_time',
  ],
  columns: [
    'frame',
    'xid',
    'client',
    'hostname',
    'messages',
    'retransmissions',
    'server',
    'address',
    'leaseSeconds',
    'outcome',
  ],
  aggregate(rows) {
    const retransmitted = rows.filter((r) => Number(r.retransmissions) > 0);
    const retransmissions = retransmitted.reduce((n, r) => n + Number(r.retransmissions), 0);
    const leases = rows.flatMap((r) =>
      typeof r.leaseSeconds === 'number' && /^leased/.test(String(r.outcome))
        ? [`${String(r.address)} for ${leaseText(r.leaseSeconds)}`]
        : [],
    );
    return [
      `${count(rows.length, 'exchange')} by outcome: ${tally(rows.map((r) => String(r.outcome).replace(/^leased .*/, 'leased')))}`,
      `retransmissions: ${retransmissions}${retransmissions > 0 ? ` in ${count(retransmitted.length, 'exchange')}` : ''}`,
      `servers: ${tally(column(rows, 'server'))}`,
      `leases: ${leases.length === 0 ? 'none' : tally(leases)}`,
    ].join('; ');
  },
  build(rows) {
    const out: Row[] = [];
    const byXid = new Map<string, Row>();
    const lastOfClient = new Map<string, Row>();
    for (const f of keyed(this.fields, rows)) {
      const frame = f.get('frame.number') ?? '';
      const mac = first(f.get('dhcp.hw.mac_addr'));
      const xid = first(f.get('dhcp.id'));
      const code = first(f.get('dhcp.option.dhcp'));
      const type = DHCP_TYPES[code] ?? (code === '' ? `(unparsed, frame ${frame})` : `type ${code}`);
      const requested = first(f.get('dhcp.option.requested_ip_address'));
      let ex = byXid.get(`${mac} ${xid}`);
      const previous = lastOfClient.get(mac);
      // A REQUEST under a new xid that selects the address the client was just offered.
      if (!ex && type === 'REQUEST' && previous?.outcome === 'offered' && previous.address === requested) {
        ex = previous;
        ex.xid = `${String(ex.xid)}, ${xid}`;
      }
      // A new DISCOVER after a finished exchange under the same xid starts another.
      if (ex && type === 'DISCOVER' && /^(leased|refused)/.test(String(ex.outcome))) ex = undefined;
      if (!ex) {
        ex = {
          frame: Number(frame),
          xid: xid === '' ? `(unparsed, frame ${frame})` : xid,
          client: mac === '' ? `(unparsed, frame ${frame})` : mac,
          hostname: null,
          messages: '',
          retransmissions: 0,
          server: null,
          address: null,
          leaseSeconds: null,
          outcome: 'no answer',
        };
        TYPES.set(ex, []);
        out.push(ex);
      }
      byXid.set(`${mac} ${xid}`, ex);
      lastOfClient.set(mac, ex);
      const types = TYPES.get(ex) ?? [];
      if (CLIENT_MESSAGES.has(type) && types.includes(type))
        ex.retransmissions = Number(ex.retransmissions) + 1;
      types.push(type);
      ex.messages = collapse(types);
      const hostname = first(f.get('dhcp.option.hostname'));
      if (hostname !== '') ex.hostname = hostname;
      const server = first(f.get('dhcp.option.dhcp_server_id'));
      const isReply = ['OFFER', 'ACK', 'NAK'].includes(type);
      if (server !== '') ex.server = server;
      else if (isReply && ex.server === null) ex.server = first(f.get('ip.src'));
      const offered = first(f.get('dhcp.ip.your'));
      if (offered !== '' && offered !== '0.0.0.0') ex.address = offered;
      else if (ex.address === null && requested !== '') ex.address = requested;
      const lease = num(f.get('dhcp.option.ip_address_lease_time'));
      if (lease !== null) ex.leaseSeconds = lease;
      if (type === 'OFFER' && ex.outcome === 'no answer') ex.outcome = 'offered';
      else if (type === 'ACK')
        ex.outcome = types.includes('INFORM') ? 'informed' : `leased ${String(ex.address)}`;
      else if (type === 'NAK') ex.outcome = 'refused (NAK)';
      else if (type === 'RELEASE') ex.outcome = 'released';
      else if (type === 'DECLINE') ex.outcome = `declined ${String(ex.address)}`;
    }
    return out;
  },
});
