// capinfos: facts about a capture file that need no dissection (for now, its packet count).
import type { ProcessGroup } from './process.js';

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
  let out = '';
  await group.run({
    command: capinfosPath,
    args: ['-M', '-T', '-r', '-c', file],
    timeoutMs: 120_000,
    signal,
    onStdout: (chunk) => {
      out += chunk.toString('utf8');
      return out.length > 65_536 ? 'stop' : 'continue';
    },
  });
  return parsePacketCount(out);
}
