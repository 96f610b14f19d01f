// capture_statistics's arithmetic: what a metric is ("count", "avg:dns.time", "p95:http.time"), and
// the per-group accumulators that fold tshark's packet lines into them one at a time, with memory
// bounded whatever the capture's size: a cap on groups (later groups share one "(other groups)"
// row), and one budget of values kept exactly for distinct counts and percentiles across all
// groups. Past it a distinct count says "at least", and a percentile moves to a DDSketch (1 %
// relative error, a well-kept library) and says it is approximate. Pure: no process, no MCP.
import { createRequire } from 'node:module';
import type { DDSketch } from '@datadog/sketches-js';
import type * as Sketches from '@datadog/sketches-js';
import { UserError } from '../errors.js';
import { AGGREGATOR } from './digests/fields.js';

const require = createRequire(import.meta.url);

/**
 * A DDSketch of `relativeAccuracy`. The library (CommonJS, with protobufjs: 14 modules) loads
 * with the first sketch, which only a long series of percentiles makes: a server's start, and
 * most calls, do without it.
 */
export function newSketch(relativeAccuracy: number): DDSketch {
  const { DDSketch: Sketch } = require('@datadog/sketches-js') as typeof Sketches;
  return new Sketch({ relativeAccuracy });
}

export type MetricKind = 'count' | 'sum' | 'avg' | 'min' | 'max' | 'distinct' | 'percentile';

export interface Metric {
  /** As the call wrote it, e.g. "avg:dns.time": the column's name. */
  readonly label: string;
  readonly kind: MetricKind;
  /** The field it reads (none for count). */
  readonly field?: string | undefined;
  /** For a percentile: 0.95 for p95. */
  readonly quantile?: number | undefined;
}

/** A metric's text: "count", or "<sum|avg|min|max|distinct|pNN>:<field>". */
export const METRIC_PATTERN =
  /^(?:count|(?:sum|avg|min|max|distinct|p\d{1,2}(?:\.\d{1,2})?):[A-Za-z0-9_][A-Za-z0-9_.-]*)$/;

/** Relative accuracy of a percentile once it is no longer exact. */
export const SKETCH_ACCURACY = 0.01;

export function parseMetric(text: string): Metric {
  if (!METRIC_PATTERN.test(text)) {
    throw new UserError(
      `metrics: ${JSON.stringify(text)} is not a metric. Write "count", or an aggregate and a field name joined by ":": sum, avg, min, max, distinct or a percentile p1-p99 (e.g. "avg:dns.time", "p95:http.time", "distinct:ip.src").`,
    );
  }
  if (text === 'count') return { label: text, kind: 'count' };
  const [agg = '', field] = text.split(':');
  if (agg.startsWith('p')) {
    const q = Number(agg.slice(1));
    if (!(q > 0 && q < 100)) throw new UserError(`metrics: ${text}: a percentile is between p1 and p99.`);
    return { label: text, kind: 'percentile', field, quantile: Math.round(q * 100) / 10_000 };
  }
  return { label: text, kind: agg as MetricKind, field };
}

/** Whether a metric adds numbers (a distinct count takes any value). */
export const isNumeric = (m: Metric): boolean => m.kind !== 'count' && m.kind !== 'distinct';

/** How many values all groups together may keep exactly (distinct sets, percentile lists). */
export class ValueBudget {
  /** Whether a value was ever refused: something computed from it is no longer exact. */
  short = false;
  constructor(private left: number) {}
  take(n = 1): boolean {
    if (this.left < n) {
      this.short = true;
      return false;
    }
    this.left -= n;
    return true;
  }
  give(n: number): void {
    this.left += n;
  }
}

/** One metric of one group, as a number and how it was reached. */
export interface MetricValue {
  /** null when no packet of the group had the field. */
  readonly value: number | null;
  /** Values it was computed from (occurrences of the field; packets for count). */
  readonly n: number;
  /** "at least" (a distinct count past its budget) or "approximate" (a percentile from the sketch). */
  readonly bound?: 'at least' | 'approximate' | undefined;
}

interface Store {
  add(value: string): void;
  result(groupCount: number): MetricValue;
}

class NumberStore implements Store {
  n = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  private exact: number[] | undefined = [];
  private sketch: DDSketch | undefined;

  constructor(
    private readonly metric: Metric,
    private readonly budget: ValueBudget,
    private readonly skipped: { count: number },
  ) {}

  add(value: string): void {
    const x = Number(value);
    if (value === '' || !Number.isFinite(x)) {
      this.skipped.count++;
      return;
    }
    this.n++;
    this.sum += x;
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
    if (this.metric.kind !== 'percentile') return;
    if (this.exact && this.budget.take()) {
      this.exact.push(x);
      return;
    }
    if (this.exact) {
      // Out of budget: the values kept so far go into the sketch and their room goes back.
      this.sketch = newSketch(SKETCH_ACCURACY);
      for (const v of this.exact) this.sketch.accept(v);
      this.budget.give(this.exact.length);
      this.exact = undefined;
    }
    this.sketch?.accept(x);
  }

  result(): MetricValue {
    if (this.n === 0) return { value: null, n: 0 };
    switch (this.metric.kind) {
      case 'sum':
        return { value: this.sum, n: this.n };
      case 'avg':
        return { value: this.sum / this.n, n: this.n };
      case 'min':
        return { value: this.min, n: this.n };
      case 'max':
        return { value: this.max, n: this.n };
      default:
        return this.percentile();
    }
  }

  private percentile(): MetricValue {
    const q = this.metric.quantile ?? 0.5;
    if (this.exact) {
      // Nearest rank: the smallest value with at least q of the values at or below it.
      const sorted = [...this.exact].sort((a, b) => a - b);
      return { value: sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? null, n: this.n };
    }
    const v = this.sketch?.getValueAtQuantile(q) ?? null;
    // The sketch's value lies within its relative error; the true extremes bound it.
    return {
      value: v === null ? null : Math.min(this.max, Math.max(this.min, v)),
      n: this.n,
      bound: 'approximate',
    };
  }
}

class DistinctStore implements Store {
  private readonly seen = new Set<string>();
  private full = false;
  n = 0;

  constructor(private readonly budget: ValueBudget) {}

  add(value: string): void {
    if (value === '') return;
    this.n++;
    if (this.seen.has(value) || this.full) return;
    if (this.budget.take()) this.seen.add(value);
    else this.full = true;
  }

  result(): MetricValue {
    return { value: this.n === 0 ? 0 : this.seen.size, n: this.n, bound: this.full ? 'at least' : undefined };
  }
}

/** One group's accumulators: its packets, and a store for each metric that reads a field. */
export class GroupAccumulator {
  count = 0;
  private readonly stores: (Store | undefined)[];

  constructor(
    private readonly metrics: readonly Metric[],
    budget: ValueBudget,
    skipped: { count: number },
  ) {
    this.stores = metrics.map((m) =>
      m.kind === 'count'
        ? undefined
        : m.kind === 'distinct'
          ? new DistinctStore(budget)
          : new NumberStore(m, budget, skipped),
    );
  }

  /** One packet: `values[i]` is metric i's field as tshark printed it (occurrences joined). */
  add(values: readonly (string | undefined)[]): void {
    this.count++;
    this.stores.forEach((store, i) => {
      const v = values[i];
      if (!store || v === undefined || v === '') return;
      for (const one of v.split(AGGREGATOR)) store.add(one);
    });
  }

  results(): MetricValue[] {
    return this.metrics.map((m, i) =>
      m.kind === 'count'
        ? { value: this.count, n: this.count }
        : (this.stores[i]?.result(this.count) ?? { value: null, n: 0 }),
    );
  }
}

/** A group's key as shown: "(none)" where the packet lacks the field. */
export const NONE = '(none)';
/** The row that holds the groups past the cap, together. */
export const OTHER = '(other groups)';
/** Most groups of one packet (the product of its fields' values): a bound on one line's work. */
const MAX_KEYS_PER_PACKET = 256;

export interface GroupingLimits {
  readonly maxGroups: number;
  /** Values kept exactly: a number, or a budget shared with other groupings (a time series' series). */
  readonly valueBudget: number | ValueBudget;
}

/**
 * Groups packets by the values of up to three fields and folds each into its groups and into the
 * total (once a packet, whatever its groups). A packet with several values of a grouping field
 * counts in each of its groups.
 */
export class Grouping {
  readonly total: GroupAccumulator;
  readonly groups = new Map<string, GroupAccumulator>();
  /** Packets that fell in a group past the cap (counted in OTHER). */
  overflowPackets = 0;
  /** Packets that counted in more than one group. */
  multiGroupPackets = 0;
  /** Packets whose combinations of values were more than one line may make (only the first kept). */
  cutCombinations = 0;
  readonly skipped = { count: 0 };
  private readonly budget: ValueBudget;

  constructor(
    private readonly metrics: readonly Metric[],
    private readonly limits: GroupingLimits,
  ) {
    this.budget =
      typeof limits.valueBudget === 'number' ? new ValueBudget(limits.valueBudget) : limits.valueBudget;
    this.total = new GroupAccumulator(metrics, this.budget, this.skipped);
  }

  /** One packet: its grouping fields' values, then each metric's field's value; the keys it counted under. */
  add(keyValues: readonly string[], metricValues: readonly (string | undefined)[]): string[] {
    this.total.add(metricValues);
    const { keys, cut } = keysOf(keyValues);
    if (cut) this.cutCombinations++;
    if (keys.length > 1) this.multiGroupPackets++;
    for (const key of keys) {
      let acc = this.groups.get(key);
      if (!acc) {
        if (this.groups.size >= this.limits.maxGroups) {
          this.overflowPackets++;
          this.otherGroups ??= new GroupAccumulator(this.metrics, this.budget, { count: 0 });
          this.otherGroups.add(metricValues);
          continue;
        }
        // Skipped values are counted once a packet, by the total.
        acc = new GroupAccumulator(this.metrics, this.budget, { count: 0 });
        this.groups.set(key, acc);
      }
      acc.add(metricValues);
    }
    return keys;
  }

  /** The row of every group past the cap, when there were such packets. */
  otherGroups: GroupAccumulator | undefined;
}

/** The keys one packet counts under: every combination of its grouping fields' values (the first 256). */
export function keysOf(keyValues: readonly string[]): { keys: string[]; cut: boolean } {
  let keys: string[][] = [[]];
  let cut = false;
  for (const v of keyValues) {
    const values = v === '' ? [NONE] : [...new Set(v.split(AGGREGATOR))];
    const next: string[][] = [];
    for (const k of keys) for (const one of values) next.push([...k, one]);
    keys = next;
    if (keys.length > MAX_KEYS_PER_PACKET) {
      cut = true;
      keys = keys.slice(0, MAX_KEYS_PER_PACKET);
    }
  }
  return { keys: keys.map(joinKey), cut };
}

/**
 * Accumulators by a key the caller makes (a line and a bucket of a time series per group), without
 * a total: a packet may count in several cells. At most `maxCells`; a packet for a cell past that
 * is counted in `overflowPackets` and nowhere else, so the caller can tell the cells are not whole.
 */
export class Cells {
  readonly cells = new Map<string, GroupAccumulator>();
  overflowPackets = 0;

  constructor(
    private readonly metrics: readonly Metric[],
    private readonly budget: ValueBudget,
    private readonly maxCells: number,
  ) {}

  add(key: string, metricValues: readonly (string | undefined)[]): void {
    let acc = this.cells.get(key);
    if (!acc) {
      if (this.cells.size >= this.maxCells) {
        this.overflowPackets++;
        return;
      }
      // Values that do not read as numbers are counted once a packet, by the caller's total.
      acc = new GroupAccumulator(this.metrics, this.budget, { count: 0 });
      this.cells.set(key, acc);
    }
    acc.add(metricValues);
  }
}

/** A group's values as one map key (tab cannot occur in a field's value as tshark prints it). */
export const joinKey = (values: readonly string[]): string => values.join('\t');
export const splitKey = (key: string): string[] => key.split('\t');
