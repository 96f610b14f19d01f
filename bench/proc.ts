// What the benchmarks and the soak read of processes from /proc (Linux only): state, parent and
// start time, resident memory, a process's tree of descendants, its direct children with their
// names and command lines.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** A /proc file's text, or undefined once the process has gone. */
export function readProc(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined; // the process has gone
  }
}

/** VmHWM (the process's peak resident memory) from /proc/<pid>/status, in bytes; undefined once it is gone. */
export function peakResidentBytes(pid: number): number | undefined {
  const m = readProc(`/proc/${pid}/status`)?.match(/^VmHWM:\s+(\d+) kB/m);
  return m?.[1] === undefined ? undefined : Number(m[1]) * 1024;
}

/** The page size, for /proc/<pid>/statm. */
export const PAGE_BYTES = ((): number => {
  try {
    return Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim()) || 4096;
  } catch {
    return 4096;
  }
})();

/** Resident bytes of a process (VmRSS) from /proc/<pid>/statm, cheaper to read than status. */
export function residentBytes(pid: number): number | undefined {
  const resident = readProc(`/proc/${pid}/statm`)?.split(' ')[1];
  return resident === undefined ? undefined : Number(resident) * PAGE_BYTES;
}

/** State, parent and start time (to tell a process from a later one with its pid) from /proc/<pid>/stat. */
export function procStat(pid: number | string): { state: string; ppid: number; started: string } | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // "pid (comm) state ppid ... starttime(22nd) ...": comm may hold spaces and parentheses.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: f[0] ?? '', ppid: Number(f[1]), started: f[19] ?? '' };
}

const CLOCK_TICKS = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * CPU seconds of a process from /proc/<pid>/stat: its own (user + system), and that of its children
 * it has waited for (ended workers count there). Undefined once it is gone.
 */
export function cpuSeconds(pid: number): { own: number; children: number } | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const at = (i: number): number => Number(f[i] ?? 0);
  // utime, stime, cutime, cstime: the 14th to 17th fields.
  return { own: (at(11) + at(12)) / CLOCK_TICKS, children: (at(13) + at(14)) / CLOCK_TICKS };
}

/**
 * `root` and all its live descendants, each with its start time. It follows each thread's
 * /proc/PID/task/TID/children rather than reading every process on the machine, so that sampling
 * every 15 ms costs little CPU: on two cores, a costly sampler would slow the side that uses both.
 */
export function processTree(root: number): Map<number, string> {
  const tree = new Map<number, string>();
  const todo = [root];
  for (let pid = todo.pop(); pid !== undefined; pid = todo.pop()) {
    const stat = procStat(pid);
    if (stat === undefined || stat.state === 'Z' || tree.has(pid)) continue;
    tree.set(pid, stat.started);
    todo.push(...childPids(pid));
  }
  return tree;
}

/** Direct children of `pid` (every thread's), or none once it is gone. */
export function childPids(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return tasks.flatMap((task) =>
    (readProc(`/proc/${pid}/task/${task}/children`) ?? '')
      .trim()
      .split(' ')
      .flatMap((c) => (c === '' ? [] : [Number(c)])),
  );
}

/** The program name of a process (its comm: at most 15 characters), or undefined once it is gone. */
export function programName(pid: number): string | undefined {
  return readProc(`/proc/${pid}/comm`)?.trim();
}

/** The arguments a process was started with, or undefined once it is gone. */
export function commandLine(pid: number): string[] | undefined {
  const raw = readProc(`/proc/${pid}/cmdline`);
  return raw === undefined ? undefined : raw.split('\0').filter((a) => a !== '');
}

/** Every process on the machine, by pid. */
export function allPids(): number[] {
  return readdirSync('/proc').flatMap((name) => (/^\d+$/.test(name) ? [Number(name)] : []));
}
