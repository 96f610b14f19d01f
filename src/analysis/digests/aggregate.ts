// The pieces of a digest's aggregate line (its first line, over all rows): tallies of a column's
// values and response-time figures. A tally names its top values and says how many others it left
// out, so the line is short and never silently incomplete.
import type { Row } from './fields.js';

/** "404 Not Found 3, 200 OK 12" style: each distinct value with its count, most frequent first. */
export function tally(values: readonly (string | number | null | undefined)[], top = 6): string {
  const counts = new Map<string, number>();
  for (const v of values) {
    const key = v === null || v === undefined || v === '' ? '(none)' : String(v);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const sorted = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const shown = sorted.slice(0, top).map(([k, n]) => `${k} ${n}`);
  const left = sorted.length - shown.length;
  if (left > 0) shown.push(`${left} more (see the rows)`);
  return shown.length === 0 ? 'none' : shown.join(', ');
}

/** The value at quantile q (0..1) of sorted numbers, nearest rank. */
function quantile(sorted: readonly number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] ?? 0;
}

const round = (n: number): number => Math.round(n * 10) / 10;

/** "avg 12.3 ms, p95 40.1 ms, max 80.2 ms over 25" for the numbers that are set, or "none measured". */
export function timing(values: readonly (number | string | null | undefined)[], unit = 'ms'): string {
  const xs = values
    .filter((v): v is number => typeof v === 'number' && Number.isFinite(v))
    .sort((a, b) => a - b);
  if (xs.length === 0) return 'none measured';
  const avg = xs.reduce((a, b) => a + b, 0) / xs.length;
  return `avg ${round(avg)} ${unit}, p95 ${round(quantile(xs, 0.95))} ${unit}, max ${round(xs[xs.length - 1] ?? 0)} ${unit} over ${xs.length}`;
}

/** A column's values over all rows. */
export const column = (rows: readonly Row[], name: string): (string | number | null | undefined)[] =>
  rows.map((r) => r[name]);

/** "N rows" with the noun in the right number. */
export const count = (n: number, noun: string, plural = `${noun}s`): string =>
  `${n} ${n === 1 ? noun : plural}`;
