// What the start and stop benches share: their command line ([rounds] [--busy]), the medians
// they print, and the spinning children that keep every core busy for --busy.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';

/** `[rounds] [--busy]` from the command line. */
export function roundsArgs(fallbackRounds: number): { rounds: number; busy: boolean } {
  const argv = process.argv.slice(2);
  return {
    rounds: Number(argv.find((a) => /^\d+$/.test(a)) ?? fallbackRounds),
    busy: argv.includes('--busy'),
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

/** One spinning child per core when `busy`; the caller kills them (by pid) at the end. */
export function spinners(busy: boolean): ChildProcess[] {
  return busy ? os.cpus().map(() => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' })) : [];
}
