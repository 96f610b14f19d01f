// The numbers behind plot_capture's pictures, from tshark's machine output: the I/O graph table
// of `-z io,stat` and `-T fields` rows. Pure functions, tested on recorded output, and the
// reducers that fold a stream's rows as they arrive into a picture of bounded size (a pixel-column
// envelope, an evenly thinned sample, exact sums and extremes), so a stream of millions of packets
// costs no more memory than a short one.
import type { DDSketch } from '@datadog/sketches-js';
import { newSketch } from '../stats-accumulators.js';

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

/** A field tshark printed as a number, or undefined when it printed nothing. */
export function num(cell: string | undefined): number | undefined {
  if (cell === undefined || cell === '') return undefined;
  const n = Number(cell);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Per interval and key, the sum of the values added (the throughput graph's numbers), computed as
 * the rows stream. With a fixed interval, add() says false once the buckets would be more than
 * `maxBuckets`. With "auto", the interval is not known until the last row (it depends on the whole
 * span), so the sums are kept at a fine width that divides every interval niceInterval() can pick
 * (a millisecond, widened tenfold whenever there would be more than FINE_BUCKETS), and are
 * gathered into the picked interval at the end: the same sums as bucketing at that interval
 * directly, in bounded memory. Buckets start at the first row's time.
 */
export class BucketSums {
  static readonly FINE_BUCKETS = 20_000;
  private readonly sums = new Map<number, Map<string, number>>();
  private readonly keys = new Set<string>();
  private width: number;
  private origin: number | undefined;
  private low = Infinity;
  private high = -Infinity;
  private first = Infinity;
  private last = -Infinity;

  constructor(
    private readonly interval: number | 'auto',
    private readonly maxBuckets: number,
  ) {
    this.width = interval === 'auto' ? 0.001 : interval;
  }

  /** Adds a value at `time` (seconds); false when a fixed interval needs too many buckets. */
  add(time: number, key: string, value: number): boolean {
    this.origin ??= time;
    this.first = Math.min(this.first, time);
    this.last = Math.max(this.last, time);
    let index = Math.floor((time - this.origin) / this.width);
    const cap = this.interval === 'auto' ? BucketSums.FINE_BUCKETS : this.maxBuckets;
    // A loop: after a long silence one row can be many widenings away.
    while (Math.max(this.high, index) - Math.min(this.low, index) + 1 > cap) {
      if (this.interval !== 'auto') return false;
      this.widen();
      index = Math.floor(index / 10);
    }
    this.low = Math.min(this.low, index);
    this.high = Math.max(this.high, index);
    this.keys.add(key);
    addTo(this.sums, index, [[key, value]]);
    return true;
  }

  /** The first row's time: where the buckets start. */
  get start(): number {
    return this.origin ?? 0;
  }

  /** Seconds from the first row to the last. */
  get span(): number {
    return this.last >= this.first ? this.last - this.first : 0;
  }

  /**
   * The interval used and, for each bucket from the first to the last and each key (sorted), its
   * sum; empty buckets as 0, so a line drops to zero where nothing was sent rather than bridging
   * the gap. Starts are seconds from the first row.
   */
  result(): { interval: number; rows: { start: number; key: string; sum: number }[] } {
    const interval = this.interval === 'auto' ? niceInterval(Math.max(this.span, 0.001)) : this.interval;
    // Fine buckets per final one: a whole number, as the fine width divides every nice interval.
    const per = this.interval === 'auto' ? Math.max(1, Math.round(interval / this.width)) : 1;
    const gathered = new Map<number, Map<string, number>>();
    for (const [index, bucket] of this.sums) addTo(gathered, Math.floor(index / per), bucket);
    const rows: { start: number; key: string; sum: number }[] = [];
    const keys = [...this.keys].sort();
    if (keys.length === 0) return { interval, rows };
    const from = Math.floor(this.low / per);
    const to = Math.floor(this.high / per);
    for (let at = from; at <= to; at++)
      for (const k of keys)
        rows.push({
          start: Number((at * interval).toPrecision(9)),
          key: k,
          sum: gathered.get(at)?.get(k) ?? 0,
        });
    return { interval, rows };
  }

  /** Ten times the width: each ten fine buckets become one. */
  private widen(): void {
    this.width = Number((this.width * 10).toPrecision(6));
    const old = [...this.sums];
    this.sums.clear();
    for (const [index, bucket] of old) addTo(this.sums, Math.floor(index / 10), bucket);
    this.low = Math.floor(this.low / 10);
    this.high = Math.floor(this.high / 10);
  }
}

/** Adds each key's value into bucket `at` of `buckets`. */
function addTo(
  buckets: Map<number, Map<string, number>>,
  at: number,
  values: Iterable<[string, number]>,
): void {
  let into = buckets.get(at);
  if (!into) buckets.set(at, (into = new Map<string, number>()));
  for (const [k, v] of values) into.set(k, (into.get(k) ?? 0) + v);
}

/**
 * The outline of a cloud of points over time, in bounded memory: every point while there are at
 * most `raw`; past that, the time since the first point is cut into `columns` columns (about a
 * pixel each in the picture) and each keeps only its lowest and highest point, so the drawn shape
 * (steps, stalls, jumps back) is the one all the points would draw. The columns' width is not known
 * in advance: it starts at about a microsecond and doubles, merging neighbours, whenever a point
 * falls past the last column.
 */
export class Envelope<T> {
  private rawItems: T[] | undefined = [];
  private cols: ({ low: T; high: T } | undefined)[] = [];
  private width = 2 ** -20;
  private origin: number | undefined;
  /** Points added, all of them. */
  count = 0;

  constructor(
    private readonly opts: {
      readonly raw: number;
      readonly columns: number;
      readonly time: (item: T) => number;
      readonly value: (item: T) => number;
    },
  ) {}

  add(item: T): void {
    this.count++;
    if (this.rawItems) {
      this.rawItems.push(item);
      if (this.rawItems.length <= this.opts.raw) return;
      const held = this.rawItems;
      this.rawItems = undefined;
      for (const h of held) this.fold(h);
      return;
    }
    this.fold(item);
  }

  /** Some points were left out: only the columns' extremes are kept. */
  get thinned(): boolean {
    return this.rawItems === undefined;
  }

  /** The points kept, in the order they were added (raw) or by column, each column's in time order. */
  items(): T[] {
    if (this.rawItems) return [...this.rawItems];
    const out: T[] = [];
    for (const c of this.cols) {
      if (!c) continue;
      if (c.low === c.high) out.push(c.low);
      else if (this.opts.time(c.low) <= this.opts.time(c.high)) out.push(c.low, c.high);
      else out.push(c.high, c.low);
    }
    return out;
  }

  private fold(item: T): void {
    const { time, value, columns } = this.opts;
    const t = time(item);
    this.origin ??= t;
    // A timestamp before the first point's (a capture's clock stepping back) joins the first column.
    let index = Math.max(0, Math.floor((t - this.origin) / this.width));
    while (index >= columns) {
      this.halve();
      index = Math.floor(index / 2);
    }
    const c = this.cols[index];
    if (!c) {
      this.cols[index] = { low: item, high: item };
      return;
    }
    if (value(item) < value(c.low)) c.low = item;
    if (value(item) > value(c.high)) c.high = item;
  }

  /** Twice the width: each pair of neighbouring columns becomes one. */
  private halve(): void {
    const { value } = this.opts;
    const merged: ({ low: T; high: T } | undefined)[] = [];
    for (let i = 0; i < this.cols.length; i += 2) {
      const [a, b] = [this.cols[i], this.cols[i + 1]];
      if (!a || !b) merged.push(a ?? b);
      else
        merged.push({
          low: value(b.low) < value(a.low) ? b.low : a.low,
          high: value(b.high) > value(a.high) ? b.high : a.high,
        });
    }
    this.cols = merged;
    this.width *= 2;
  }
}

/**
 * At most `max` of the items added, evenly spaced by count (every k-th, k doubling each time the
 * sample fills), and how many there were: the markers a picture draws when there are too many
 * to draw them all.
 */
export class EvenSample<T> {
  private kept: T[] = [];
  private stride = 1;
  /** Items added, all of them. */
  count = 0;

  constructor(private readonly max: number) {}

  add(item: T): void {
    if (this.count++ % this.stride !== 0) return;
    this.kept.push(item);
    if (this.kept.length > this.max) {
      this.kept = this.kept.filter((_, i) => i % 2 === 0);
      this.stride *= 2;
    }
  }

  get items(): readonly T[] {
    return this.kept;
  }
}

/**
 * Count, minimum, mean, maximum and median of numbers as they come: the median is exact while
 * there are at most `exact` of them, and past that read from a DDSketch (within 1 % of the true
 * value), so memory stays bounded.
 */
export class Spread {
  n = 0;
  min = Infinity;
  max = -Infinity;
  private sum = 0;
  private values: number[] | undefined = [];
  private sketch: DDSketch | undefined;

  constructor(private readonly exact: number) {}

  add(x: number): void {
    this.n++;
    this.sum += x;
    this.min = Math.min(this.min, x);
    this.max = Math.max(this.max, x);
    if (this.values && this.values.length < this.exact) {
      this.values.push(x);
      return;
    }
    if (this.values) {
      this.sketch = newSketch(0.01);
      for (const v of this.values) this.sketch.accept(v);
      this.values = undefined;
    }
    this.sketch?.accept(x);
  }

  get mean(): number {
    return this.n === 0 ? NaN : this.sum / this.n;
  }

  /** The lower median (nearest rank), and whether it is the sketch's estimate. */
  median(): { value: number; approximate: boolean } {
    if (this.values) {
      const sorted = [...this.values].sort((a, b) => a - b);
      return { value: sorted[Math.floor((sorted.length - 1) / 2)] ?? NaN, approximate: false };
    }
    const v = this.sketch?.getValueAtQuantile(0.5) ?? NaN;
    return { value: Math.min(this.max, Math.max(this.min, v)), approximate: true };
  }
}
