// The `process` column of inspect_protocol's digests, for a capture with a process record: each row
// on the page is traced to its frame (or its TCP stream's first packet, for tcp_health), and that
// packet to its local processes, as the capture's record says (process-record.ts: the sockets'
// owners at that time, or the processes Wireshark attributed the packet to). One bounded tshark
// pass over the page's frames only: the rows of other pages are never looked up.
import { abortError } from '../errors.js';
import type { ProcessGroup } from '../wireshark/process.js';
import { runCollect } from '../wireshark/process.js';
import { cleanStderr } from '../wireshark/tshark.js';
import { allOccurrenceFieldArgs, firstOccurrenceFieldArgs, readArgs } from '../wireshark/tshark-args.js';
import { endFields, ends } from './digests/endpoints.js';
import { AGGREGATOR, first, keyed } from './digests/fields.js';
import type { Row } from './digests/fields.js';
import type { ProcessRecordSource } from './process-record.js';

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
 * For each row that names a frame (or a TCP stream), the processes of that packet as the record
 * labels them ("src-owner → dst-owner" from the sidecar, "?" for an end no recorded socket fits);
 * rows without a local process get none.
 */
export async function rowOwners(
  group: ProcessGroup,
  tshark: string,
  req: { readonly file: string; readonly timeoutMs: number; readonly record: ProcessRecordSource },
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
      extraFields: req.record.packetFields,
    },
    signal,
  );
  const byFrame = new Map<number, string>();
  const byStream = new Map<number, string>();
  for (const p of packets.ends) {
    const label = req.record.packetLabel(p);
    if (label === undefined) continue;
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
  /** The raw values of the extra fields asked for, every occurrence joined by AGGREGATOR. */
  readonly extra?: ReadonlyMap<string, string> | undefined;
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
    /** Fields read besides the ends, every occurrence (a packet may name several processes). */
    readonly extraFields?: readonly string[] | undefined;
  },
  signal: AbortSignal | undefined,
): Promise<{ ends: PacketEnds[]; complete: boolean }> {
  const extra = req.extraFields ?? [];
  const fields = [...PACKET_FIELDS, ...extra];
  const { stdout, result, truncated } = await runCollect(group, {
    command: tshark,
    args: [
      ...readArgs({ file: req.file, displayFilter: req.displayFilter }),
      ...(extra.length === 0 ? firstOccurrenceFieldArgs(fields) : allOccurrenceFieldArgs(fields, AGGREGATOR)),
    ],
    timeoutMs: req.timeoutMs,
    signal,
    maxBytes: req.maxBytes,
  });
  if (result.aborted) throw abortError();
  // The filter is ours: tshark refusing it is a fault to see, not a column to leave blank.
  if (result.exitCode !== 0 && stdout === '')
    throw new Error(`tshark could not read the packets: ${cleanStderr(result.stderr)}`);
  const out: PacketEnds[] = [];
  for (const f of keyed(fields, fieldLines(stdout, truncated))) {
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
      ...(extra.length > 0 && { extra: new Map(extra.map((e) => [e, f.get(e) ?? ''])) }),
    });
  }
  return { ends: out, complete: !truncated };
}

/** tshark's `-T fields` lines as cells; a line cut short at the output bound is dropped. Pure. */
export function fieldLines(stdout: string, truncated: boolean): string[][] {
  const text = truncated ? stdout.slice(0, stdout.lastIndexOf('\n') + 1) : stdout;
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t'));
}
