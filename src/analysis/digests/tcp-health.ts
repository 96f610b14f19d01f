// The tcp_health digest: each TCP conversation's health, one row each, built from tshark's fields.
import { first, num, ms, keyed, fieldDigest } from './fields.js';
import type { FieldDigest, Row } from './fields.js';
import { column, count, timing } from './aggregate.js';

export const tcpHealth: FieldDigest<'tcp_health'> = fieldDigest({
  kind: 'tcp_health',
  description: 'per TCP conversation retransmissions, duplicate ACKs, resets, zero windows, RTT.',
  filter: 'tcp',
  fields: [
    'tcp.stream',
    'ip.src',
    'ipv6.src',
    'tcp.srcport',
    'ip.dst',
    'ipv6.dst',
    'tcp.dstport',
    'tcp.analysis.retransmission',
    'tcp.analysis.fast_retransmission',
    'tcp.analysis.duplicate_ack',
    'tcp.flags.reset',
    'tcp.analysis.zero_window',
    'tcp.analysis.ack_rtt',
    'tcp.analysis.lost_segment',
    'tcp.analysis.out_of_order',
  ],
  columns: [
    'stream',
    'client',
    'server',
    'packets',
    'retransmissions',
    'duplicateAcks',
    'resets',
    'zeroWindows',
    'lostSegments',
    'outOfOrder',
    'rttMs',
  ],
  aggregate(rows) {
    const withAny = (c: string): number => rows.filter((r) => Number(r[c] ?? 0) > 0).length;
    return `${count(rows.length, 'connection')}; with retransmissions ${withAny('retransmissions')}, resets ${withAny('resets')}, zero windows ${withAny('zeroWindows')}, lost segments ${withAny('lostSegments')}; RTT ${timing(column(rows, 'rttMs'))}`;
  },
  build(rows) {
    interface Health {
      row: Row;
      counts: Record<
        | 'packets'
        | 'retransmissions'
        | 'duplicateAcks'
        | 'resets'
        | 'zeroWindows'
        | 'lostSegments'
        | 'outOfOrder',
        number
      >;
      rtts: number[];
    }
    const by = new Map<string, Health>();
    for (const f of keyed(this.fields, rows)) {
      const stream = first(f.get('tcp.stream'));
      let c = by.get(stream);
      if (!c) {
        const v6 = first(f.get('ip.src')) === '';
        const end = (ip: string, port: string): string => (v6 ? `[${ip}]:${port}` : `${ip}:${port}`);
        c = {
          row: {
            stream: Number(stream),
            client: end(first(f.get('ip.src')) || first(f.get('ipv6.src')), first(f.get('tcp.srcport'))),
            server: end(first(f.get('ip.dst')) || first(f.get('ipv6.dst')), first(f.get('tcp.dstport'))),
          },
          counts: {
            packets: 0,
            retransmissions: 0,
            duplicateAcks: 0,
            resets: 0,
            zeroWindows: 0,
            lostSegments: 0,
            outOfOrder: 0,
          },
          rtts: [],
        };
        by.set(stream, c);
      }
      const has = (field: string): boolean => first(f.get(field)) !== '' && first(f.get(field)) !== '0';
      const n = c.counts;
      n.packets++;
      if (has('tcp.analysis.retransmission') || has('tcp.analysis.fast_retransmission')) n.retransmissions++;
      if (has('tcp.analysis.duplicate_ack')) n.duplicateAcks++;
      if (has('tcp.flags.reset')) n.resets++;
      if (has('tcp.analysis.zero_window')) n.zeroWindows++;
      if (has('tcp.analysis.lost_segment')) n.lostSegments++;
      if (has('tcp.analysis.out_of_order')) n.outOfOrder++;
      const rtt = num(f.get('tcp.analysis.ack_rtt'));
      if (rtt !== null) c.rtts.push(rtt);
    }
    return [...by.values()].map(({ row, counts, rtts }) => ({
      ...row,
      ...counts,
      // The median ACK round trip: robust to the odd delayed ACK.
      rttMs:
        rtts.length === 0 ? null : ms([...rtts].sort((a, b) => a - b)[Math.floor(rtts.length / 2)] ?? null),
    }));
  },
});
