// compare_captures down to the packet: which packets one capture has and the other lacks, and how
// many transactions of each kind (DNS queries, HTTP GET requests, SMB2 READ responses...) each
// holds. Two captures of the same traffic taken at different points or hosts differ in MAC
// addresses, TTLs, checksums and timestamps, so a packet is matched on what survives the path:
//   - TCP: the 5-tuple with its direction, the raw (not relative) sequence and acknowledgement
//     numbers, the segment length and the flags;
//   - UDP: the 5-tuple with its direction and a hash of the payload bytes (tshark prints them as
//     hex; Node hashes them). Not ip.id: IPv6 has none, and stacks and NATs zero or rewrite it,
//     while the payload is what the application sent;
//   - other IP (ICMP, ...): addresses, protocol, IP length and, for IPv4, ip.id;
//   - not IP (ARP, ...): the protocol stack above the link layer and the frame length.
// Packets with the same key (a retransmission, a repeated DNS query) are paired in the order they
// were captured, the first with the first. tshark dissects; this keeps one short hash per packet,
// up to a cap, and asks tshark again for the few unmatched packets an answer shows.
import { createHash } from 'node:crypto';
import * as z from 'zod';
import { abortError, UserError } from '../errors.js';
import type { WiresharkTools } from '../wireshark/locate.js';
import type { ProcessGroup } from '../wireshark/process.js';
import { allOccurrenceFieldArgs, readArgs } from '../wireshark/tshark-args.js';
import { LineSplitter } from '../util/text.js';
import { readOutcome } from './damage.js';
import { redactLine } from './redact.js';
import { AGGREGATOR } from './digests/fields.js';
import { SMB2_COMMANDS } from './digests/smb-codes.js';
import type { Dissection } from '../wireshark/dissection.js';

/** What each packet's line holds, in this order: its key fields, then those its transactions are counted from. */
const KEY_FIELDS = [
  'frame.number',
  'frame.time_epoch',
  'frame.protocols',
  'frame.len',
  'ip.src',
  'ip.dst',
  'ipv6.src',
  'ipv6.dst',
  'ip.proto',
  'ipv6.nxt',
  'ip.id',
  'ip.len',
  'ipv6.plen',
  'tcp.srcport',
  'tcp.dstport',
  'tcp.seq_raw',
  'tcp.ack_raw',
  'tcp.len',
  'tcp.flags',
  'udp.srcport',
  'udp.dstport',
  'udp.payload',
] as const;
const COUNT_FIELDS = [
  'tcp.analysis.retransmission',
  'dns.flags.response',
  'http.request.method',
  'http.response.code',
  'tls.handshake.type',
  'tls.alert_message.desc',
  'smb2.cmd',
  'smb2.flags.response',
  'icmp.type',
  'icmpv6.type',
  'sip.Method',
  'sip.Status-Code',
  'dhcp.option.dhcp',
] as const;
const PASS_FIELDS = [...KEY_FIELDS, ...COUNT_FIELDS];
type PassField = (typeof PASS_FIELDS)[number];

/** One packet's line, field by field: every occurrence, in the order tshark printed them. */
export type PacketValues = (field: PassField) => string[];

/** The values of one line of the pass's output. */
export function packetValues(line: string): PacketValues {
  const cells = line.split('\t');
  return (field) => {
    const cell = cells[PASS_FIELDS.indexOf(field)] ?? '';
    return cell === '' ? [] : cell.split(AGGREGATOR);
  };
}

/**
 * The key a packet is matched on (see the header), as a short hash: the outer headers' values, as
 * an ICMP error or a tunnel carries inner ones too.
 */
export function packetKey(v: PacketValues): string {
  const first = (f: PassField): string => v(f)[0] ?? '';
  const src = first('ip.src') || first('ipv6.src');
  const dst = first('ip.dst') || first('ipv6.dst');
  let key: string;
  if (src === '') {
    // Not IP: the link layer (Ethernet, Linux cooked, ...) is the capture point's, the rest is not.
    key = ['L2', first('frame.protocols').split(':').slice(1).join(':'), first('frame.len')].join('|');
  } else if (first('tcp.srcport') !== '') {
    key = [
      'TCP',
      src,
      first('tcp.srcport'),
      dst,
      first('tcp.dstport'),
      first('tcp.seq_raw'),
      first('tcp.ack_raw'),
      first('tcp.len'),
      first('tcp.flags'),
    ].join('|');
  } else if (first('udp.srcport') !== '') {
    key = ['UDP', src, first('udp.srcport'), dst, first('udp.dstport'), first('udp.payload')].join('|');
  } else {
    key = [
      'IP',
      src,
      dst,
      first('ip.proto') || first('ipv6.nxt'),
      first('ip.id'),
      first('ip.len') || first('ipv6.plen'),
    ].join('|');
  }
  // 96 bits: a collision among a million packets is about as likely as none of this mattering.
  return createHash('sha1').update(key).digest('base64').slice(0, 16);
}

const TLS_HANDSHAKES: Record<string, string> = {
  '0': 'Hello Request',
  '1': 'Client Hello',
  '2': 'Server Hello',
  '4': 'New Session Ticket',
  '8': 'Encrypted Extensions',
  '11': 'Certificate',
  '12': 'Server Key Exchange',
  '13': 'Certificate Request',
  '14': 'Server Hello Done',
  '15': 'Certificate Verify',
  '16': 'Client Key Exchange',
  '20': 'Finished',
};
const ICMP_TYPES: Record<string, string> = {
  '0': 'echo replies',
  '3': 'destination unreachable',
  '5': 'redirects',
  '8': 'echo requests',
  '11': 'time exceeded',
};
const ICMPV6_TYPES: Record<string, string> = {
  '1': 'destination unreachable',
  '3': 'time exceeded',
  '128': 'echo requests',
  '129': 'echo replies',
  '135': 'neighbor solicitations',
  '136': 'neighbor advertisements',
};
const DHCP_TYPES: Record<string, string> = {
  '1': 'Discover',
  '2': 'Offer',
  '3': 'Request',
  '4': 'Decline',
  '5': 'ACK',
  '6': 'NAK',
  '7': 'Release',
  '8': 'Inform',
};

/** The TCP flags a count is kept of: handshakes, closes and resets. */
function tcpFlagLabels(flags: string): string[] {
  const n = Number.parseInt(flags, 16);
  if (Number.isNaN(n)) return [];
  const syn = (n & 0x02) !== 0;
  const ack = (n & 0x10) !== 0;
  return [
    ...(syn ? [ack ? 'TCP SYN-ACK' : 'TCP SYN'] : []),
    ...((n & 0x01) !== 0 ? ['TCP FIN'] : []),
    ...((n & 0x04) !== 0 ? ['TCP RST'] : []),
  ];
}

/**
 * The transactions one packet counts towards, one label per occurrence ("DNS queries", "HTTP GET
 * requests", "SMB2 READ responses", "TLS Client Hello", "TCP SYN", ...).
 */
export function transactionLabels(v: PacketValues): string[] {
  const labels: string[] = [];
  for (const f of v('tcp.flags').slice(0, 1)) labels.push(...tcpFlagLabels(f));
  if (v('tcp.analysis.retransmission').length > 0) labels.push('TCP retransmissions');
  for (const r of v('dns.flags.response'))
    labels.push(r === '1' || r === 'True' ? 'DNS responses' : 'DNS queries');
  for (const m of v('http.request.method')) labels.push(`HTTP ${m} requests`);
  for (const c of v('http.response.code')) labels.push(`HTTP ${c} responses`);
  for (const t of v('tls.handshake.type')) labels.push(`TLS ${TLS_HANDSHAKES[t] ?? `handshake type ${t}`}`);
  for (const a of v('tls.alert_message.desc')) labels.push(`TLS alerts (description ${a})`);
  const responses = v('smb2.flags.response');
  v('smb2.cmd').forEach((c, i) => {
    const r = responses[i];
    const kind = r === '1' || r === 'True' ? 'responses' : 'requests';
    labels.push(`SMB2 ${SMB2_COMMANDS[c] ?? `command ${c}`} ${kind}`);
  });
  for (const t of v('icmp.type')) labels.push(`ICMP ${ICMP_TYPES[t] ?? `type ${t}`}`);
  for (const t of v('icmpv6.type')) labels.push(`ICMPv6 ${ICMPV6_TYPES[t] ?? `type ${t}`}`);
  for (const m of v('sip.Method')) labels.push(`SIP ${m} requests`);
  for (const c of v('sip.Status-Code')) labels.push(`SIP ${c} responses`);
  for (const t of v('dhcp.option.dhcp')) labels.push(`DHCP ${DHCP_TYPES[t] ?? `message type ${t}`}`);
  return labels;
}

/** One capture read packet by packet: each packet's key, and its transaction counts. */
export interface PacketKeys {
  /** Keys in capture order, with their frame numbers and times (seconds since the epoch). */
  readonly keys: readonly string[];
  readonly frames: readonly number[];
  readonly times: readonly number[];
  /** The capture holds more packets than were read (the cap was reached). */
  readonly capped: boolean;
  readonly counts: ReadonlyMap<string, number>;
  readonly warnings: readonly string[];
}

/** Positions in capture order of each key's packets. */
function positions(keys: readonly string[]): Map<string, number[]> {
  const at = new Map<string, number[]>();
  keys.forEach((k, i) => {
    const list = at.get(k);
    if (list) list.push(i);
    else at.set(k, [i]);
  });
  return at;
}

/**
 * Which of the longer list's times are left over when each of the shorter list's is paired, in
 * order, with the nearest: a copy is skipped when the next copy is strictly nearer (so identical
 * times pair first with first, and the last copies are the ones left over).
 */
export function leftOver(long: readonly number[], short: readonly number[]): number[] {
  const skipped: number[] = [];
  let j = 0;
  for (let i = 0; i < long.length; i++) {
    const t = short[j];
    const next = long[i + 1];
    const current = long[i] ?? 0;
    if (
      t === undefined ||
      (long.length - i > short.length - j && next !== undefined && Math.abs(next - t) < Math.abs(current - t))
    )
      skipped.push(i);
    else j++;
  }
  return skipped;
}

/**
 * The frames of each capture that the other lacks, in capture order, and how many were left out
 * because they come after the point where the other capture's read was cut. Packets with the same
 * key (a retransmission, a retried query) are paired by time: the other capture's clock is taken
 * to be off by the median difference over the packets each capture holds once, so captures taken
 * on different hosts or shifted in time still pair each copy with its own.
 */
export function unmatchedFrames(
  a: PacketKeys,
  b: PacketKeys,
): { onlyInA: number[]; onlyInB: number[]; pastCut: number } {
  const inA = positions(a.keys);
  const inB = positions(b.keys);
  const time = (k: PacketKeys, i: number): number => k.times[i] ?? 0;
  const deltas: number[] = [];
  for (const [key, xs] of inA) {
    const ys = inB.get(key);
    if (xs.length === 1 && ys?.length === 1) deltas.push(time(b, ys[0] ?? 0) - time(a, xs[0] ?? 0));
  }
  deltas.sort((x, y) => x - y);
  const delta = deltas[deltas.length >> 1] ?? time(b, 0) - time(a, 0);
  const onlyA: number[] = [];
  const onlyB: number[] = [];
  for (const [key, xs] of inA) {
    const ys = inB.get(key) ?? [];
    if (xs.length === ys.length) continue;
    const ta = xs.map((i) => time(a, i) + delta);
    const tb = ys.map((i) => time(b, i));
    if (xs.length > ys.length) for (const p of leftOver(ta, tb)) onlyA.push(xs[p] ?? 0);
    else for (const p of leftOver(tb, ta)) onlyB.push(ys[p] ?? 0);
  }
  for (const [key, ys] of inB) if (!inA.has(key)) onlyB.push(...ys);
  // Past the latest packet read of a capture that was cut, the other's packets were not compared
  // (the latest rather than the last: a merged or reordered file's times can go backwards).
  const latest = (k: PacketKeys): number =>
    k.times.reduce((m, t) => Math.max(m, t), Number.NEGATIVE_INFINITY);
  const endA = a.capped ? latest(a) + delta : Number.POSITIVE_INFINITY;
  const endB = b.capped ? latest(b) : Number.POSITIVE_INFINITY;
  const keptA = onlyA.filter((i) => time(a, i) + delta <= endB);
  const keptB = onlyB.filter((i) => time(b, i) <= endA);
  const frames = (k: PacketKeys, list: number[]): number[] =>
    list.map((i) => k.frames[i] ?? 0).sort((x, y) => x - y);
  return {
    onlyInA: frames(a, keptA),
    onlyInB: frames(b, keptB),
    pastCut: onlyA.length - keptA.length + onlyB.length - keptB.length,
  };
}

const unmatchedSchema = z.object({
  frame: z.number().int(),
  time: z.number().describe("Seconds since the capture's first packet."),
  stream: z.string().describe('tcp.stream or udp.stream in its own capture, as "tcp 3"; empty for neither.'),
  source: z.string(),
  destination: z.string(),
  protocol: z.string(),
  info: z.string().describe("What it carried: tshark's Info column (passwords redacted)."),
});
export type UnmatchedPacket = z.infer<typeof unmatchedSchema>;

const DETAIL_FIELDS = [
  'frame.number',
  'frame.time_relative',
  'tcp.stream',
  'udp.stream',
  'ip.src',
  'ip.dst',
  'ipv6.src',
  'ipv6.dst',
  'tcp.srcport',
  'tcp.dstport',
  'udp.srcport',
  'udp.dstport',
  '_ws.col.Protocol',
  '_ws.col.Info',
] as const;

/** One line of the details pass as an unmatched packet. */
export function parseDetails(line: string): UnmatchedPacket | undefined {
  const cells = line.split('\t').map((c) => c.split(AGGREGATOR)[0] ?? '');
  const at = (f: (typeof DETAIL_FIELDS)[number]): string => cells[DETAIL_FIELDS.indexOf(f)] ?? '';
  const frame = Number(at('frame.number'));
  if (!Number.isInteger(frame) || frame <= 0) return undefined;
  const src = at('ip.src') || at('ipv6.src');
  const dst = at('ip.dst') || at('ipv6.dst');
  const sport = at('tcp.srcport') || at('udp.srcport');
  const dport = at('tcp.dstport') || at('udp.dstport');
  const endpoint = (host: string, port: string): string =>
    port === '' ? host : host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const stream =
    at('tcp.stream') !== ''
      ? `tcp ${at('tcp.stream')}`
      : at('udp.stream') !== ''
        ? `udp ${at('udp.stream')}`
        : '';
  return {
    frame,
    time: Number(at('frame.time_relative')) || 0,
    stream,
    source: endpoint(src, sport),
    destination: endpoint(dst, dport),
    protocol: at('_ws.col.Protocol'),
    // The one redaction rule, as packet listings apply it: an FTP PASS shows its length, not itself.
    info: redactLine(at('_ws.col.Info')),
  };
}

/** The packet-level part of compare_captures' structured answer. */
export const packetComparisonSchema = z.object({
  packetsCompared: z
    .object({
      baseline: z.number().int(),
      candidate: z.number().int(),
      cap: z.number().int().describe('Packets of each capture compared at most (the first ones).'),
      capped: z.boolean().describe('A capture holds more packets than the cap: not all were compared.'),
      pastCut: z
        .number()
        .int()
        .describe(
          "Unmatched packets not listed: they come after the point where the other capture's read was cut.",
        ),
    })
    .describe('How many packets of each capture were matched one by one.'),
  onlyInBaselinePackets: z.object({
    total: z.number().int(),
    offset: z.number().int(),
    shown: z.array(unmatchedSchema),
    nextOffset: z.number().int().nullable(),
  }),
  onlyInCandidatePackets: z.object({
    total: z.number().int(),
    offset: z.number().int(),
    shown: z.array(unmatchedSchema),
    nextOffset: z.number().int().nullable(),
  }),
  transactions: z
    .object({
      differ: z.array(
        z.object({ what: z.string(), baseline: z.number().int(), candidate: z.number().int() }),
      ),
      same: z
        .array(z.object({ what: z.string(), count: z.number().int() }))
        .describe('Counts equal in both, the first `limit` of them.'),
      sameTotal: z.number().int(),
    })
    .describe('Transactions per protocol and kind, counted over the packets compared.'),
});
export type PacketComparison = z.infer<typeof packetComparisonSchema>;

/** Counts side by side: those that differ (all), then those the same (the first `limit`). */
export function compareCounts(
  a: ReadonlyMap<string, number>,
  b: ReadonlyMap<string, number>,
  limit: number,
): PacketComparison['transactions'] {
  const labels = [...new Set([...a.keys(), ...b.keys()])].sort();
  const differ = labels
    .filter((l) => (a.get(l) ?? 0) !== (b.get(l) ?? 0))
    .map((what) => ({ what, baseline: a.get(what) ?? 0, candidate: b.get(what) ?? 0 }));
  const same = labels.filter((l) => a.get(l) === b.get(l)).map((what) => ({ what, count: a.get(what) ?? 0 }));
  return { differ, same: same.slice(0, limit), sameTotal: same.length };
}

/** Where a page of unmatched packets starts and how long it is (the same for both sides). */
export interface PacketPage {
  /** Packets of each capture compared at most. */
  readonly cap: number;
  readonly offset: number;
  readonly limit: number;
}

/** The page of one side's unmatched frames the answer shows. */
export function framesToShow(frames: readonly number[], page: PacketPage): number[] {
  return frames.slice(page.offset, page.offset + page.limit);
}

type Sides<T> = { readonly baseline: T; readonly candidate: T };

/** The packet-level comparison: both captures' keys, what did not match, and the details shown. */
export function packetComparison(
  keys: Sides<PacketKeys>,
  unmatched: Sides<readonly number[]> & { readonly pastCut: number },
  shown: Sides<UnmatchedPacket[]>,
  page: PacketPage,
): PacketComparison {
  const side = (
    frames: readonly number[],
    details: UnmatchedPacket[],
  ): PacketComparison['onlyInBaselinePackets'] => ({
    total: frames.length,
    offset: page.offset,
    shown: details,
    nextOffset: page.offset + page.limit < frames.length ? page.offset + page.limit : null,
  });
  return {
    packetsCompared: {
      baseline: keys.baseline.keys.length,
      candidate: keys.candidate.keys.length,
      cap: page.cap,
      capped: keys.baseline.capped || keys.candidate.capped,
      pastCut: unmatched.pastCut,
    },
    onlyInBaselinePackets: side(unmatched.baseline, shown.baseline),
    onlyInCandidatePackets: side(unmatched.candidate, shown.candidate),
    transactions: compareCounts(keys.baseline.counts, keys.candidate.counts, page.limit),
  };
}

const MAX_LINE_CHARS = 300_000;

/** Reads captures packet by packet for compare_captures (its tshark passes). */
/** A capture to match packets of, and how to read it. */
export interface PacketRead {
  readonly file: string;
  readonly keylogFile: string | undefined;
  readonly dissection?: Dissection | undefined;
  readonly live: boolean;
}

export class PacketMatcher {
  constructor(
    private readonly group: ProcessGroup,
    private readonly tools: () => Promise<WiresharkTools>,
    private readonly timeoutMs: number,
  ) {}

  /** The first `cap` packets' keys and transaction counts. */
  async keys(read: PacketRead & { cap: number }, signal?: AbortSignal): Promise<PacketKeys> {
    const keys: string[] = [];
    const frames: number[] = [];
    const times: number[] = [];
    const counts = new Map<string, number>();
    // One packet more than the cap is read, only to learn whether the capture holds more.
    let capped = false;
    const take = (line: string): void => {
      if (line === '' || capped) return;
      if (keys.length === read.cap) {
        capped = true;
        return;
      }
      const v = packetValues(line);
      keys.push(packetKey(v));
      frames.push(Number(v('frame.number')[0] ?? 0));
      times.push(Number(v('frame.time_epoch')[0] ?? 0));
      for (const l of transactionLabels(v)) counts.set(l, (counts.get(l) ?? 0) + 1);
    };
    const warnings = await this.pass(
      [
        ...readArgs({
          file: read.file,
          keylogFile: read.keylogFile,
          dissection: read.dissection,
          numeric: true,
          lastFrame: read.cap + 1,
        }),
        ...allOccurrenceFieldArgs(PASS_FIELDS, AGGREGATOR),
      ],
      read,
      take,
      signal,
    );
    return { keys, frames, times, capped, counts, warnings };
  }

  /** What the given frames are: their time, stream, addresses and tshark's summary. */
  async details(
    read: PacketRead,
    frameNumbers: readonly number[],
    signal?: AbortSignal,
  ): Promise<UnmatchedPacket[]> {
    if (frameNumbers.length === 0) return [];
    const found: UnmatchedPacket[] = [];
    await this.pass(
      [
        ...readArgs({
          file: read.file,
          keylogFile: read.keylogFile,
          dissection: read.dissection,
          numeric: true,
          // Alternatives rather than a set: the set syntax changed between Wireshark releases.
          displayFilter: frameNumbers.map((n) => `frame.number == ${n}`).join(' || '),
          lastFrame: Math.max(...frameNumbers),
        }),
        ...allOccurrenceFieldArgs(DETAIL_FIELDS, AGGREGATOR),
      ],
      read,
      (line) => {
        const p = parseDetails(line);
        if (p) found.push(p);
      },
      signal,
    );
    return found;
  }

  /** One tshark pass, its stdout line by line; the warnings about reading the file. */
  private async pass(
    args: string[],
    read: { file: string; live: boolean },
    onLine: (line: string) => void,
    signal: AbortSignal | undefined,
  ): Promise<string[]> {
    const tools = await this.tools();
    const lines = new LineSplitter(MAX_LINE_CHARS);
    const result = await this.group.run({
      command: tools.require('tshark'),
      args,
      timeoutMs: this.timeoutMs,
      signal,
      onStdout: (chunk) => {
        for (const l of lines.push(chunk)) onLine(l.text);
        return 'continue';
      },
    });
    if (result.aborted) throw abortError();
    for (const l of lines.end()) onLine(l.text);
    const outcome = await readOutcome(
      this.group,
      tools,
      { stderr: result.stderr, file: read.file, live: read.live },
      signal,
    );
    if (outcome.other !== undefined && result.exitCode !== 0)
      throw new UserError(`tshark failed: ${outcome.other}`);
    if (result.timedOut)
      throw new UserError(
        `Reading ${read.file} packet by packet took longer than ${this.timeoutMs / 1000} s; give a smaller comparePackets.`,
      );
    return outcome.warnings;
  }
}
