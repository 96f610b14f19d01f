// The voip digest: SIP calls (one row per Call-ID) and RTP streams (tshark's `-z rtp,streams`), read
// in two passes.
import { count, tally } from './aggregate.js';
import { first } from './fields.js';
import type { Digest, Row } from './fields.js';

export const VOIP_COLUMNS = [
  'kind',
  'id',
  'from',
  'to',
  'start',
  'end',
  'detail',
  'packets',
  'lost',
  'maxJitterMs',
  'meanJitterMs',
] as const;

/** Reads `-z rtp,streams` (one line per RTP stream). Pure. */
export function parseRtpStreams(text: string): Row[] {
  const rows: Row[] = [];
  for (const line of text.split('\n')) {
    const m = line.match(
      /^\s*([\d.]+)\s+([\d.]+)\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(0x[0-9A-Fa-f]+)\s+(.+?)\s+(\d+)\s+(-?\d+) \(([-\d.]+)%\)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*(.*)$/,
    );
    if (!m) continue;
    rows.push({
      kind: 'rtp',
      id: m[7] ?? '',
      from: `${m[3] ?? ''}:${m[4] ?? ''}`,
      to: `${m[5] ?? ''}:${m[6] ?? ''}`,
      start: Number(m[1]),
      end: Number(m[2]),
      detail: `${(m[8] ?? '').trim()}${(m[18] ?? '').trim() !== '' ? `, problem: ${(m[18] ?? '').trim()}` : ''}`,
      packets: Number(m[9]),
      lost: Number(m[10]),
      maxJitterMs: Number(m[17]),
      meanJitterMs: Number(m[16]),
    });
  }
  return rows;
}

export const SIP_FIELDS = [
  'frame.time_relative',
  'sip.Call-ID',
  'sip.Method',
  'sip.Status-Code',
  'sip.from.user',
  'sip.to.user',
  'sip.CSeq.method',
] as const;

/** SIP calls from per-message fields: one row per Call-ID with its INVITE's final answer. Pure. */
export function buildSipCalls(fieldRows: readonly string[][]): Row[] {
  const calls = new Map<string, Row>();
  for (const values of fieldRows) {
    const [time, callId = '', method, status, from, to, cseqMethod] = values.map((v) => first(v));
    let call = calls.get(callId);
    if (!call) {
      call = {
        kind: 'sip',
        id: callId,
        from: from ?? '',
        to: to ?? '',
        start: Number(time),
        end: Number(time),
        detail: '',
        packets: 0,
        lost: null,
        maxJitterMs: null,
        meanJitterMs: null,
      };
      calls.set(callId, call);
    }
    call.packets = Number(call.packets) + 1;
    call.end = Number(time);
    const steps = String(call.detail)
      .split(', ')
      .filter((x) => x !== '');
    if (method) steps.push(method);
    else if (status && cseqMethod) steps.push(`${status} (${cseqMethod})`);
    call.detail = steps.slice(0, 12).join(', ');
  }
  return [...calls.values()];
}

/** The voip digest: SIP calls from a field pass and RTP streams from tshark's `-z rtp,streams`. */
export const voip: Digest<'voip'> = {
  kind: 'voip',
  description: 'SIP calls and RTP streams with loss and jitter.',
  columns: VOIP_COLUMNS,
  async collect(read) {
    const [sip, rtp] = await Promise.all([read.fields('sip', SIP_FIELDS), read.statistics(['rtp,streams'])]);
    return [...buildSipCalls(sip), ...parseRtpStreams(rtp)];
  },
  aggregate(rows) {
    const calls = rows.filter((r) => r.kind === 'sip');
    const streams = rows.filter((r) => r.kind === 'rtp');
    const lossy = streams.filter((r) => Number(r.lost ?? 0) > 0).length;
    return `${count(calls.length, 'SIP call')}, ${count(streams.length, 'RTP stream')} (${lossy} with loss); calls from: ${tally(calls.map((r) => r.from))}`;
  },
};
