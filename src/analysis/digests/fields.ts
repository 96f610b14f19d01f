// What every digest is made of: a row of named values, the field reader's helpers (a field's
// several occurrences, numbers, milliseconds), and the shape of a digest read from `-T fields`.
import * as z from 'zod';

/** One digest row: named values, in the order of the kind's columns (inspect_protocol's rows). */
export const rowSchema = z.record(z.string(), z.union([z.string(), z.number(), z.null()]));
export type Row = z.infer<typeof rowSchema>;

/** Several occurrences of a field in one packet are joined with this (it occurs in no value). */
export const AGGREGATOR = '\u001f';

/** A TCP stream's payload as tshark reassembled it: its two ends, and what each sent, in order. */
export interface StreamPayload {
  /** "address:port" of node 0 (spoke first) and node 1. */
  readonly nodes: readonly [string, string];
  readonly chunks: readonly { readonly from: 0 | 1; readonly bytes: Buffer }[];
}

/** What a digest reads a capture with: tshark passes over the call's file, keylog and display filter. */
export interface DigestReader {
  /**
   * The packets that match `filter` (and the call's display filter), one array of `fields` values
   * each; a field's several occurrences in a packet are joined with AGGREGATOR. `preferences`
   * ("name:value") change how tshark dissects, for a digest's second look at what it missed.
   */
  fields(
    filter: string,
    fields: readonly string[],
    options?: { readonly preferences?: readonly string[] },
  ): Promise<string[][]>;
  /** tshark's text for `-z` statistics over the packets the call's display filter matches. */
  statistics(list: readonly string[]): Promise<string>;
  /**
   * These TCP streams' payload as tshark reassembles it (`-z follow,tcp,raw`), whole whatever the
   * display filter, by stream index: for a dialogue whose fields tshark's dissector does not fill in
   * (commands it took for message data).
   */
  tcpStreams(indexes: readonly number[]): Promise<Map<number, StreamPayload>>;
}

export interface DigestOptions {
  /** Show secrets in clear (the call said reveal: true). */
  readonly reveal: boolean;
}

/** One inspect_protocol kind: how its rows are read, and the line that sums them all up. */
export interface Digest<K extends string = string> {
  readonly kind: K;
  /** What its rows are, for the kind parameter's description. */
  readonly description: string;
  readonly columns: readonly string[];
  /** Every row of the capture (the caller pages them). */
  collect(read: DigestReader, options: DigestOptions): Promise<Row[]>;
  /**
   * One line over ALL the rows, not a page's: the counts an agent reads before any row (by outcome,
   * by host, response times). Printed at the top of every page.
   */
  aggregate(rows: readonly Row[]): string;
  /**
   * What this digest counts that the capture's own limits (drops, segments it missed) can fake,
   * e.g. "retransmissions and lost segments": the page then names those limits when they apply.
   */
  readonly countsLoss?: string;
}

/** A digest read from one tshark pass of `-T fields`. */
export interface FieldDigest<K extends string = string> extends Digest<K> {
  readonly filter: string;
  readonly fields: readonly string[];
  /** Rows from the field pass's output. Pure, for tests on recorded output. */
  build(rows: readonly string[][], options: DigestOptions): Row[];
}

/** A field digest from its filter, fields, row builder and aggregate. */
export function fieldDigest<K extends string>(spec: Omit<FieldDigest<K>, 'collect'>): FieldDigest<K> {
  return {
    ...spec,
    async collect(read, options) {
      return this.build(await read.fields(this.filter, this.fields), options);
    },
  };
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
