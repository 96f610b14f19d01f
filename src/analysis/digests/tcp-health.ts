// The tcp_health digest: each TCP conversation's health, one row each, built from tshark's fields:
// real and spurious retransmissions, zero windows with how long each stayed shut, full windows, and
// the gaps tshark sees, told apart by whether the network or the capture lost the segment.
import { column, count, timing } from './aggregate.js';
import { endFields, ends } from './endpoints.js';
import { first, num, ms, keyed, fieldDigest } from './fields.js';
import type { FieldDigest, Row } from './fields.js';

/** Zero-window periods a row lists before it says how many more there are and how to see them. */
const SHUT_SHOWN = 5;

const COUNTS = [
  'packets',
  'retransmissions',
  'spuriousRetransmissions',
  'duplicateAcks',
  'resets',
  'zeroWindows',
  'windowFull',
  'lostSegments',
  'ackedUnseen',
  'outOfOrder',
] as const;
type Count = (typeof COUNTS)[number];

interface Health {
  row: Row;
  client: string;
  counts: Record<Count, number>;
  rtts: number[];
  /** Open zero-window periods by the side that announced them: where and when they began. */
  shut: Map<string, { frame: number; time: number }>;
  /** Closed and open periods, as text, and the longest in ms. */
  periods: string[];
  longestShutMs: number;
  lastTime: number;
}

export const tcpHealth: FieldDigest<'tcp_health'> = fieldDigest({
  kind: 'tcp_health',
  description:
    'per TCP conversation retransmissions (real and spurious), duplicate ACKs, resets, zero windows with the frames and how long each stayed shut, window-full count, lost segments versus segments the capture missed (ACKed but never seen), RTT.',
  filter: 'tcp',
  fields: [
    'frame.number',
    'frame.time_relative',
    'tcp.stream',
    ...endFields('tcp'),
    'tcp.window_size',
    'tcp.analysis.retransmission',
    'tcp.analysis.fast_retransmission',
    'tcp.analysis.spurious_retransmission',
    'tcp.analysis.duplicate_ack',
    'tcp.flags.reset',
    'tcp.analysis.zero_window',
    'tcp.analysis.window_full',
    'tcp.analysis.ack_rtt',
    'tcp.analysis.lost_segment',
    'tcp.analysis.ack_lost_segment',
    'tcp.analysis.out_of_order',
  ],
  columns: ['stream', 'client', 'server', ...COUNTS, 'longestShutMs', 'zeroWindowShut', 'rttMs'],
  countsLoss: 'retransmissions and lost segments',
  aggregate(rows) {
    const withAny = (c: string): number => rows.filter((r) => Number(r[c] ?? 0) > 0).length;
    const sum = (c: string): number => rows.reduce((a, r) => a + Number(r[c] ?? 0), 0);
    const longest = Math.max(0, ...rows.map((r) => Number(r['longestShutMs'] ?? 0)));
    return [
      `${count(rows.length, 'connection')}`,
      `retransmissions ${sum('retransmissions')} in ${count(withAny('retransmissions'), 'connection')}, spurious ones (data the peer already had) ${sum('spuriousRetransmissions')}`,
      `connections with resets ${withAny('resets')}, zero windows ${withAny('zeroWindows')}${withAny('zeroWindows') > 0 ? ` (longest shut ${longest} ms)` : ''}, window full ${withAny('windowFull')}`,
      `lost segments ${sum('lostSegments')} (a gap before a segment: lost on the network or by the capture)`,
      `ACKed but never captured ${sum('ackedUnseen')} (the capture missed them, not the network)`,
      `RTT ${timing(column(rows, 'rttMs'))}`,
    ].join('; ');
  },
  build(rows) {
    const by = new Map<string, Health>();
    for (const f of keyed(this.fields, rows)) {
      const stream = first(f.get('tcp.stream'));
      const { from, to } = ends(f, 'tcp');
      let c = by.get(stream);
      if (!c) {
        c = {
          row: { stream: Number(stream), client: from, server: to },
          client: from,
          counts: Object.fromEntries(COUNTS.map((k) => [k, 0])) as Record<Count, number>,
          rtts: [],
          shut: new Map(),
          periods: [],
          longestShutMs: 0,
          lastTime: 0,
        };
        by.set(stream, c);
      }
      const has = (field: string): boolean => first(f.get(field)) !== '' && first(f.get(field)) !== '0';
      const n = c.counts;
      const frame = Number(f.get('frame.number'));
      const time = num(f.get('frame.time_relative')) ?? c.lastTime;
      c.lastTime = time;
      n.packets++;
      // tshark flags a spurious retransmission as a retransmission too: count each once.
      if (has('tcp.analysis.spurious_retransmission')) n.spuriousRetransmissions++;
      else if (has('tcp.analysis.retransmission') || has('tcp.analysis.fast_retransmission'))
        n.retransmissions++;
      if (has('tcp.analysis.duplicate_ack')) n.duplicateAcks++;
      if (has('tcp.flags.reset')) n.resets++;
      if (has('tcp.analysis.window_full')) n.windowFull++;
      if (has('tcp.analysis.lost_segment')) n.lostSegments++;
      if (has('tcp.analysis.ack_lost_segment')) n.ackedUnseen++;
      if (has('tcp.analysis.out_of_order')) n.outOfOrder++;
      const rtt = num(f.get('tcp.analysis.ack_rtt'));
      if (rtt !== null) c.rtts.push(rtt);
      // A window stays shut from the side's zero-window segment to its next segment with room.
      const side = from === c.client ? 'client' : 'server';
      const open = c.shut.get(side);
      if (has('tcp.analysis.zero_window')) {
        n.zeroWindows++;
        if (!open) c.shut.set(side, { frame, time });
      } else if (open && (num(f.get('tcp.window_size')) ?? 0) > 0) {
        const shutMs = ms(time - open.time) ?? 0;
        c.longestShutMs = Math.max(c.longestShutMs, shutMs);
        c.periods.push(`${side} frame ${open.frame}: ${shutMs} ms, reopened frame ${frame}`);
        c.shut.delete(side);
      }
    }
    return [...by.values()].map((c) => {
      for (const [side, open] of c.shut) {
        const shutMs = ms(c.lastTime - open.time) ?? 0;
        c.longestShutMs = Math.max(c.longestShutMs, shutMs);
        c.periods.push(`${side} frame ${open.frame}: still shut at the end of the capture (${shutMs} ms)`);
      }
      const more = c.periods.length - SHUT_SHOWN;
      const shown = c.periods.slice(0, SHUT_SHOWN).join('; ');
      return {
        ...c.row,
        ...c.counts,
        zeroWindowShut:
          c.periods.length === 0
            ? 'none'
            : more > 0
              ? `${shown}; ${more} more (display filter: tcp.stream == ${String(c.row.stream)} && (tcp.analysis.zero_window || tcp.analysis.window_update))`
              : shown,
        longestShutMs: c.longestShutMs,
        // The median ACK round trip: robust to the odd delayed ACK.
        rttMs:
          c.rtts.length === 0
            ? null
            : ms([...c.rtts].sort((a, b) => a - b)[Math.floor(c.rtts.length / 2)] ?? null),
      };
    });
  },
});
