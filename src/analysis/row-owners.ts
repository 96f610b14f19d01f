// The `process` column of inspect_protocol's digests, for a capture with a process record: each row
// on the page is traced to its frame (or its TCP stream's first packet, for tcp_health), and that
// packet's two ends to the local processes that owned them at that time. One bounded tshark pass
// over the page's frames only: the rows of other pages are never looked up.
import { abortError } from '../errors.js';
import { ownerName } from '../processes/attribution.js';
import type { Attribution } from '../processes/attribution.js';
import type { ProcessGroup } from '../wireshark/process.js';
import { runCollect } from '../wireshark/process.js';
import { cleanStderr } from '../wireshark/tshark.js';
import { firstOccurrenceFieldArgs, readArgs } from '../wireshark/tshark-args.js';
import { endFields, ends } from './digests/endpoints.js';
import { first, keyed } from './digests/fields.js';
import type { Row } from './digests/fields.js';

/** The column's name, and where it goes: after the row's endpoints. */
export const PROCESS_COLUMN = 'process';

const PACKET_FIELDS = [
  'frame.number',
  'tcp.stream',
  'frame.time_epoch',
  ...new Set([...endFields('tcp'), ...endFields('udp')]),
];

/** The digest's columns with the process column after its endpoints (or at the end). */
export function withProcessColumn(columns: readonly string[]): string[] {
  const after = ['server', 'to', 'client'].map((c) => columns.indexOf(c)).find((i) => i >= 0);
  const at = after === undefined ? columns.length : after + 1;
  return [...columns.slice(0, at), PROCESS_COLUMN, ...columns.slice(at)];
}

/**
 * For each row that names a frame (or a TCP stream), "src-owner → dst-owner" of that packet ("?"
 * for an end no recorded socket fits); rows without a local owner at either end get none.
 */
export async function rowOwners(
  group: ProcessGroup,
  tshark: string,
  req: { readonly file: string; readonly timeoutMs: number; readonly attribution: Attribution },
  rows: readonly Row[],
  signal: AbortSignal | undefined,
): Promise<Map<Row, string>> {
  const frames = new Set<number>();
  const streams = new Set<number>();
  for (const r of rows) {
    if (typeof r.frame === 'number') frames.add(r.frame);
    else if (typeof r.stream === 'number') streams.add(r.stream);
  }
  const out = new Map<Row, string>();
  if (frames.size === 0 && streams.size === 0) return out;
  const terms = [
    ...(frames.size > 0 ? [`frame.number in {${[...frames].join(',')}}`] : []),
    // A stream's first packet tells its ends: its SYN when the capture saw it.
    ...(streams.size > 0 ? [`(tcp.stream in {${[...streams].join(',')}} && tcp.flags.syn == 1)`] : []),
  ];
  const packets = await packetEnds(
    group,
    tshark,
    {
      file: req.file,
      displayFilter: terms.join(' || '),
      timeoutMs: req.timeoutMs,
      maxBytes: 16 * 1024 * 1024,
    },
    signal,
  );
  const byFrame = new Map<number, string>();
  const byStream = new Map<number, string>();
  for (const p of packets.ends) {
    const from = req.attribution.ownerOf(p.protocol, p.src, p.dst, p.at, p.at);
    const to = req.attribution.ownerOf(p.protocol, p.dst, p.src, p.at, p.at);
    if (!from && !to) continue;
    const label = `${from ? ownerName(from) : '?'} → ${to ? ownerName(to) : '?'}`;
    byFrame.set(p.frame, label);
    if (p.stream !== undefined && !byStream.has(p.stream)) byStream.set(p.stream, label);
  }
  for (const r of rows) {
    const label =
      typeof r.frame === 'number'
        ? byFrame.get(r.frame)
        : typeof r.stream === 'number'
          ? byStream.get(r.stream)
          : undefined;
    if (label !== undefined) out.set(r, label);
  }
  return out;
}

/** One packet's TCP or UDP ends, as packetEnds reads them. */
export interface PacketEnds {
  readonly frame: number;
  readonly stream: number | undefined;
  readonly protocol: 'tcp' | 'udp';
  readonly src: string;
  readonly dst: string;
  /** ms since the epoch */
  readonly at: number;
}

/**
 * The TCP and UDP ends of the packets `displayFilter` selects in `file`, in one tshark pass;
 * `complete` is false when tshark's output passed `maxBytes` (the list then holds what came first).
 */
export async function packetEnds(
  group: ProcessGroup,
  tshark: string,
  req: {
    readonly file: string;
    readonly displayFilter: string;
    readonly timeoutMs: number;
    readonly maxBytes: number;
  },
  signal: AbortSignal | undefined,
): Promise<{ ends: PacketEnds[]; complete: boolean }> {
  const { stdout, result, truncated } = await runCollect(group, {
    command: tshark,
    args: [
      ...readArgs({ file: req.file, displayFilter: req.displayFilter }),
      ...firstOccurrenceFieldArgs(PACKET_FIELDS),
    ],
    timeoutMs: req.timeoutMs,
    signal,
    maxBytes: req.maxBytes,
  });
  if (result.aborted) throw abortError();
  // The filter is ours: tshark refusing it is a fault to see, not a column to leave blank.
  if (result.exitCode !== 0 && stdout === '')
    throw new Error(`tshark could not read the packets: ${cleanStderr(result.stderr)}`);
  const text = truncated ? stdout.slice(0, stdout.lastIndexOf('\n') + 1) : stdout;
  const lines = text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t'));
  const out: PacketEnds[] = [];
  for (const f of keyed(PACKET_FIELDS, lines)) {
    const protocol =
      first(f.get('tcp.srcport')) !== '' ? 'tcp' : first(f.get('udp.srcport')) !== '' ? 'udp' : undefined;
    const at = Number(first(f.get('frame.time_epoch'))) * 1000;
    if (protocol === undefined || !(at > 0)) continue;
    const { from, to } = ends(f, protocol);
    const stream = first(f.get('tcp.stream'));
    out.push({
      frame: Number(first(f.get('frame.number'))),
      stream: stream === '' ? undefined : Number(stream),
      protocol,
      src: from,
      dst: to,
      at,
    });
  }
  return { ends: out, complete: !truncated };
}
