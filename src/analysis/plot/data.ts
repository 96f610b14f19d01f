// The numbers behind plot_capture's pictures, from tshark's machine output: the I/O graph table
// of `-z io,stat` and `-T fields` rows. Pure functions, tested on recorded output.

/** One bucket of tshark's I/O graph: its start (seconds) and frames and bytes per series. */
export interface IoBucket {
  readonly start: number;
  readonly frames: number[];
  readonly bytes: number[];
}

/**
 * Reads the table of `tshark -q -z io,stat,<interval>,<filters...>`: rows such as
 * "|  0 <> 2  |    895 | 610294 |    473 | 581779 |" (the last bucket ends at "Dur"). Each series
 * has a Frames and a Bytes column, in the order the filters were given.
 */
export function parseIoStat(stdout: string): IoBucket[] {
  const buckets: IoBucket[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^\|\s*([\d.]+)\s*<>\s*(?:[\d.]+|Dur)\s*\|(.*)\|\s*$/.exec(line);
    if (!m) continue;
    const cells = (m[2] ?? '').split('|').map((c) => Number(c.trim()));
    if (cells.some((n) => !Number.isFinite(n))) continue;
    const frames: number[] = [];
    const bytes: number[] = [];
    for (let i = 0; i + 1 < cells.length; i += 2) {
      frames.push(cells[i] ?? 0);
      bytes.push(cells[i + 1] ?? 0);
    }
    buckets.push({ start: Number(m[1]), frames, bytes });
  }
  return buckets;
}

/**
 * An interval that cuts `durationSeconds` into about `buckets` buckets, rounded to 1, 2 or 5
 * times a power of ten (as a person would pick), never below a millisecond.
 */
export function niceInterval(durationSeconds: number, buckets = 100): number {
  const raw = Math.max(durationSeconds / buckets, 0.001);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].find((s) => s * power >= raw) ?? 10;
  // Rounded so that String() prints it as tshark reads it (no 0.30000000000000004).
  return Number((step * power).toPrecision(6));
}

/**
 * At most `max` of `items`, evenly spaced, always keeping the first and the last; `keep` marks
 * items that stay whatever (retransmissions and zero windows must not be thinned away).
 */
export function downsample<T>(items: readonly T[], max: number, keep?: (item: T) => boolean): T[] {
  if (items.length <= max) return [...items];
  const kept = keep ? items.filter(keep) : [];
  const room = Math.max(max - kept.length, 2);
  const step = (items.length - 1) / (room - 1);
  const picked = new Set<number>();
  for (let i = 0; i < room; i++) picked.add(Math.round(i * step));
  return items
    .filter((item, i) => picked.has(i) || (keep?.(item) ?? false))
    .slice(0, Math.max(max, kept.length));
}

/** A `-T fields` row's cells by name, in the order the fields were asked for. */
export function fieldRows(stdout: string, fields: readonly string[]): Record<string, string>[] {
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const cells = l.split('\t');
      return Object.fromEntries(fields.map((f, i) => [f, cells[i] ?? '']));
    });
}

/** A field tshark printed as a number, or undefined when it printed nothing. */
export function num(cell: string | undefined): number | undefined {
  if (cell === undefined || cell === '') return undefined;
  const n = Number(cell);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Sums `value` per bucket of `interval` seconds and `key` (the throughput graph's numbers), every
 * bucket from the first to the last present for each key, empty ones as 0, so a line drops to
 * zero where nothing was sent rather than bridging the gap.
 */
export function bucketSums<T>(
  items: readonly T[],
  interval: number,
  time: (item: T) => number,
  key: (item: T) => string,
  value: (item: T) => number,
): { start: number; key: string; sum: number }[] {
  const sums = new Map<string, number>();
  const keys = new Set<string>();
  let last = 0;
  for (const item of items) {
    const index = Math.floor(time(item) / interval);
    const k = key(item);
    keys.add(k);
    last = Math.max(last, index);
    const id = `${index}\t${k}`;
    sums.set(id, (sums.get(id) ?? 0) + value(item));
  }
  const out: { start: number; key: string; sum: number }[] = [];
  for (let index = 0; index <= last && keys.size > 0; index++)
    for (const k of [...keys].sort())
      out.push({
        start: Number((index * interval).toPrecision(9)),
        key: k,
        sum: sums.get(`${index}\t${k}`) ?? 0,
      });
  return out;
}
