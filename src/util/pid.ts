// Whether a process id belongs to a running process (signal 0 checks without signalling), how
// much CPU it has used, and which processes it started.
import { readdir, readFile } from 'node:fs/promises';

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** CPU seconds (user + system) a process has used so far (Linux), or undefined where not known. */
export async function cpuSeconds(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after "pid (comm) ": state is the 3rd field, utime the 14th and stime the 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    // The kernel counts in USER_HZ, 100 a second on every Linux Node runs on.
    return Number.isFinite(ticks) ? ticks / 100 : undefined;
  } catch {
    return undefined;
  }
}

/** The processes `pid` started, and theirs (Linux /proc; none where it cannot be read). */
export async function descendants(pid: number): Promise<number[]> {
  let entries: string[];
  try {
    entries = (await readdir('/proc')).filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
  const parents = new Map<number, number[]>();
  await Promise.all(
    entries.map(async (e) => {
      const stat = await readFile(`/proc/${e}/stat`, 'utf8').catch(() => '');
      // After "pid (comm) ": the state, then the parent's pid.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!Number.isInteger(ppid)) return;
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(e)]);
    }),
  );
  const out: number[] = [];
  const visit = (p: number): void => {
    for (const child of parents.get(p) ?? []) {
      out.push(child);
      visit(child);
    }
  };
  visit(pid);
  return out;
}
