// capinfos: facts about a capture file that need no dissection (for now, its packet count).
import type { ProcessGroup } from './process.js';
import { runCollect } from './process.js';

/** Reads `capinfos -M -T -r -c` output ("<file>\t<count>"). Pure, for tests on recorded output. */
export function parsePacketCount(stdout: string): number | undefined {
  const line = stdout.trim().split('\n').at(-1) ?? '';
  const count = line.split('\t').at(-1);
  if (count === undefined || !/^\d+$/.test(count)) return undefined;
  return Number(count);
}

/** The number of packets in a capture file (those before a cut, for a truncated one). */
export async function countPackets(
  group: ProcessGroup,
  capinfosPath: string,
  file: string,
  signal?: AbortSignal,
): Promise<number | undefined> {
  const { stdout } = await runCollect(group, {
    command: capinfosPath,
    args: ['-M', '-T', '-r', '-c', file],
    timeoutMs: 120_000,
    signal,
    maxBytes: 65_536,
  });
  return parsePacketCount(stdout);
}

export interface CaptureInterface {
  readonly name: string | undefined;
  readonly description: string | undefined;
  readonly encapsulation: string | undefined;
  readonly packets: number | undefined;
}

export interface CaptureFacts {
  readonly fileType: string | undefined;
  readonly encapsulation: string | undefined;
  readonly packets: number | undefined;
  readonly fileBytes: number | undefined;
  readonly dataBytes: number | undefined;
  readonly durationSeconds: number | undefined;
  readonly firstPacketTime: string | undefined;
  readonly lastPacketTime: string | undefined;
  readonly interfaces: readonly CaptureInterface[];
}

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
