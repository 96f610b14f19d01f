// Progress of a tshark pass over a file: how far it has read (the kernel's count of bytes the
// process read, /proc/<pid>/io on Linux) as a share of the file, turned into packets out of the
// total capinfos counted.
import { readFile, stat } from 'node:fs/promises';

export interface Progress {
  readonly progress: number;
  readonly total?: number | undefined;
  readonly message: string;
}

export type ProgressSink = (p: Progress) => void;

/** Bytes a process has read so far (Linux), or undefined where that cannot be known. */
export async function bytesRead(pid: number): Promise<number | undefined> {
  try {
    const io = await readFile(`/proc/${pid}/io`, 'utf8');
    const m = io.match(/^rchar:\s*(\d+)$/m);
    return m?.[1] === undefined ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

/**
 * Reports progress of `pid` reading `file` every `intervalMs` until the returned function is
 * called (which reports completion). `totalPackets` resolves when capinfos has counted them.
 */
export async function watchRead(
  pid: number,
  file: string,
  totalPackets: Promise<number | undefined>,
  sink: ProgressSink,
  intervalMs = 250,
): Promise<() => void> {
  const size = (await stat(file)).size;
  let total: number | undefined;
  void totalPackets.then(
    (t) => (total = t),
    () => undefined,
  );
  const report = (fraction: number): void => {
    const f = Math.min(1, Math.max(0, fraction));
    if (total !== undefined) {
      sink({
        progress: Math.round(f * total),
        total,
        message: `${Math.round(f * total)} of ${total} packets read`,
      });
    } else {
      sink({
        progress: Math.round(f * 100),
        total: 100,
        message: `${Math.round(f * 100)}% of the file read`,
      });
    }
  };
  report(0);
  let last = -1;
  const timer = setInterval(() => {
    void bytesRead(pid).then((n) => {
      if (n === undefined || size === 0) return;
      // The process also reads its own libraries and settings; the file dominates what it reads.
      const fraction = Math.min(0.99, n / size);
      if (fraction > last) {
        last = fraction;
        report(fraction);
      }
    });
  }, intervalMs);
  return () => {
    clearInterval(timer);
    report(1);
  };
}

/**
 * Progress over several passes in a row, as one count that only goes up (MCP requires it): each
 * pass counts on from where the one before it ended, and says which pass it is when there are
 * several. `passes` is how many there will be, when known.
 */
export function passesInARow(
  sink: ProgressSink | undefined,
  passes?: number,
): (label: string) => ProgressSink | undefined {
  if (sink === undefined) return () => undefined;
  let base = 0;
  let last = 0;
  let sent = -1;
  let index = 0;
  return (label: string): ProgressSink => {
    base = last;
    index++;
    const name = passes === undefined ? `pass ${index}` : `pass ${index} of ${passes}`;
    return (p) => {
      last = base + p.progress;
      if (last <= sent) return;
      sent = last;
      sink({
        progress: last,
        // Every pass reads the whole capture again: the passes still to come are as long as this one.
        total:
          p.total === undefined
            ? undefined
            : base + p.total * (passes === undefined ? 1 : passes - index + 1),
        message: passes === 1 ? p.message : `${name}, ${label}: ${p.message}`,
      });
    };
  };
}
