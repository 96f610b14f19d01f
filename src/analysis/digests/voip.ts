// The voip digest: SIP calls (one row per Call-ID: request-URI, client and server, the final response
// with its reason, every message in order with repeats collapsed) and RTP streams (tshark's
// `-z rtp,streams`, one row per direction, loss as a percentage, tied to the call whose SDP set the
// stream's address up). When the SIP messages belong to one call (a capture of one call, or a
// display filter on its Call-ID), each message is a row of its own too.
import { count, tally } from './aggregate.js';
import { all, first, keyed } from './fields.js';
import type { Digest, Row } from './fields.js';

export const VOIP_COLUMNS = [
  'kind',
  'frame',
  'id',
  'from',
  'to',
  'requestUri',
  'client',
  'server',
  'start',
  'end',
  'final',
  'detail',
  'packets',
  'lost',
  'lossPct',
  'maxJitterMs',
  'meanJitterMs',
  'call',
] as const;

/** A call's event list keeps this many entries (after collapsing repeats); the rest are counted. */
export const MAX_EVENTS = 40;

const EMPTY: Row = Object.fromEntries(VOIP_COLUMNS.map((c) => [c, null]));

/** Reads `-z rtp,streams` (one line per RTP stream). Pure. */
export function parseRtpStreams(text: string): Row[] {
  const rows: Row[] = [];
  for (const line of text.split('\n')) {
    const m = line.match(
      /^\s*([\d.]+)\s+([\d.]+)\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(0x[0-9A-Fa-f]+)\s+(.+?)\s+(\d+)\s+(-?\d+) \(([-\d.]+)%\)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*(.*)$/,
    );
    if (!m) continue;
    const problem = (m[18] ?? '').trim();
    rows.push({
      ...EMPTY,
      kind: 'rtp',
      id: m[7] ?? '',
      from: endpoint(m[3] ?? '', m[4] ?? ''),
      to: endpoint(m[5] ?? '', m[6] ?? ''),
      start: Number(m[1]),
      end: Number(m[2]),
      detail: `${(m[8] ?? '').trim()}${problem !== '' ? `, problem: ${problem}` : ''}`,
      packets: Number(m[9]),
      lost: Number(m[10]),
      lossPct: Number(m[11]),
      maxJitterMs: Number(m[17]),
      meanJitterMs: Number(m[16]),
    });
  }
  return rows;
}

function endpoint(address: string, port: string): string {
  if (address === '') return '';
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

export const SIP_FIELDS = [
  'frame.number',
  'frame.time_relative',
  'ip.src',
  'ipv6.src',
  'ip.dst',
  'ipv6.dst',
  'udp.srcport',
  'udp.dstport',
  'tcp.srcport',
  'tcp.dstport',
  'sip.Call-ID',
  'sip.Method',
  'sip.Status-Code',
  'sip.Status-Line',
  'sip.r-uri',
  'sip.from.user',
  'sip.from.addr',
  'sip.to.user',
  'sip.to.addr',
  'sip.CSeq.method',
  'sip.CSeq.seq',
  'sdp.connection_info.address',
  'sdp.media.port',
] as const;

/** The media addresses each call's SDP announced, for tying the RTP streams to it. */
const MEDIA = new WeakMap<Row, ReadonlySet<string>>();

/** What a call keeps while its messages are read: the labels in order and the media its SDP set up. */
interface CallState {
  readonly row: Row;
  readonly labels: string[];
  readonly media: Set<string>;
  readonly messages: Row[];
  /** "1 INVITE": the requests seen, so that a second with the same CSeq is named a retransmission. */
  readonly requests: Set<string>;
  method: string;
  lastProvisional: string;
}

/** A party as SIP names it: the user part, else the address without its parameters. */
function party(user: string, addr: string): string {
  if (user !== '') return user;
  return addr.replace(/;.*$/, '');
}

/** "INVITE, 100 Trying, 180 Ringing ×3, 488 Not Acceptable Here": repeats collapsed, bounded. */
export function eventList(labels: readonly string[], callId: string): string {
  const runs: [string, number][] = [];
  for (const l of labels) {
    const lastRun = runs.at(-1);
    if (lastRun?.[0] === l) lastRun[1]++;
    else runs.push([l, 1]);
  }
  const shown = runs.slice(0, MAX_EVENTS).map(([l, n]) => (n > 1 ? `${l} ×${n}` : l));
  const left = runs.slice(MAX_EVENTS).reduce((n, [, k]) => n + k, 0);
  if (left > 0)
    shown.push(
      `+${left} more messages (repeat this call with displayFilter ${JSON.stringify(`sip.Call-ID == ${JSON.stringify(callId)}`)}: one row per message)`,
    );
  return shown.join(', ');
}

/**
 * SIP calls from per-message fields: one row per Call-ID with its first request's final answer, and
 * (when all messages belong to one call) one `sip-message` row per message. Pure.
 */
export function buildSipCalls(fieldRows: readonly string[][]): Row[] {
  const calls = new Map<string, CallState>();
  for (const f of keyed(SIP_FIELDS, fieldRows)) {
    const frame = f.get('frame.number') ?? '';
    const time = Number(first(f.get('frame.time_relative')));
    const src = endpoint(
      first(f.get('ip.src')) || first(f.get('ipv6.src')),
      first(f.get('udp.srcport')) || first(f.get('tcp.srcport')),
    );
    const dst = endpoint(
      first(f.get('ip.dst')) || first(f.get('ipv6.dst')),
      first(f.get('udp.dstport')) || first(f.get('tcp.dstport')),
    );
    const callId = first(f.get('sip.Call-ID')) || '(unparsed Call-ID)';
    const method = first(f.get('sip.Method'));
    const status = first(f.get('sip.Status-Code'));
    const cseqMethod = first(f.get('sip.CSeq.method'));
    let call = calls.get(callId);
    if (!call) {
      call = {
        row: {
          ...EMPTY,
          kind: 'sip',
          frame: Number(frame),
          id: callId,
          from: party(first(f.get('sip.from.user')), first(f.get('sip.from.addr'))),
          to: party(first(f.get('sip.to.user')), first(f.get('sip.to.addr'))),
          start: time,
          end: time,
          packets: 0,
        },
        labels: [],
        media: new Set(),
        messages: [],
        requests: new Set(),
        method: '',
        lastProvisional: '',
      };
      calls.set(callId, call);
    }
    const { row } = call;
    row.packets = Number(row.packets) + 1;
    row.end = time;
    // The reason phrase as sent ("SIP/2.0 488 Not Acceptable Here" gives "488 Not Acceptable Here").
    const response = first(f.get('sip.Status-Line')).replace(/^SIP\/\d\.\d\s+/, '') || status;
    if (method !== '' && call.method === '') {
      call.method = method;
      row.requestUri = first(f.get('sip.r-uri')) || `(unparsed, frame ${frame})`;
      row.client = src;
      row.server = dst;
    }
    let label: string;
    const cseq = `${first(f.get('sip.CSeq.seq'))} ${method}`;
    if (method !== '') label = call.requests.has(cseq) ? `${method} (retransmission)` : method;
    else if (response !== '') {
      label = cseqMethod !== '' && cseqMethod !== call.method ? `${response} (${cseqMethod})` : response;
      if (cseqMethod === call.method || cseqMethod === '') {
        if (Number(status) >= 200) row.final = response;
        else call.lastProvisional = response;
      }
    } else label = `(unparsed, frame ${frame})`;
    if (method !== '') call.requests.add(cseq);
    call.labels.push(label);
    call.messages.push({
      ...EMPTY,
      kind: 'sip-message',
      frame: Number(frame),
      id: callId,
      from: src,
      to: dst,
      start: time,
      detail: method !== '' ? `${method} ${first(f.get('sip.r-uri'))}`.trim() : label,
    });
    // The SDP says where its sender receives media: the streams sent there belong to this call.
    const address = first(f.get('sdp.connection_info.address'));
    if (address !== '')
      for (const port of all(f.get('sdp.media.port'))) call.media.add(endpoint(address, port));
  }
  const single = calls.size === 1;
  return [...calls.values()].flatMap((call) => {
    const { row } = call;
    row.final ??= `no final response${call.lastProvisional !== '' ? ` (last: ${call.lastProvisional})` : ''}`;
    row.detail = eventList(call.labels, String(row.id));
    MEDIA.set(row, call.media);
    return single ? [row, ...call.messages] : [row];
  });
}

/** Ties each RTP stream to the call whose SDP announced its destination (or, failing that, its source). */
function tieStreams(sip: readonly Row[], streams: readonly Row[]): void {
  const owner = new Map<string, string>();
  for (const row of sip) for (const media of MEDIA.get(row) ?? []) owner.set(media, String(row.id));
  for (const s of streams) s.call = owner.get(String(s.to)) ?? owner.get(String(s.from)) ?? null;
}

const worst = (streams: readonly Row[], key: string, unit: string): string => {
  const top = [...streams].sort((a, b) => Number(b[key]) - Number(a[key]))[0];
  return top
    ? `${String(top[key])}${unit} (${String(top.id)} ${String(top.from)} → ${String(top.to)})`
    : 'none';
};

/** The voip digest: SIP calls from a field pass and RTP streams from tshark's `-z rtp,streams`. */
export const voip: Digest<'voip'> = {
  kind: 'voip',
  description:
    'SIP calls (request-URI, client, server, final response, every message) and RTP streams per direction with loss %, jitter and their call.',
  columns: VOIP_COLUMNS,
  async collect(read) {
    const [sipFields, rtp] = await Promise.all([
      read.fields('sip', SIP_FIELDS),
      read.statistics(['rtp,streams']),
    ]);
    const sip = buildSipCalls(sipFields);
    const streams = parseRtpStreams(rtp);
    tieStreams(sip, streams);
    return [...sip, ...streams];
  },
  countsLoss: 'RTP losses',
  aggregate(rows) {
    const dialogs = rows.filter((r) => r.kind === 'sip');
    const calls = dialogs.filter((r) => /^INVITE\b/.test(String(r.detail)));
    const others = dialogs.filter((r) => !/^INVITE\b/.test(String(r.detail)));
    const streams = rows.filter((r) => r.kind === 'rtp');
    const lossy = streams.filter((r) => Number(r.lost ?? 0) > 0);
    const final = (r: Row): string => String(r.final).replace(/ \(last: .*\)$/, '');
    const parts = [`${count(calls.length, 'SIP call')} by final response: ${tally(calls.map(final))}`];
    if (others.length > 0)
      parts.push(
        `other SIP transactions: ${tally(others.map((r) => `${String(r.detail).split(',')[0] ?? ''} ${final(r)}`))}`,
      );
    const loss = lossy.length > 0 ? `, worst loss ${worst(lossy, 'lossPct', '%')}` : '';
    const jitter = streams.length > 0 ? `, worst jitter ${worst(streams, 'maxJitterMs', ' ms')}` : '';
    parts.push(`${count(streams.length, 'RTP stream')}, ${lossy.length} with loss${loss}${jitter}`);
    return parts.join('; ');
  },
};
