// capture_statistics's accumulators on values the test makes: the bounds on memory (the group cap,
// the budget of exact values) and what the answer then says ("(other groups)", "at least",
// "approximate"), percentiles by nearest rank, "(none)" and several values in one packet.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../src/errors.js';
import { AGGREGATOR } from '../src/analysis/digests/fields.js';
import {
  Cells,
  Grouping,
  keysOf,
  NONE,
  parseMetric,
  SKETCH_ACCURACY,
  splitKey,
  ValueBudget,
} from '../src/analysis/stats-accumulators.js';

const metrics = (...labels: string[]): ReturnType<typeof parseMetric>[] => labels.map(parseMetric);

describe('capture_statistics accumulators', () => {
  it('groups past the cap share one row, and the totals still count every packet', () => {
    const g = new Grouping(metrics('count', 'sum:frame.len'), { maxGroups: 2, valueBudget: 100 });
    for (let i = 0; i < 5; i++) g.add([`host${i}`], ['', String(100 + i)]);
    assert.equal(g.groups.size, 2);
    assert.equal(g.overflowPackets, 3);
    assert.equal(g.otherGroups?.count, 3);
    assert.deepEqual(g.otherGroups?.results()[1], { value: 102 + 103 + 104, n: 3 });
    assert.equal(g.total.count, 5);
    assert.equal(g.total.results()[1]?.value, 100 + 101 + 102 + 103 + 104);
  });

  it('a distinct count past the budget says "at least" and never counts a value twice', () => {
    const g = new Grouping(metrics('distinct:ip.src'), { maxGroups: 10, valueBudget: 6 });
    for (const v of ['a', 'b', 'a', 'c']) g.add([], [v]);
    assert.deepEqual(g.total.results()[0], { value: 3, n: 4, bound: undefined });
    for (const v of ['d', 'e', 'f', 'g']) g.add([], [v]);
    // The total and the one group share the budget of 6: 3 each, then "at least".
    const [distinct] = g.total.results();
    assert.equal(distinct?.bound, 'at least');
    assert.ok((distinct?.value ?? 0) <= 7);
  });

  it('percentiles are exact by nearest rank, then approximate within the sketch error', () => {
    const exact = new Grouping(metrics('p50:dns.time', 'p75:dns.time', 'max:dns.time'), {
      maxGroups: 1,
      valueBudget: 1_000,
    });
    const times = ['4', '1', '3', '2'].join(AGGREGATOR);
    exact.add([], [times, times, times]);
    assert.deepEqual(
      exact.total.results().map((r) => r.value),
      [2, 3, 4],
    );
    const sketched = new Grouping(metrics('p95:http.time'), { maxGroups: 1, valueBudget: 100 });
    for (let i = 1; i <= 10_000; i++) sketched.add([], [String(i / 1000)]);
    const [p95] = sketched.total.results();
    assert.equal(p95?.bound, 'approximate');
    assert.equal(p95?.n, 10_000);
    assert.ok(Math.abs((p95?.value ?? 0) - 9.5) <= 9.5 * SKETCH_ACCURACY * 1.01, String(p95?.value));
  });

  it('a packet without the field counts under "(none)"; several values count in each group', () => {
    const g = new Grouping(metrics('count'), { maxGroups: 10, valueBudget: 10 });
    g.add([['a', 'b', 'a'].join(AGGREGATOR), ''], []);
    g.add(['a', '7'], []);
    assert.deepEqual(
      [...g.groups].map(([k, acc]) => [splitKey(k), acc.count]),
      [
        [['a', NONE], 1],
        [['b', NONE], 1],
        [['a', '7'], 1],
      ],
    );
    assert.equal(g.multiGroupPackets, 1);
    assert.equal(g.total.count, 2);
  });

  it('a value that is not a number is left out of a numeric metric and counted as skipped', () => {
    const g = new Grouping(metrics('avg:frame.len'), { maxGroups: 1, valueBudget: 10 });
    g.add([], ['10']);
    g.add([], ['oops']);
    g.add([], ['']);
    assert.deepEqual(g.total.results()[0], { value: 10, n: 1 });
    assert.equal(g.skipped.count, 1);
  });

  it('cells of a time series per group stop at their cap and count what they turned away', () => {
    const budget = new ValueBudget(100);
    const cells = new Cells(metrics('count', 'distinct:ip.dst'), budget, 2);
    cells.add('a\t0', ['', 'x']);
    cells.add('a\t0', ['', 'y']);
    cells.add('b\t1', ['', 'x']);
    cells.add('c\t1', ['', 'x']);
    assert.equal(cells.cells.size, 2);
    assert.equal(cells.overflowPackets, 1);
    assert.deepEqual(cells.cells.get('a\t0')?.results(), [
      { value: 2, n: 2 },
      { value: 2, n: 2, bound: undefined },
    ]);
    assert.equal(budget.short, false);
    // A budget that refuses a value remembers it, so the caller knows a cell is no longer exact.
    const tight = new ValueBudget(1);
    const one = new Cells(metrics('distinct:ip.dst'), tight, 10);
    for (const v of ['x', 'y']) one.add('a\t0', [v]);
    assert.equal(tight.short, true);
    assert.equal(one.cells.get('a\t0')?.results()[0]?.bound, 'at least');
  });

  it('a packet counts under every combination of its groupBy values, "(none)" for a missing one', () => {
    assert.deepEqual(keysOf([`a${AGGREGATOR}b${AGGREGATOR}a`, '']), {
      keys: [`a\t${NONE}`, `b\t${NONE}`],
      cut: false,
    });
    const many = Array.from({ length: 300 }, (_v, i) => String(i)).join(AGGREGATOR);
    const { keys, cut } = keysOf([many]);
    assert.equal(keys.length, 256);
    assert.equal(cut, true);
  });

  it('a metric that is not one says how to write one', () => {
    for (const bad of ['median:dns.time', 'avg', 'p0:dns.time', 'sum:']) {
      assert.throws(
        () => parseMetric(bad),
        (e: unknown) => e instanceof UserError && /metrics/.test(e.message),
      );
    }
    assert.deepEqual(parseMetric('p99.9:http.time'), {
      label: 'p99.9:http.time',
      kind: 'percentile',
      field: 'http.time',
      quantile: 0.999,
    });
  });
});
