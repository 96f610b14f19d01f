// The dhcp digest: DHCP exchanges, one row each, built from tshark's fields.
import { DHCP_TYPES } from './codes.js';
import { first, keyed, fieldDigest } from './fields.js';
import type { FieldDigest, Row } from './fields.js';
import { column, count, tally } from './aggregate.js';

export const dhcp: FieldDigest<'dhcp'> = fieldDigest({
  kind: 'dhcp',
  description: 'exchanges and the address leased.',
  filter: 'dhcp',
  fields: [
    'frame.number',
    'frame.time_relative',
    'dhcp.hw.mac_addr',
    'dhcp.option.dhcp',
    'dhcp.ip.your',
    'dhcp.option.requested_ip_address',
    'dhcp.option.hostname',
    'dhcp.option.dhcp_server_id',
  ],
  columns: ['frame', 'client', 'hostname', 'messages', 'server', 'address', 'outcome'],
  aggregate(rows) {
    return `${count(rows.length, 'exchange')}; by outcome: ${tally(column(rows, 'outcome'))}; servers: ${tally(column(rows, 'server'))}`;
  },
  build(rows) {
    const out: Row[] = [];
    const open = new Map<string, Row>();
    for (const f of keyed(this.fields, rows)) {
      const mac = first(f.get('dhcp.hw.mac_addr'));
      const type = DHCP_TYPES[first(f.get('dhcp.option.dhcp'))] ?? first(f.get('dhcp.option.dhcp'));
      let ex = open.get(mac);
      // An exchange starts with DISCOVER, or with a REQUEST when none is open (a renewal).
      if (!ex || type === 'DISCOVER' || (type === 'REQUEST' && /ACK|NAK/.test(String(ex.outcome)))) {
        ex = {
          frame: Number(f.get('frame.number')),
          client: mac,
          hostname: '',
          messages: '',
          server: '',
          address: '',
          outcome: 'no answer',
        };
        open.set(mac, ex);
        out.push(ex);
      }
      ex.messages = [ex.messages, type].filter((x) => x !== '').join(' → ');
      if (first(f.get('dhcp.option.hostname')) !== '') ex.hostname = first(f.get('dhcp.option.hostname'));
      if (first(f.get('dhcp.option.dhcp_server_id')) !== '')
        ex.server = first(f.get('dhcp.option.dhcp_server_id'));
      const offered = first(f.get('dhcp.ip.your'));
      if (offered !== '' && offered !== '0.0.0.0') ex.address = offered;
      else if (ex.address === '' && first(f.get('dhcp.option.requested_ip_address')) !== '')
        ex.address = first(f.get('dhcp.option.requested_ip_address'));
      if (type === 'OFFER' && ex.outcome === 'no answer') ex.outcome = 'offered';
      if (type === 'ACK') ex.outcome = `leased ${String(ex.address)}`;
      if (type === 'NAK') ex.outcome = 'refused (NAK)';
    }
    return out;
  },
});
