// What limits the conclusions drawn from a capture, as opposed to what the network did: packets the
// capture dropped (dumpcap's own count for our sessions, the interface statistics a pcapng file
// records), segments a peer acknowledged that the capture never saw, packets cut by the snapshot
// length, bad checksums on packets the capture host sent (checksum offload), time going backwards
// and duplicated packets. Counted in the summary's pass (the summary counter, or per-packet lines);
// bad checksums in a pass of their own, because turning tshark's checksum checks on in the main
// pass would stop it reassembling every segment whose checksum is wrong. Digests that count
// retransmissions or loss name the line through captureLimitsNote().
import * as z from 'zod';
import type { ProcessGroup } from '../wireshark/process.js';
import { filteredStatistic, readArgs, statisticsArgs } from '../wireshark/tshark-args.js';
import { plural } from '../util/text.js';
import { readRecord, withFraming } from './framing.js';

/** How many source addresses of bad checksums an answer names; the rest are counted. */
export const CHECKSUM_SOURCES_SHOWN = 5;

const checksumSourceSchema = z.object({
  address: z.string(),
  packets: z.number().int(),
  /** An address of the capture host (a loopback address, or one of the capturing interface's). */
  local: z.boolean(),
});

export const captureLimitsSchema = z.object({
  /** The whole finding in one line, as the text answer prints it. */
  line: z.string(),
  droppedByDumpcap: z
    .number()
    .int()
    .nullable()
    .describe('Packets dumpcap reported dropped for this session; null for a file or a running session.'),
  droppedByInterface: z
    .number()
    .int()
    .nullable()
    .describe(
      "Drops the file's pcapng interface statistics record (isb_ifdrop + isb_osdrop); null when it records none.",
    ),
  ackedUnseen: z.number().int().describe('TCP segments a peer acknowledged that the capture never saw.'),
  cutBySnaplen: z.number().int().describe('Packets shorter in the file than on the wire.'),
  snaplen: z.number().int().nullable(),
  badChecksums: z
    .object({
      packets: z.number().int(),
      fromCaptureHost: z.number().int().describe('Of them, sent by a known address of the capture host.'),
      sources: z.array(checksumSourceSchema).describe(`The ${CHECKSUM_SOURCES_SHOWN} sources with most.`),
      moreSources: z.number().int().describe('Source addresses not listed in sources.'),
    })
    .nullable()
    .describe('null when checksums were not checked (checksumsNotChecked says why).'),
  checksumsNotChecked: z.string().nullable(),
  timeBackwards: z.number().int().describe('Packets whose time stamp is earlier than the one before.'),
  duplicates: z.number().int().describe("Packets byte-identical to one of the 4 before (editcap -d's rule)."),
});
export type CaptureLimits = z.infer<typeof captureLimitsSchema>;

/** The per-packet counts one pass makes (the summary counter, or PacketLimitCounter). */
export interface PacketLimits {
  readonly cut: number;
  readonly backwards: number;
  readonly duplicates: number;
}

export const NO_PACKET_LIMITS: PacketLimits = { cut: 0, backwards: 0, duplicates: 0 };

export function addPacketLimits(parts: readonly (PacketLimits | undefined)[]): PacketLimits {
  return parts.reduce<PacketLimits>(
    (sum, p) =>
      p
        ? {
            cut: sum.cut + p.cut,
            backwards: sum.backwards + p.backwards,
            duplicates: sum.duplicates + p.duplicates,
          }
        : sum,
    NO_PACKET_LIMITS,
  );
}

/** The columns PacketLimitCounter reads, after the summary's own; frame.md5_hash needs LIMIT_PREFERENCES. */
export const LIMIT_COLUMNS = ['frame.cap_len', 'frame.md5_hash'] as const;
export const LIMIT_PREFERENCES = ['frame.generate_md5_hash:TRUE'];

/** "1687555544.173804000" < "1687555544.2": seconds, then nanoseconds. */
function earlier(x: string, y: string): boolean {
  const [xs = '0', xf = ''] = x.split('.');
  const [ys = '0', yf = ''] = y.split('.');
  const dx = Number(xs) - Number(ys);
  return dx !== 0 ? dx < 0 : xf.padEnd(9, '0') < yf.padEnd(9, '0');
}

/**
 * The same counts as the summary counter, from per-packet lines: wire length, time, captured
 * length and MD5 of each record, warm-up records compared against but not counted.
 */
export class PacketLimitCounter {
  private cut = 0;
  private backwards = 0;
  private duplicates = 0;
  private last: string | undefined;
  private readonly recent: string[] = [];

  add(wireLength: string, time: string, capturedLength: string, md5: string, counted: boolean): void {
    if (counted && Number(capturedLength) < Number(wireLength)) this.cut++;
    if (time !== '') {
      if (counted && this.last !== undefined && earlier(time, this.last)) this.backwards++;
      this.last = time;
    }
    if (md5 === '') return;
    const key = `${capturedLength}/${wireLength}/${md5}`;
    if (counted && this.recent.includes(key)) this.duplicates++;
    this.recent.push(key);
    if (this.recent.length > 4) this.recent.shift();
  }

  result(): PacketLimits {
    return { cut: this.cut, backwards: this.backwards, duplicates: this.duplicates };
  }
}

/**
 * Drops that a pcapng file's interface statistics blocks record (isb_ifdrop and isb_osdrop, the
 * last block of each interface, which holds the totals); undefined when it has none (a pcap file,
 * or a pcapng file whose writer recorded no drop counts). Reads the blocks' framing, not packets.
 */
export async function interfaceDrops(file: string): Promise<number | undefined> {
  const found = await withFraming(file, async (reader, framing, size) => {
    const byInterface = new Map<string, number>();
    let section = 0;
    for (let offset = framing.first; ;) {
      let record = reader.recordAt(offset, framing, size);
      if (record === null) record = await readRecord(reader, framing, offset, size);
      if (!record) break;
      if (record.kind === 'section') section++;
      if (record.statistics) {
        const block = await reader.bytes(offset, record.length);
        const drops = block && isbDrops(Buffer.from(block), record.statistics.little);
        if (drops) byInterface.set(`${section}/${drops.interfaceId}`, drops.dropped);
      }
      offset += record.length;
    }
    return byInterface;
  });
  if (!found || found.size === 0) return undefined;
  return [...found.values()].reduce((a, b) => a + b, 0);
}

const ISB_IFDROP = 5;
const ISB_OSDROP = 7;

/** One interface statistics block's drop options; undefined when it has neither. */
function isbDrops(block: Buffer, little: boolean): { interfaceId: number; dropped: number } | undefined {
  const u16 = (at: number): number => (little ? block.readUInt16LE(at) : block.readUInt16BE(at));
  const u32 = (at: number): number => (little ? block.readUInt32LE(at) : block.readUInt32BE(at));
  const u64 = (at: number): number => Number(little ? block.readBigUInt64LE(at) : block.readBigUInt64BE(at));
  if (block.length < 24) return undefined;
  const interfaceId = u32(8);
  let dropped: number | undefined;
  // Options follow the interface id and the time stamp, up to the trailing length.
  for (let at = 20; at + 4 <= block.length - 4;) {
    const code = u16(at);
    const length = u16(at + 2);
    if (code === 0) break;
    if ((code === ISB_IFDROP || code === ISB_OSDROP) && length === 8 && at + 12 <= block.length)
      dropped = (dropped ?? 0) + u64(at + 4);
    at += 4 + Math.ceil(length / 4) * 4;
  }
  return dropped === undefined ? undefined : { interfaceId, dropped };
}

/**
 * Packets with a bad IP, TCP or UDP checksum, as tshark's checks flag them; not ICMP errors, whose
 * quoted headers were often rewritten on the way (NAT) and are counted at their inner source.
 */
const BAD_CHECKSUM =
  '(ip.checksum.status==0 || tcp.checksum.status==0 || udp.checksum.status==0) && !icmp && !icmpv6';

/**
 * A pass that only checks checksums: the checks on, reassembly and sequence analysis off (they do
 * not change a checksum), and counts by source address from filtered endpoint statistics.
 */
export function checksumPassArgs(file: string): string[] {
  return [
    ...readArgs({
      file,
      numeric: true,
      preferences: [
        'ip.check_checksum:TRUE',
        'tcp.check_checksum:TRUE',
        'udp.check_checksum:TRUE',
        'tcp.desegment_tcp_streams:FALSE',
        'tcp.analyze_sequence_numbers:FALSE',
        'tcp.calculate_timestamps:FALSE',
      ],
    }),
    ...statisticsArgs(['endpoints,ip', 'endpoints,ipv6'].map((s) => filteredStatistic(s, BAD_CHECKSUM))),
  ];
}

/**
 * Bad checksums by source address from the filtered endpoint tables: a packet is counted once, at
 * its sender (its Tx packets). Pure, for tests on recorded output.
 */
export function parseChecksumSources(text: string): Map<string, number> {
  const sent = new Map<string, number>();
  for (const line of text.split('\n')) {
    // "addr  packets bytes txPackets txBytes rxPackets rxBytes"
    const t = line.trim().split(/\s+/);
    if (t.length !== 7 || !t.slice(1).every((x) => /^\d+$/.test(x))) continue;
    const tx = Number(t[3]);
    if (tx > 0) sent.set(t[0] ?? '', (sent.get(t[0] ?? '') ?? 0) + tx);
  }
  return sent;
}

/** Bad checksums by source address, from a pass of their own. */
export async function countBadChecksums(
  group: ProcessGroup,
  tshark: string,
  file: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Map<string, number> | undefined> {
  let text = '';
  const result = await group.run({
    command: tshark,
    args: checksumPassArgs(file),
    timeoutMs,
    signal,
    onStdout: (chunk) => {
      text += chunk.toString('utf8');
      return text.length > 16 * 1024 * 1024 ? 'stop' : 'continue';
    },
  });
  if (result.timedOut || result.aborted || result.stoppedEarly) return undefined;
  return parseChecksumSources(text);
}

/** Whether an address is one of the capture host's: loopback, or one of `hostAddresses`. */
function isLocal(address: string, hostAddresses: readonly string[]): boolean {
  return /^127\./.test(address) || address === '::1' || hostAddresses.includes(address);
}

export interface LimitsInput {
  readonly droppedByDumpcap: number | undefined;
  readonly droppedByInterface: number | undefined;
  readonly ackedUnseen: number;
  readonly packets: PacketLimits;
  readonly snaplen: number | undefined;
  /** Bad checksums by source; undefined when not checked. */
  readonly badChecksums: ReadonlyMap<string, number> | undefined;
  /** Why checksums were not checked, when they were not. */
  readonly checksumsNotChecked?: string | undefined;
  /** Addresses known to be the capture host's (the capturing interface's, for a session). */
  readonly hostAddresses: readonly string[];
}

/** The limits with their line. */
export function captureLimits(input: LimitsInput): CaptureLimits {
  let badChecksums: CaptureLimits['badChecksums'] = null;
  if (input.badChecksums) {
    const all = [...input.badChecksums]
      .map(([address, packets]) => ({ address, packets, local: isLocal(address, input.hostAddresses) }))
      .sort((x, y) => y.packets - x.packets || (x.address < y.address ? -1 : 1));
    badChecksums = {
      packets: all.reduce((n, s) => n + s.packets, 0),
      fromCaptureHost: all.filter((s) => s.local).reduce((n, s) => n + s.packets, 0),
      sources: all.slice(0, CHECKSUM_SOURCES_SHOWN),
      moreSources: Math.max(0, all.length - CHECKSUM_SOURCES_SHOWN),
    };
  }
  const limits = {
    droppedByDumpcap: input.droppedByDumpcap ?? null,
    droppedByInterface: input.droppedByInterface ?? null,
    ackedUnseen: input.ackedUnseen,
    cutBySnaplen: input.packets.cut,
    snaplen: input.snaplen ?? null,
    badChecksums,
    checksumsNotChecked: badChecksums ? null : (input.checksumsNotChecked ?? 'the check did not finish'),
    timeBackwards: input.packets.backwards,
    duplicates: input.packets.duplicates,
  };
  return { line: limitsLine(limits), ...limits };
}

function checksumText(b: NonNullable<CaptureLimits['badChecksums']>): string[] {
  if (b.packets === 0) return [];
  const remote = b.packets - b.fromCaptureHost;
  const out: string[] = [];
  if (b.fromCaptureHost > 0)
    out.push(
      `${plural(b.fromCaptureHost, 'bad checksum')} on packets this host sent (checksum offload, not corruption)`,
    );
  if (remote > 0) {
    const named = b.sources.filter((s) => !s.local);
    const senders = named.map((s) => `${s.address} ${s.packets}`).join(', ');
    const more = b.moreSources > 0 ? `, and ${plural(b.moreSources, 'more address', 'more addresses')}` : '';
    // One sender of them all is most likely the capture host itself: its NIC fills checksums in.
    const oneSender = named.length === 1 && b.moreSources === 0 && b.fromCaptureHost === 0;
    out.push(
      oneSender
        ? `${plural(remote, 'bad checksum')}, all sent by ${named[0]?.address ?? '?'} (likely the capture host: checksum offload, not corruption)`
        : `${plural(remote, 'bad checksum')} from ${senders}${more} (checksum offload where a sender is the capture host; corruption otherwise)`,
    );
  }
  return out;
}

/** "Capture limits: ...": each limit found with its count, or "none found". */
export function limitsLine(l: Omit<CaptureLimits, 'line'>): string {
  const parts: string[] = [];
  if (l.droppedByDumpcap)
    parts.push(`${plural(l.droppedByDumpcap, 'packet')} dropped by the capture (dumpcap)`);
  if (l.droppedByInterface)
    parts.push(`${plural(l.droppedByInterface, 'packet')} dropped (the file's interface statistics)`);
  if (l.ackedUnseen > 0)
    parts.push(
      `${plural(l.ackedUnseen, 'segment')} ACKed but never captured (the capture missed them, not the network)`,
    );
  if (l.cutBySnaplen > 0)
    parts.push(
      `${plural(l.cutBySnaplen, 'packet')} cut by the snapshot length${l.snaplen !== null ? ` (snaplen ${l.snaplen})` : ''}`,
    );
  if (l.badChecksums) parts.push(...checksumText(l.badChecksums));
  if (l.timeBackwards > 0) parts.push(`time went backwards ${plural(l.timeBackwards, 'time')}`);
  if (l.duplicates > 0) parts.push(`${plural(l.duplicates, 'duplicated packet')} (editcap -d removes them)`);
  const unchecked =
    l.checksumsNotChecked !== null ? ` (checksums not checked: ${l.checksumsNotChecked})` : '';
  return `Capture limits: ${parts.length > 0 ? parts.join(', ') : 'none found'}${unchecked}`;
}

/** What a digest knows of the capture's limits; any of it may be missing. */
export interface LimitsForDigest {
  readonly droppedByDumpcap?: number | null | undefined;
  readonly droppedByInterface?: number | null | undefined;
  readonly ackedUnseen?: number | undefined;
  readonly cutBySnaplen?: number | undefined;
  readonly duplicates?: number | undefined;
}

/**
 * The note a digest that counts retransmissions or loss prints when the capture itself may explain
 * some of them; undefined when nothing known applies. `what` names what the digest counted
 * ("retransmissions", "lost segments", "RTP loss").
 */
export function captureLimitsNote(
  limits: LimitsForDigest,
  what = 'retransmissions and losses',
): string | undefined {
  const parts: string[] = [];
  const dropped = (limits.droppedByDumpcap ?? 0) + (limits.droppedByInterface ?? 0);
  if (dropped > 0) parts.push(`${plural(dropped, 'packet')} dropped by the capture`);
  if (limits.ackedUnseen) parts.push(`${plural(limits.ackedUnseen, 'segment')} ACKed but never captured`);
  if (limits.duplicates) parts.push(`${plural(limits.duplicates, 'duplicated packet')}`);
  if (limits.cutBySnaplen) parts.push(`${plural(limits.cutBySnaplen, 'packet')} cut by the snapshot length`);
  if (parts.length === 0) return undefined;
  return `Capture limits apply: ${parts.join(', ')}; some of these ${what} may be the capture's, not the network's (summarize_capture has the whole "Capture limits" line).`;
}
