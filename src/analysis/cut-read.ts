// A page of analyze_pcap_file read from a cut of the file (index/cut.ts) instead of the whole of
// it: where the page lies deep in a large file and no display filter picks its packets, tshark
// dissects the file's first frame, a warm-up and the page, and the answer shows the frame numbers
// and times a whole-file pass shows. Used only where the output cannot tell the difference by
// construction (text lines, and fields of the frame and its addresses); anything else reads the
// whole file as before.
import { randomUUID } from 'node:crypto';
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ProcessGroup } from '../wireshark/process.js';
import { runCollect } from '../wireshark/process.js';
import { readArgs, streamStartArgs } from '../wireshark/tshark-args.js';
import type { Dissection } from '../wireshark/dissection.js';
import { fileFrame, planCut, writeCut } from './index/cut.js';
import type { CutPlan } from './index/cut.js';
import type { FrameIndexes } from './index/frame-indexes.js';
import type { StreamIndex } from './index/stream-index.js';
import type { Packet, PageFormat } from './packet-stream.js';
import type { Page } from './page.js';
import { defaultChunking } from './summary/ranges.js';

/**
 * Frames dissected before a page's first: the summary's warm-up rule, so a page sees the recent
 * past (TCP state, reassembly, TLS sessions) that its ranges see.
 */
export const PAGE_WARMUP = defaultChunking(1).sizing.warmupPackets;

/**
 * Fields whose values a cut prints as the whole file does: the frame's own (numbers mapped back,
 * times counted from the file's first frame, which the cut holds) and addresses and ports. Stream
 * indexes, relative sequence numbers and links to other frames depend on what came before the
 * warm-up, so a page asking for them reads the whole file.
 */
const CUT_FIELDS = new Set([
  'frame.number',
  'frame.time',
  'frame.time_epoch',
  'frame.time_relative',
  'frame.time_delta',
  'frame.time_delta_displayed',
  'frame.len',
  'frame.cap_len',
  'frame.protocols',
  'frame.interface_id',
  'eth.src',
  'eth.dst',
  'eth.type',
  'ip.src',
  'ip.dst',
  'ip.proto',
  'ip.len',
  'ipv6.src',
  'ipv6.dst',
  'tcp.srcport',
  'tcp.dstport',
  'tcp.len',
  'tcp.flags',
  'udp.srcport',
  'udp.dstport',
  'udp.length',
]);

export interface PageCutRequest {
  readonly file: string;
  readonly displayFilter?: string | undefined;
  readonly outputFormat: PageFormat;
  /** The fields tshark prints, for `fields`. */
  readonly fields: readonly string[];
  readonly offset: number;
  readonly limit: number;
  readonly live?: boolean | undefined;
  readonly lastFrame?: number | undefined;
}

/** A page's cut, written and ready for tshark. */
export interface PageCut {
  /** The cut file tshark reads instead of the capture. */
  readonly file: string;
  readonly plan: CutPlan;
  /** A packet of the cut as the whole file's pass prints it. */
  mapPacket(p: Packet): Packet;
  /** The cut's page told in the file's terms (offset, packets seen). */
  mapPage(page: Page, requestedOffset: number): Page;
  /** Removes the cut file. */
  remove(): Promise<void>;
}

/** Whether a request's page can come from a cut at all (before any index is built). */
export function cutApplies(req: PageCutRequest, twoPass: boolean, warmup = PAGE_WARMUP): boolean {
  if (req.displayFilter !== undefined && req.displayFilter !== '') return false;
  if (req.live === true || req.lastFrame !== undefined || twoPass) return false;
  if (req.outputFormat !== 'text' && req.outputFormat !== 'fields') return false;
  if (req.outputFormat === 'fields' && !req.fields.every((f) => CUT_FIELDS.has(f))) return false;
  // A page within the warm-up of the file's start reads the start anyway.
  return req.offset > warmup + 1;
}

/**
 * The cut for a page of `req` (checked with cutApplies), written under `dir`; undefined when the
 * index cannot give one (not pcap/pcapng, several sections, the page past the frames indexed, or a
 * page reaching a damaged or unfinished end, which the whole-file pass reports).
 */
export async function writePageCut(
  indexes: FrameIndexes,
  req: PageCutRequest,
  dir: string,
  signal?: AbortSignal,
  warmup = PAGE_WARMUP,
): Promise<PageCut | undefined> {
  const index = await indexes.get(req.file, signal);
  if (!index) return undefined;
  const first = req.offset + 1;
  // One frame past the page says whether more follow.
  const last = Math.min(index.count, req.offset + req.limit + 1);
  if (first > last) return undefined;
  const clean = !index.damaged && index.scanned === index.version.size;
  if (last === index.count && !clean) return undefined;
  const plan = planCut(index, first, last, warmup);
  if (!plan) return undefined;
  const file = path.join(dir, `cut-${randomUUID()}.${index.fileHeader ? 'pcap' : 'pcapng'}`);
  try {
    await writeCut(index, req.file, plan, file);
    // Replaced or shortened while the cut was written: its offsets were another file's.
    const now = await stat(req.file);
    const v = index.version;
    if (now.ino !== v.ino || now.dev !== v.dev || now.size < v.size) {
      await rm(file, { force: true });
      return undefined;
    }
  } catch (err) {
    await rm(file, { force: true });
    throw err;
  }
  const numberColumns =
    req.outputFormat === 'fields'
      ? req.fields.flatMap((f, i) => (f === 'frame.number' ? [i] : []))
      : undefined;
  return {
    file,
    plan,
    mapPacket(p) {
      const text = numberColumns ? mapFieldLine(p.text, numberColumns, plan) : mapTextLine(p.text, plan);
      return text === p.text ? p : { text, length: p.length + text.length - p.text.length };
    },
    mapPage(page, requestedOffset) {
      return {
        ...page,
        offset: requestedOffset,
        matchedSeen: page.matchedSeen + (plan.first - 1 - plan.skip),
      };
    },
    remove: () => rm(file, { force: true }),
  };
}

/**
 * A text line starts with the frame number, right-aligned in at least 5 characters (tshark's
 * print_columns), then a space.
 */
function mapTextLine(line: string, plan: CutPlan): string {
  const m = /^ *(\d+) /.exec(line);
  if (!m?.[1]) return line;
  const n = fileFrame(plan, Number(m[1]));
  return `${String(n).padStart(5)}${line.slice(m[0].length - 1)}`;
}

function mapFieldLine(line: string, columns: readonly number[], plan: CutPlan): string {
  const values = line.split('\t');
  for (const i of columns) {
    const v = values[i];
    if (v !== undefined && /^\d+$/.test(v)) values[i] = String(fileFrame(plan, Number(v)));
  }
  return values.join('\t');
}

/**
 * UDP protocols whose text line does not depend on earlier packets. Any other packet that is not
 * TCP (QUIC and DTLS need their handshakes, RTP the SDP that announced it, ICMP and IP fragments
 * name other frames by number in their Info, ARP flags an address seen earlier with another MAC,
 * plain UDP may be RTP in the whole file) sends the page to the whole file.
 */
const STATELESS = new Set([
  'DNS',
  'MDNS',
  'LLMNR',
  'NBNS',
  'DHCP',
  'DHCPv6',
  'NTP',
  'SSDP',
  'SNMP',
  'Syslog',
]);

export interface CutCheck {
  readonly tshark: string;
  /** The file's stream index, when one is held: it knows the streams older than the cut. */
  readonly streams?: StreamIndex | undefined;
  readonly keylogFile?: string | undefined;
  readonly dissection?: Dissection | undefined;
  readonly timeoutMs: number;
}

/**
 * Why the cut's page could differ from a whole-file pass, or undefined when it cannot: each TCP
 * stream with a packet on the page must start (its SYN) inside the cut, after the file's first
 * frame, so its relative sequence numbers, window scale, reassembly and TLS or HTTP/2 state are
 * all built from the same packets as in the whole file; every other packet on the page must be of
 * a protocol whose line stands alone (STATELESS). One more tshark pass over the cut, which is small.
 * Not seen from the cut: a SYN on the page that reuses the ports of a connection older than the
 * warm-up is flagged "[TCP Port numbers reused]" by the whole file only: where the file's stream
 * index is held, it says which streams began so, and a page whose cut does not flag one as the
 * whole file does reads the whole file. Without one (it costs a pass like the summary's), and for
 * a SYN retransmitting one sent before the warm-up, the cut cannot tell.
 */
/** Whether `frame` is the first of a TCP stream that began on the ends of an earlier one. */
function isReusedStart(streams: StreamIndex, frame: number): boolean {
  if (frame > streams.frames) return false;
  const stream = streams.streamOf('tcp', frame);
  return (
    stream >= 0 && streams.span('tcp', stream)?.first === frame && streams.reusedFrom?.(stream) !== undefined
  );
}

export async function cutProblem(
  group: ProcessGroup,
  cut: PageCut,
  check: CutCheck,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const { stdout, result } = await runCollect(group, {
    command: check.tshark,
    args: [
      ...readArgs({ file: cut.file, keylogFile: check.keylogFile, dissection: check.dissection }),
      ...streamStartArgs(),
    ],
    timeoutMs: check.timeoutMs,
    signal,
    maxBytes: 64 * 1024 * 1024,
  });
  if (result.exitCode !== 0 || result.stoppedEarly) return 'the cut could not be checked';
  /** Each TCP stream's first packet in the cut: a SYN after the file's first frame, or not. */
  const started = new Map<string, boolean>();
  for (const line of stdout.split('\n')) {
    const [number, protocol, tcp, syn, udp, reused] = line.trim().split('\t');
    const n = Number(number);
    if (!Number.isInteger(n) || n < 1) continue;
    if (tcp) {
      const first = !started.has(tcp);
      if (first) started.set(tcp, syn === 'Set' && !(cut.plan.anchored && n === 1));
      if (n > cut.plan.skip && !started.get(tcp))
        return `TCP stream of frame ${fileFrame(cut.plan, n)} began before the warm-up`;
      const frame = fileFrame(cut.plan, n);
      if (first && n > cut.plan.skip && check.streams && isReusedStart(check.streams, frame) && !reused)
        return `the SYN of frame ${frame} reuses the ports of a connection older than the warm-up`;
    } else if (n > cut.plan.skip && !STATELESS.has(protocol ?? '')) {
      return `frame ${fileFrame(cut.plan, n)} is ${protocol ?? '?'}${udp ? ' over UDP' : ''}, which may depend on earlier packets`;
    }
  }
  return undefined;
}
