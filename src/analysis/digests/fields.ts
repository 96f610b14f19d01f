// What every digest is made of: a row of named values, the field reader's helpers (a field's
// several occurrences, numbers, milliseconds), and the shape of a digest read from `-T fields`.
import * as z from 'zod';

/** One digest row: named values, in the order of the kind's columns (inspect_protocol's rows). */
export const rowSchema = z.record(z.string(), z.union([z.string(), z.number(), z.null()]));
export type Row = z.infer<typeof rowSchema>;

/** Several occurrences of a field in one packet are joined with this (it occurs in no value). */
export const AGGREGATOR = '\u001f';

/** A digest read from one tshark pass of `-T fields`. */
export interface FieldDigest<K extends string = string> {
  readonly kind: K;
  /** What its rows are, for the kind parameter's description. */
  readonly description: string;
  readonly filter: string;
  readonly fields: readonly string[];
  readonly columns: readonly string[];
  build(rows: readonly string[][], options: { reveal: boolean }): Row[];
}

export const all = (v: string | undefined): string[] =>
  v === undefined || v === '' ? [] : v.split(AGGREGATOR);
export const first = (v: string | undefined): string => all(v)[0] ?? '';
export const num = (v: string | undefined): number | null => {
  const s = first(v);
  if (s === '') return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
};
export const ms = (seconds: number | null): number | null =>
  seconds === null ? null : Math.round(seconds * 1e6) / 1e3;

/** Field rows as objects keyed by field name. */
export function keyed(fields: readonly string[], rows: readonly string[][]): Map<string, string>[] {
  return rows.map((r) => new Map(fields.map((f, i) => [f, r[i] ?? ''])));
}
