// capinfos: facts about a capture file that need no dissection (for now, its packet count).
import * as z from 'zod';
import type { ProcessGroup } from './process.js';
import { runCollect } from './process.js';

/**
 * Reads `capinfos -M -T -r -c` output ("<file>\t<count>"), and its stderr: capinfos prints no count
 * for a file that is damaged part-way, only "An error occurred after reading N packets", and N is
 * what it read before the damage. Pure, for tests on recorded output.
 */
export function parsePacketCount(stdout: string, stderr = ''): number | undefined {
  const line = stdout.trim().split('\n').at(-1) ?? '';
  const count = line.split('\t').at(-1);
  if (count !== undefined && /^\d+$/.test(count)) return Number(count);
  const before = stderr.match(/An error occurred after reading (\d+) packets? from/);
  return before?.[1] === undefined ? undefined : Number(before[1]);
}

/**
 * The packets capinfos reads in a file (those before the damage of a file cut short or damaged
 * part-way), and whether it could open the file at all: a file whose header is gone or damaged
 * cannot be opened, and then capinfos says what is wrong without "after reading N packets".
 */
export async function countReadable(
  group: ProcessGroup,
  capinfosPath: string,
  file: string,
  signal?: AbortSignal,
): Promise<{ readonly packets: number | undefined; readonly opened: boolean }> {
  const { stdout, result } = await runCollect(group, {
    command: capinfosPath,
    args: ['-M', '-T', '-r', '-c', file],
    timeoutMs: 120_000,
    signal,
    maxBytes: 65_536,
  });
  const packets = parsePacketCount(stdout, result.stderr);
  const refused =
    !result.timedOut &&
    !result.aborted &&
    packets === undefined &&
    /^capinfos: The file /m.test(result.stderr);
  return { packets, opened: !refused };
}

/**
 * The number of packets in a capture file: those before the damage of a file cut short or damaged
 * part-way; undefined when the file cannot be opened at all.
 */
export async function countPackets(
  group: ProcessGroup,
  capinfosPath: string,
  file: string,
  signal?: AbortSignal,
): Promise<number | undefined> {
  return (await countReadable(group, capinfosPath, file, signal)).packets;
}

/**
 * What capinfos says of a capture file and its interfaces: undefined where it does not say (a
 * damaged file, a pcap file without interface blocks). Published as it is in summarize_capture's
 * structured answer, so the schema is the declaration and the type comes from it.
 */
export const captureFactsSchema = z.object({
  fileType: z.string().optional(),
  encapsulation: z.string().optional(),
  packets: z.number().optional(),
  fileBytes: z.number().optional(),
  dataBytes: z.number().optional(),
  durationSeconds: z.number().optional(),
  firstPacketTime: z.string().optional(),
  lastPacketTime: z.string().optional(),
  interfaces: z.array(
    z.object({
      name: z.string().optional(),
      description: z.string().optional(),
      encapsulation: z.string().optional(),
      /** The snapshot length: longer packets were cut to it. */
      snaplen: z.number().optional(),
      packets: z.number().optional(),
    }),
  ),
});

export type CaptureFacts = z.infer<typeof captureFactsSchema>;

function num(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = Number.parseFloat(s);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Reads `capinfos -M -t -E -c -s -d -u -a -e -I`: "Key: value" lines, then an indented
 * "Key = value" block per interface. Pure, for tests on recorded output.
 */
export function parseCaptureFacts(stdout: string): CaptureFacts {
  const top = new Map<string, string>();
  const interfaces: Map<string, string>[] = [];
  for (const line of stdout.split('\n')) {
    if (/^Interface #\d+ info:/.test(line)) {
      interfaces.push(new Map());
      continue;
    }
    const nested = line.match(/^\s+([^=]+?) = (.*)$/);
    if (nested && interfaces.length > 0) {
      interfaces.at(-1)?.set(nested[1] ?? '', nested[2] ?? '');
      continue;
    }
    const kv = line.match(/^([^:]+):\s+(.*)$/);
    if (kv) top.set((kv[1] ?? '').trim(), (kv[2] ?? '').trim());
  }
  const na = (s: string | undefined): string | undefined => (s === undefined || s === 'n/a' ? undefined : s);
  return {
    fileType: na(top.get('File type')),
    encapsulation: na(top.get('File encapsulation')),
    packets: num(top.get('Number of packets')),
    fileBytes: num(top.get('File size')),
    dataBytes: num(top.get('Data size')),
    durationSeconds: num(na(top.get('Capture duration'))),
    firstPacketTime: na(top.get('First packet time')),
    lastPacketTime: na(top.get('Last packet time')),
    interfaces: interfaces.map((i) => ({
      name: i.get('Name'),
      description: i.get('Description'),
      encapsulation: i.get('Encapsulation'),
      snaplen: num(i.get('Capture length')),
      packets: num(i.get('Number of packets')),
    })),
  };
}

/** Facts about a capture that capinfos reads without dissecting it. */
export async function captureFacts(
  group: ProcessGroup,
  capinfosPath: string,
  file: string,
  signal?: AbortSignal,
): Promise<CaptureFacts> {
  const { stdout } = await runCollect(group, {
    command: capinfosPath,
    args: ['-M', '-t', '-E', '-c', '-s', '-d', '-u', '-a', '-e', '-I', file],
    timeoutMs: 300_000,
    signal,
    maxBytes: 1_000_000,
  });
  return parseCaptureFacts(stdout);
}

/** A time stamp as the summary counter reports it: wiretap's precision, and capinfos's text. */
export interface Stamp {
  readonly secs: number;
  readonly nsecs: number;
  /** WTAP_TSPREC_*: the number of decimals (0, 1, 2, 3, 6 or 9), or a negative "unknown". */
  readonly prec: number;
  /** As capinfos prints it (local time). */
  readonly text: string;
}

/**
 * What capinfos counts while it reads a file, over one range of it, as the summary counter inside
 * the range's tshark counted it (native/summary-counter.c).
 */
export interface RangeFacts {
  readonly packets: number;
  /** Original lengths, as capinfos's "Data size". */
  readonly dataBytes: number;
  /** Every record had a time stamp. */
  readonly allTimes: boolean;
  /** Earliest and latest time stamps; undefined without any. */
  readonly start: Stamp | undefined;
  readonly stop: Stamp | undefined;
  /** Packets by interface ID. */
  readonly interfaces: ReadonlyMap<number, number>;
}

const earlier = (x: Stamp, y: Stamp): boolean => x.secs < y.secs || (x.secs === y.secs && x.nsecs < y.nsecs);

/** A duration as capinfos prints it (nstime_delta, then the finer of both precisions), read back. */
function durationSeconds(start: Stamp, stop: Stamp): number | undefined {
  let secs = stop.secs - start.secs;
  let nsecs = stop.nsecs - start.nsecs;
  if (secs !== 0 && nsecs < 0) {
    nsecs += 1e9;
    secs -= 1;
  }
  const digits = Math.max(start.prec, stop.prec);
  if (![0, 1, 2, 3, 6, 9].includes(digits)) return undefined; // "Unknown precision"
  const fraction =
    digits === 0 ? '' : `.${String(Math.trunc(nsecs / 10 ** (9 - digits))).padStart(digits, '0')}`;
  return num(`${secs}${fraction}`);
}

/**
 * The facts of a whole file, as capinfos gives them reading all of it, from what it says of the
 * file's head alone (type, encapsulation, interfaces: see ChunkPlan.head) and from the counts of
 * its ranges, in file order. Ties between time stamps go to the earlier range, as capinfos keeps
 * the first record to reach the earliest or latest time.
 */
export function combineFacts(
  head: CaptureFacts,
  fileBytes: number,
  ranges: readonly RangeFacts[],
): CaptureFacts {
  let packets = 0;
  let dataBytes = 0;
  let allTimes = true;
  let start: Stamp | undefined;
  let stop: Stamp | undefined;
  const perInterface = new Map<number, number>();
  for (const r of ranges) {
    packets += r.packets;
    dataBytes += r.dataBytes;
    allTimes &&= r.allTimes;
    if (r.start && (!start || earlier(r.start, start))) start = r.start;
    if (r.stop && (!stop || earlier(stop, r.stop))) stop = r.stop;
    for (const [id, n] of r.interfaces) perInterface.set(id, (perInterface.get(id) ?? 0) + n);
  }
  // capinfos prints no times when a record had none, and "n/a" when there are no packets.
  const times = allTimes && packets > 0 && start && stop ? { start, stop } : undefined;
  return {
    ...head,
    packets,
    fileBytes,
    dataBytes,
    durationSeconds: times ? durationSeconds(times.start, times.stop) : undefined,
    firstPacketTime: times?.start.text,
    lastPacketTime: times?.stop.text,
    interfaces: head.interfaces.map((i, id) => ({ ...i, packets: perInterface.get(id) ?? 0 })),
  };
}
