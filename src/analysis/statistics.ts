// capture_statistics's service: counts, sums, averages, extremes, percentiles and distinct counts of
// any fields, grouped by up to three fields, or per time interval (Wireshark's I/O graph as numbers,
// one series per display filter). One tshark pass a series prints the fields (-T fields, every
// occurrence), read as a stream and folded into accumulators line by line (stats-accumulators.ts),
// so memory stays bounded whatever the capture's size; the answer is one table with totals over
// every matched packet. (decodeAs, when it comes, is one more ReadSpec option for every pass.)
import * as z from 'zod';
import { abortError, UserError } from '../errors.js';
import { MAX_CHARS } from '../limits.js';
import { passesInARow, watchRead } from '../util/progress.js';
import type { ProgressSink } from '../util/progress.js';
import { LineSplitter, plural } from '../util/text.js';
import { captureFacts } from '../wireshark/capinfos.js';
import { suggestFieldNames } from '../wireshark/field-suggestions.js';
import type { GlossarySource } from '../wireshark/glossary.js';
import type { WiresharkTools } from '../wireshark/locate.js';
import type { ProcessGroup } from '../wireshark/process.js';
import { allOccurrenceFieldArgs, readArgs } from '../wireshark/tshark-args.js';
import type { SecondPassQuery } from '../wireshark/two-pass.js';
import { readOutcome } from './damage.js';
import { AGGREGATOR } from './digests/fields.js';
import { PageBuilder } from './page.js';
import { callText, PagedAnswer } from './paged-answer.js';
import type { PageRequest } from './paged-answer.js';
import type { CaptureRead } from './source.js';
import {
  Cells,
  GroupAccumulator,
  ValueBudget,
  Grouping,
  joinKey,
  keysOf,
  isNumeric,
  NONE,
  OTHER,
  parseMetric,
  SKETCH_ACCURACY,
  splitKey,
} from './stats-accumulators.js';
import type { Metric, MetricValue } from './stats-accumulators.js';

export const STATS_LIMITS = {
  groupBy: 3,
  metrics: 16,
  series: 8,
  topN: { min: 1, max: 1_000, default: 20 },
  /** Distinct groups kept exactly; packets of later groups share one "(other groups)" row. */
  maxGroups: 100_000,
  /** Values kept exactly across all groups, for distinct counts and percentiles. */
  valueBudget: 2_000_000,
  /** Buckets of a time series at most. */
  maxBuckets: 10_000,
  /** Buckets "auto" aims at. */
  autoBuckets: 100,
  /** Groups with a line of their own in a time series per group (topN with groupBy and interval). */
  lines: 100,
  /** Buckets times lines of a time series per group at most: what its memory holds. */
  cells: 100_000,
} as const;

/** One line of the tshark pass at most (a packet with thousands of occurrences is cut, and said). */
const MAX_LINE_CHARS = 1_000_000;

const NUMERIC_TYPES = /^FT_(?:U?INT(?:8|16|24|32|40|48|56|64)|FLOAT|DOUBLE|RELATIVE_TIME|FRAMENUM|CHAR)$/;

export interface StatisticsRequest extends PageRequest, CaptureRead {
  readonly displayFilter?: string | undefined;
  readonly groupBy?: readonly string[] | undefined;
  readonly metrics?: readonly string[] | undefined;
  readonly orderBy?: string | undefined;
  readonly interval?: number | 'auto' | undefined;
  readonly series?: readonly string[] | undefined;
}

const cellSchema = z.union([z.number(), z.string(), z.null()]);

/** capture_statistics's structured answer. */
export const statisticsFactsSchema = z.object({
  source: z.string(),
  displayFilter: z.string().nullable(),
  groupBy: z.array(z.string()),
  metrics: z.array(z.string()),
  interval: z.number().nullable().describe('Seconds per bucket of a time series; null for a grouped table.'),
  series: z.array(z.string()).describe('The display filter of each series of a time series.'),
  packets: z.number().int().describe('Packets matched (every series together for a time series).'),
  totals: z
    .record(z.string(), cellSchema)
    .describe('Each metric over every matched packet, not only the rows shown.'),
  columns: z.array(z.string()),
  rows: z
    .array(z.record(z.string(), cellSchema))
    .describe('The rows shown, keyed by column; null where no packet had the field.'),
  notes: z
    .record(z.string(), z.string())
    .describe('Per column, how its values were reached where that is not exact ("at least", "approximate").'),
  total: z.number().int().describe('Rows in all: groups, or buckets of a time series.'),
  offset: z.number().int(),
  nextOffset: z.number().int().nullable(),
  warnings: z.array(z.string()),
  lines: z
    .array(
      z.object({
        line: z.string().describe('The prefix of its columns, e.g. "#1" for "#1 count".'),
        group: z
          .record(z.string(), z.string())
          .nullable()
          .describe('Its groupBy values; null for the line of the groups left out, "(other groups)".'),
        groups: z.number().int().describe('Groups it adds up: 1, or the groups left out.'),
        totals: z.record(z.string(), cellSchema).describe('Each metric over the whole capture.'),
      }),
    )
    .optional()
    .describe('With groupBy and interval: the group behind each line of the time series, in orderBy order.'),
});
export type StatisticsFacts = z.infer<typeof statisticsFactsSchema>;

interface Filters {
  checkDisplayFilter(displayFilter: string | undefined, signal?: AbortSignal): Promise<void>;
  secondPassNeeded(query: SecondPassQuery, signal?: AbortSignal): Promise<boolean>;
  packetCount(tools: WiresharkTools, file: string): Promise<number | undefined>;
  readonly glossary: GlossarySource;
}

/** What a call asks for, checked and in the shape the passes use. */
interface Plan {
  readonly groupBy: readonly string[];
  readonly metrics: readonly Metric[];
  /** The fields tshark prints: groupBy, then each metric's field, then the time when a series. */
  readonly fields: readonly string[];
  readonly order: { readonly column: string; readonly desc: boolean };
}

export class CaptureStatistics {
  constructor(
    private readonly group: ProcessGroup,
    private readonly tools: () => Promise<WiresharkTools>,
    private readonly filters: Filters,
    private readonly timeoutMs: number,
    private readonly limits: { readonly maxGroups: number; readonly valueBudget: number } = STATS_LIMITS,
  ) {}

  async answer(
    req: StatisticsRequest,
    signal?: AbortSignal,
    progress?: ProgressSink,
  ): Promise<{ text: string; facts: StatisticsFacts }> {
    const plan = await this.plan(req, signal);
    await this.filters.checkDisplayFilter(req.displayFilter, signal);
    for (const s of req.series ?? []) await this.checkSeries(s, signal);
    if (req.interval === undefined) return this.grouped(req, plan, signal, progress);
    return plan.groupBy.length > 0
      ? this.groupSeries(req, plan, signal, progress)
      : this.timeSeries(req, plan, signal, progress);
  }

  private async checkSeries(filter: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.filters.checkDisplayFilter(filter, signal);
    } catch (err) {
      if (err instanceof UserError)
        throw new UserError(
          `series ${JSON.stringify(filter)}: ${err.message.replace(/^displayFilter /, '')}`,
        );
      throw err;
    }
  }

  /** The call's parameters checked against each other and tshark's field list. */
  private async plan(req: StatisticsRequest, signal?: AbortSignal): Promise<Plan> {
    const groupBy = [...(req.groupBy ?? [])];
    const metrics = (req.metrics && req.metrics.length > 0 ? req.metrics : ['count']).map(parseMetric);
    if ((req.series ?? []).length > 0 && groupBy.length > 0) {
      throw new UserError(
        'series and groupBy do not go together: with interval, groupBy already makes one line per group (the topN largest, the rest together). Keep groupBy and put the condition the series shared in displayFilter, or keep series and drop groupBy for one line per display filter.',
      );
    }
    if (req.interval === undefined && (req.series ?? []).length > 0) {
      throw new UserError(
        'series makes a time series: give interval too (seconds, or "auto" for about 100 buckets).',
      );
    }
    const metricFields = metrics.flatMap((m) => (m.field === undefined ? [] : [m.field]));
    await this.checkFields(groupBy, metrics, signal);
    const order = orderOf(req.orderBy, groupBy, metrics, req.interval !== undefined && groupBy.length === 0);
    const fields = [...groupBy, ...new Set(metricFields)];
    if (req.interval !== undefined) fields.push('frame.time_relative');
    // A count alone still needs one field printed: tshark prints nothing without -e.
    if (fields.length === 0) fields.push('frame.len');
    return { groupBy, metrics, fields, order };
  }

  private async checkFields(
    groupBy: readonly string[],
    metrics: readonly Metric[],
    signal?: AbortSignal,
  ): Promise<void> {
    let glossary;
    try {
      glossary = await this.filters.glossary.get(signal);
    } catch (err) {
      if (signal?.aborted) throw abortError();
      throw new UserError(
        `The field names could not be checked (${(err as Error).message}). Nothing was read; try the call again shortly.`,
        { cause: err },
      );
    }
    const named = [...groupBy, ...metrics.flatMap((m) => (m.field === undefined ? [] : [m.field]))];
    const unknown = [...new Set(named.filter((n) => !glossary.has(n)))];
    if (unknown.length > 0) {
      const close = suggestFieldNames(glossary, unknown);
      throw new UserError(
        `${unknown.length === 1 ? 'A field named is' : 'Fields named are'} not known to tshark:\n${unknown
          .map((n) => {
            const c = close.get(n) ?? [];
            return `- ${n}: ${c.length > 0 ? `close matches: ${c.join(', ')}` : 'no field with a close name.'}`;
          })
          .join(
            '\n',
          )}\nlist_fields finds field names by protocol and by words (e.g. {"protocol": "dns", "search": "response time"}).`,
      );
    }
    for (const m of metrics) {
      if (!isNumeric(m) || m.field === undefined) continue;
      const type = glossary.typeOf(m.field) ?? 'unknown';
      if (!NUMERIC_TYPES.test(type)) {
        throw new UserError(
          `metrics: ${m.label}: ${m.field} is not a number (its type is ${type}), so it cannot be added up or ranked. Count its values with "distinct:${m.field}", or group by it with groupBy: ["${m.field}"].`,
        );
      }
    }
  }

  /** One tshark pass: each packet's fields handed to `onPacket` as they stream; warnings back. */
  private async pass(
    req: StatisticsRequest,
    read: {
      readonly filter: string | undefined;
      readonly fields: readonly string[];
      readonly onPacket: (values: string[]) => void;
    },
    signal: AbortSignal | undefined,
    progress: ProgressSink | undefined,
  ): Promise<string[]> {
    const { filter, fields, onPacket } = read;
    const tools = await this.tools();
    const tshark = tools.require('tshark');
    const file = req.source.file;
    const twoPass = await this.filters.secondPassNeeded({ displayFilter: filter, fields }, signal);
    const args = [
      ...readArgs({
        file,
        keylogFile: req.keylog.keylogFile,
        dissection: req.keylog.dissection,
        displayFilter: filter,
        twoPass,
      }),
      ...allOccurrenceFieldArgs(fields, AGGREGATOR),
    ];
    const lines = new LineSplitter(MAX_LINE_CHARS);
    let longLines = 0;
    let seen = 0;
    const take = (batch: { text: string; length: number }[]): void => {
      for (const line of batch) {
        // Every line is a packet, an empty one too: a packet without any of the fields prints one.
        if (line.text.length < line.length) longLines++;
        seen++;
        onPacket(line.text.split('\t'));
      }
    };
    let stopWatching: Promise<() => void> | undefined;
    const result = await this.group.run({
      command: tshark,
      args,
      timeoutMs: this.timeoutMs,
      signal,
      onStdout: (chunk) => {
        take(lines.push(chunk));
        return 'continue';
      },
      onStart: progress
        ? (pid) => {
            stopWatching = watchRead(pid, file, this.filters.packetCount(tools, file), progress).catch(
              () => () => undefined,
            );
          }
        : undefined,
    });
    if (stopWatching) (await stopWatching)();
    if (result.aborted) throw abortError();
    take(lines.end());
    const warnings: string[] = [];
    if (result.timedOut) {
      warnings.push(
        `tshark was stopped after ${Math.round(this.timeoutMs / 1000)} s: the numbers cover only the packets read by then, not the whole capture. Narrow the call with displayFilter.`,
      );
    }
    const outcome = await readOutcome(
      this.group,
      tools,
      { stderr: result.stderr, file, live: req.source.live },
      signal,
    );
    warnings.push(...outcome.warnings);
    if (outcome.other !== undefined) {
      if (result.exitCode !== 0 && seen === 0)
        throw new UserError(`tshark failed on "${file}": ${outcome.other}`);
      warnings.push(`tshark said: ${outcome.other}`);
    }
    if (longLines > 0) {
      warnings.push(
        `${plural(longLines, 'packet')} printed more than ${MAX_LINE_CHARS.toLocaleString('en-US')} characters of these fields; only their first values counted.`,
      );
    }
    if (req.source.live)
      warnings.push('The session is still capturing: the numbers cover the packets written so far.');
    return warnings;
  }

  private async grouped(
    req: StatisticsRequest,
    plan: Plan,
    signal: AbortSignal | undefined,
    progress: ProgressSink | undefined,
  ): Promise<{ text: string; facts: StatisticsFacts }> {
    const grouping = new Grouping(plan.metrics, this.limits);
    const g = plan.groupBy.length;
    const at = metricColumns(plan);
    const warnings = await this.pass(
      req,
      {
        filter: req.displayFilter,
        fields: plan.fields,
        onPacket: (v) =>
          grouping.add(
            v.slice(0, g).map((x) => x ?? ''),
            at.map((i) => v[i]),
          ),
      },
      signal,
      progress,
    );
    const rows: StatRow[] = [...grouping.groups].map(([key, acc]) =>
      rowOf(g === 0 ? [] : splitKey(key), acc),
    );
    sortRows(rows, plan);
    if (grouping.otherGroups)
      rows.push(
        rowOf(
          plan.groupBy.map(() => OTHER),
          grouping.otherGroups,
        ),
      );
    warnings.push(...this.groupingWarnings(grouping, 'rows'));
    return this.render(req, plan, {
      columns: [...plan.groupBy, ...plan.metrics.map((m) => m.label)],
      rows,
      keyColumns: plan.groupBy,
      totals: grouping.total,
      packets: grouping.total.count,
      noun: 'group',
      head: [
        `Grouped by: ${plan.groupBy.length > 0 ? plan.groupBy.join(', ') : 'nothing (one row over all packets)'}`,
        `Ordered by: ${plan.order.column} ${plan.order.desc ? 'desc' : 'asc'}`,
      ],
      warnings,
      interval: null,
    });
  }

  /** What a grouping's counts need said: groups past the cap, packets in several groups, values skipped. */
  private groupingWarnings(grouping: Grouping, rows: 'rows' | 'lines'): string[] {
    const warnings: string[] = [];
    if (grouping.overflowPackets > 0) {
      warnings.push(
        `More than ${this.limits.maxGroups.toLocaleString('en-US')} distinct groups: ${plural(grouping.overflowPackets, 'packet')} of groups first seen after that are counted together in the last ${rows === 'rows' ? 'row' : 'line'}, "${OTHER}", and the order covers only the groups kept. Narrow the call with displayFilter or group by fewer fields.`,
      );
    }
    if (grouping.multiGroupPackets > 0) {
      warnings.push(
        `${plural(grouping.multiGroupPackets, 'packet')} had several values of a groupBy field and count in each of their groups, so the ${rows} add up to more than the total.`,
      );
    }
    if (grouping.cutCombinations > 0) {
      warnings.push(
        `${plural(grouping.cutCombinations, 'packet')} had more than 256 combinations of groupBy values; each counted in its first 256 groups only.`,
      );
    }
    return [...warnings, ...skippedNote(grouping.skipped.count)];
  }

  /** The bucket width, and the buckets the capture's duration makes (refused past maxBuckets). */
  private async bucketing(
    req: StatisticsRequest,
    signal: AbortSignal | undefined,
  ): Promise<{ interval: number; buckets: number | undefined; duration: number | undefined }> {
    const tools = await this.tools();
    const facts = await captureFacts(this.group, tools.require('capinfos'), req.source.file, signal).catch(
      () => undefined,
    );
    if (signal?.aborted) throw abortError();
    const duration = facts?.durationSeconds ?? undefined;
    const interval = req.interval === 'auto' ? autoInterval(duration ?? 0) : (req.interval ?? 1);
    const buckets = duration === undefined ? undefined : Math.floor(duration / interval + 1e-9) + 1;
    if (buckets !== undefined && buckets > STATS_LIMITS.maxBuckets) {
      throw new UserError(
        `interval ${interval} s over this capture's ${duration} s makes ${buckets.toLocaleString('en-US')} buckets, more than ${STATS_LIMITS.maxBuckets.toLocaleString('en-US')}. Use interval ${niceCeil((duration ?? 0) / STATS_LIMITS.maxBuckets)} or more, or "auto".`,
      );
    }
    return { interval, buckets, duration };
  }

  /**
   * groupBy with interval: a time series per group. Pass 1 ranks the groups over the whole capture
   * exactly as the grouped table does, and keeps each group's buckets while they fit; when every
   * group gets a line that pass is the answer. Otherwise pass 2 reads the buckets of the topN groups
   * only, the rest together in one "(other groups)" line, so memory holds lines times buckets
   * whatever the number of groups.
   */
  private async groupSeries(
    req: StatisticsRequest,
    plan: Plan,
    signal: AbortSignal | undefined,
    progress: ProgressSink | undefined,
  ): Promise<{ text: string; facts: StatisticsFacts }> {
    const topN = req.limit ?? STATS_LIMITS.topN.default;
    if (topN > STATS_LIMITS.lines) {
      throw new UserError(
        `topN ${topN}: with groupBy and interval, topN is the number of groups with a line of their own, at most ${STATS_LIMITS.lines}; the rest share one "${OTHER}" line. For every group's totals, drop interval (a grouped table pages through all of them).`,
      );
    }
    const { interval, buckets, duration } = await this.bucketing(req, signal);
    // Progress only goes up: the second pass, when there is one, counts on from where the first ended.
    const pass = passesInARow(progress);
    const ranked = await this.rankForLines(
      req,
      plan,
      { interval, topN },
      signal,
      pass("every group's totals"),
    );
    const { top, left, warnings } = ranked;
    let lastBucket = Math.max((buckets ?? 1) - 1, ranked.lastBucket);
    const lineCount = top.length + (left.groups > 0 || left.overflow ? 1 : 0);
    const cellsAsked = (lastBucket + 1) * lineCount;
    if (cellsAsked > STATS_LIMITS.cells) {
      const fewer = Math.floor(STATS_LIMITS.cells / (lastBucket + 1)) - 1;
      throw new UserError(
        `interval ${interval} s makes ${(lastBucket + 1).toLocaleString('en-US')} buckets; times ${lineCount} lines that is ${cellsAsked.toLocaleString('en-US')} cells, more than the ${STATS_LIMITS.cells.toLocaleString('en-US')} a time series per group holds. Use interval ${niceCeil(((duration ?? lastBucket * interval) * lineCount) / STATS_LIMITS.cells)} or more${fewer >= 1 ? `, or topN ${fewer} or less (the rest share "${OTHER}")` : ''}.`,
      );
    }
    let cellAt: (line: number, bucket: number) => GroupAccumulator | undefined;
    let other: { readonly count: number; results(): MetricValue[] } | undefined;
    if (ranked.cells) {
      const { cells } = ranked.cells;
      const keys = top.map((r) => joinKey(r.key.map(String)));
      cellAt = (line, bucket) => cells.get(`${keys[line] ?? ''}\t${bucket}`);
    } else {
      const index = new Map(top.map((r, i) => [joinKey(r.key.map(String)), i]));
      // A fresh budget: pass 1's values are gone, only its results are kept.
      const budget = new ValueBudget(this.limits.valueBudget);
      const cells = new Cells(plan.metrics, budget, STATS_LIMITS.cells);
      const rest = new GroupAccumulator(plan.metrics, budget, { count: 0 });
      const more = await this.linesPass(
        req,
        plan,
        {
          interval,
          onPacket: (groupValues, metricValues, bucket) => {
            lastBucket = Math.max(lastBucket, bucket);
            let outside = false;
            for (const key of keysOf(groupValues).keys) {
              const line = index.get(key);
              if (line === undefined) outside = true;
              else cells.add(`${line}\t${bucket}`, metricValues);
            }
            // A packet counts once in the rest, however many of its groups were left out.
            if (outside) {
              cells.add(`${top.length}\t${bucket}`, metricValues);
              rest.add(metricValues);
            }
          },
        },
        signal,
        pass("the top groups' buckets"),
      );
      for (const w of more) if (!warnings.includes(w)) warnings.push(w);
      if (cells.overflowPackets > 0) {
        warnings.push(
          `The capture grew while it was read: ${plural(cells.overflowPackets, 'packet')} past ${STATS_LIMITS.cells.toLocaleString('en-US')} cells are left out of the lines.`,
        );
      }
      cellAt = (line, bucket) => cells.cells.get(`${line}\t${bucket}`);
      if (rest.count > 0 || left.groups > 0 || left.overflow) other = rest;
    }
    lastBucket = Math.min(lastBucket, STATS_LIMITS.maxBuckets - 1);
    const lines = [
      ...top.map((r) => ({
        group: Object.fromEntries(plan.groupBy.map((f, i) => [f, String(r.key[i])])),
        groups: 1,
        results: r.results,
        count: r.counts[0] ?? 0,
      })),
      ...(other ? [{ group: null, groups: left.groups, results: other.results(), count: other.count }] : []),
    ];
    const columns = ['start', ...lines.flatMap((_l, i) => plan.metrics.map((m) => `#${i + 1} ${m.label}`))];
    const empty = plan.metrics.map((m): MetricValue => ({ value: m.kind === 'count' ? 0 : null, n: 0 }));
    const rows: StatRow[] = [];
    // Without a group there is no line, and buckets of nothing would only hide "no packet matched".
    for (let b = 0; lines.length > 0 && b <= lastBucket; b++) {
      const accs = lines.map((_l, i) => cellAt(i, b));
      rows.push({
        key: [round(b * interval)],
        counts: accs.flatMap((a) => plan.metrics.map(() => a?.count ?? 0)),
        results: accs.flatMap((a) => a?.results() ?? empty),
      });
    }
    const order = `${plan.order.column} ${plan.order.desc ? 'desc' : 'asc'}`;
    const groupsText = left.groups + top.length;
    const legend = lines.map((l, i) => {
      const who =
        l.group === null
          ? `${OTHER}: ${left.overflow ? 'at least ' : ''}${plural(l.groups, 'group')} left out (ranked ${top.length + 1}${groupsText > top.length + 1 ? `-${groupsText}` : ''}${left.overflow ? ' and beyond' : ''}), each packet once`
          : Object.entries(l.group)
              .map(([f, v]) => `${f}=${v.replace(/[\t\n]/g, ' ')}`)
              .join(', ');
      const totals = plan.metrics.map((m, j) => `${m.label}=${cellText(l.results[j], l.count, m)}`);
      return `#${i + 1} ${who}: ${totals.join(', ')}`;
    });
    const listing = callText({
      tool: req.call.tool,
      args: {
        ...Object.fromEntries(
          Object.entries(req.call.args).filter(
            ([k]) => !['interval', 'topN', 'offset', 'maxChars'].includes(k),
          ),
        ),
        offset: top.length,
      },
    });
    const head = [
      `Time series per group: ${bucketText(req, interval)}`,
      `Lines: ${
        other
          ? `the top ${top.length} of ${left.overflow ? 'more than ' : ''}${groupsText} groups by ${order} over the whole capture, the rest together in one line`
          : `every group (${top.length}), in order of ${order} over the whole capture`
      }; line #N's columns are "#N <metric>", its totals over the whole capture beside it:`,
      ...legend,
      ...(other && left.groups > 0
        ? [
            `The groups left out: ${listing} lists them with their totals; topN up to ${Math.min(STATS_LIMITS.lines, groupsText)} gives each a line.`,
          ]
        : []),
    ];
    return this.render(req, plan, {
      columns,
      rows,
      keyColumns: ['start'],
      totals: ranked.total,
      packets: ranked.total.count,
      noun: 'bucket',
      head,
      warnings,
      interval,
      metricLabels: columns.slice(1),
      limit: STATS_LIMITS.maxBuckets,
      lines: lines.map((l, i) => ({
        line: `#${i + 1}`,
        group: l.group,
        groups: l.groups,
        totals: Object.fromEntries(plan.metrics.map((m, j) => [m.label, valueOf(l.results[j])])),
      })),
    });
  }

  /**
   * Pass 1 of a time series per group: every group's totals (as the grouped table has them), the
   * topN in orderBy order, and each group's buckets when they are the whole answer (every group has
   * a line, nothing past a limit).
   */
  private async rankForLines(
    req: StatisticsRequest,
    plan: Plan,
    lines: { readonly interval: number; readonly topN: number },
    signal: AbortSignal | undefined,
    progress: ProgressSink | undefined,
  ): Promise<{
    top: StatRow[];
    left: { groups: number; overflow: boolean };
    total: { readonly count: number; results(): MetricValue[] };
    cells: Cells | undefined;
    lastBucket: number;
    warnings: string[];
  }> {
    const budget = new ValueBudget(this.limits.valueBudget);
    const grouping = new Grouping(plan.metrics, { maxGroups: this.limits.maxGroups, valueBudget: budget });
    const cells = new Cells(plan.metrics, budget, STATS_LIMITS.cells);
    const { topN } = lines;
    let lastBucket = 0;
    const warnings = await this.linesPass(
      req,
      plan,
      {
        interval: lines.interval,
        onPacket: (groupValues, metricValues, bucket) => {
          lastBucket = Math.max(lastBucket, bucket);
          for (const key of grouping.add(groupValues, metricValues))
            cells.add(`${key}\t${bucket}`, metricValues);
        },
      },
      signal,
      progress,
    );
    const rows = [...grouping.groups].map(([key, acc]) => rowOf(splitKey(key), acc));
    sortRows(rows, plan);
    const whole =
      rows.length <= topN && !grouping.otherGroups && cells.overflowPackets === 0 && !budget.short;
    const results = grouping.total.results();
    const count = grouping.total.count;
    return {
      top: rows.slice(0, topN),
      left: { groups: Math.max(0, rows.length - topN), overflow: grouping.otherGroups !== undefined },
      total: { count, results: () => results },
      cells: whole ? cells : undefined,
      lastBucket,
      warnings: [...warnings, ...this.groupingWarnings(grouping, 'lines')],
    };
  }

  /** One pass of a time series per group: each packet's groupBy values, metric values and bucket. */
  private linesPass(
    req: StatisticsRequest,
    plan: Plan,
    read: {
      readonly interval: number;
      readonly onPacket: (
        groupValues: string[],
        metricValues: (string | undefined)[],
        bucket: number,
      ) => void;
    },
    signal: AbortSignal | undefined,
    progress: ProgressSink | undefined,
  ): Promise<string[]> {
    const g = plan.groupBy.length;
    const at = metricColumns(plan);
    const timeAt = plan.fields.length - 1;
    return this.pass(
      req,
      {
        filter: req.displayFilter,
        fields: plan.fields,
        onPacket: (v) =>
          read.onPacket(
            v.slice(0, g).map((x) => x ?? ''),
            at.map((i) => v[i]),
            bucketOf(v[timeAt], read.interval),
          ),
      },
      signal,
      progress,
    );
  }

  private async timeSeries(
    req: StatisticsRequest,
    plan: Plan,
    signal: AbortSignal | undefined,
    progress: ProgressSink | undefined,
  ): Promise<{ text: string; facts: StatisticsFacts }> {
    const { interval, buckets } = await this.bucketing(req, signal);
    const filters = (req.series ?? []).length > 0 ? [...(req.series ?? [])] : [undefined];
    const series: Grouping[] = [];
    const warnings: string[] = [];
    const at = metricColumns(plan);
    const timeAt = plan.fields.length - 1;
    // One budget of exact values for every series and the totals together.
    const budget = new ValueBudget(this.limits.valueBudget);
    const total = new Grouping(plan.metrics, { maxGroups: 1, valueBudget: budget });
    // One pass a series: progress counts on through all of them.
    const pass = passesInARow(progress, filters.length);
    for (const [i, own] of filters.entries()) {
      const grouping = new Grouping(plan.metrics, {
        maxGroups: STATS_LIMITS.maxBuckets,
        valueBudget: budget,
      });
      const filter =
        own === undefined
          ? req.displayFilter
          : req.displayFilter
            ? `(${own}) && (${req.displayFilter})`
            : own;
      const passWarnings = await this.pass(
        req,
        {
          filter,
          fields: plan.fields,
          onPacket: (v) => {
            const metricValues = at.map((i) => v[i]);
            grouping.add([String(bucketOf(v[timeAt], interval))], metricValues);
            total.add([], metricValues);
          },
        },
        signal,
        pass(`series #${i + 1}`),
      );
      for (const w of passWarnings) if (!warnings.includes(w)) warnings.push(w);
      series.push(grouping);
    }
    let last = (buckets ?? 1) - 1;
    for (const s of series) for (const key of s.groups.keys()) last = Math.max(last, Number(key));
    last = Math.min(last, STATS_LIMITS.maxBuckets - 1);
    const several = filters.length > 1;
    const label = (s: number, m: Metric): string => (several ? `#${s + 1} ${m.label}` : m.label);
    const columns = ['start', ...series.flatMap((_s, i) => plan.metrics.map((m) => label(i, m)))];
    const rows: StatRow[] = [];
    const empty = plan.metrics.map((m): MetricValue => ({ value: m.kind === 'count' ? 0 : null, n: 0 }));
    for (let b = 0; b <= last; b++) {
      const accs = series.map((s) => s.groups.get(String(b)));
      const results = accs.flatMap((a) => a?.results() ?? empty);
      const counts = accs.flatMap((a) => plan.metrics.map(() => a?.count ?? 0));
      rows.push({ key: [round(b * interval)], counts, results });
    }
    if (series.some((s) => s.overflowPackets > 0)) {
      warnings.push(
        `The capture grew past ${STATS_LIMITS.maxBuckets.toLocaleString('en-US')} buckets while it was read; later packets are left out.`,
      );
    }
    const seriesTotals = (g: Grouping): string => {
      const results = g.total.results();
      return plan.metrics.map((m, j) => `${m.label}=${cellText(results[j], g.total.count, m)}`).join(', ');
    };
    const head = [
      `Time series: ${bucketText(req, interval)}`,
      ...(several
        ? filters.map((f, i) => {
            const g = series[i];
            return `Series #${i + 1}: ${f ?? ''}${g ? ` (${seriesTotals(g)})` : ''}`;
          })
        : []),
    ];
    return this.render(req, plan, {
      columns,
      rows,
      keyColumns: ['start'],
      totals: total.total,
      packets: total.total.count,
      // A packet that matches several series counts in each: the sum is not "packets matched".
      totalsLabel: several ? 'Every series together (a packet in several counts in each)' : undefined,
      noun: 'bucket',
      head,
      warnings: [...warnings, ...skippedNote(series.reduce((n, s) => n + s.skipped.count, 0))],
      interval,
      series: several ? filters.map((f) => f ?? '') : [],
      metricLabels: columns.slice(1),
    });
  }

  private render(
    req: StatisticsRequest,
    plan: Plan,
    table: {
      readonly columns: readonly string[];
      readonly rows: readonly StatRow[];
      readonly keyColumns: readonly string[];
      readonly totals: { readonly count: number; results(): MetricValue[] };
      readonly packets: number;
      readonly noun: string;
      readonly head: readonly string[];
      readonly warnings: readonly string[];
      readonly interval: number | null;
      readonly series?: readonly string[];
      /** The metric columns' names (default: the metrics' labels). */
      readonly metricLabels?: readonly string[];
      /** Rows a page holds at most (default: the call's topN). */
      readonly limit?: number;
      readonly lines?: StatisticsFacts['lines'];
      /** What the totals line adds up, when not "All N matched packets". */
      readonly totalsLabel?: string | undefined;
    },
  ): { text: string; facts: StatisticsFacts } {
    const offset = req.offset ?? 0;
    const limit = table.limit ?? req.limit ?? STATS_LIMITS.topN.default;
    const totals = table.totals.results();
    const notes: Record<string, string> = {};
    const metricLabels = table.metricLabels ?? plan.metrics.map((m) => m.label);
    const noteFor = (label: string, v: MetricValue): void => {
      if (v.bound === 'at least')
        notes[label] ??=
          'at least: more distinct values than the memory budget keeps; the true count is this or more';
      if (v.bound === 'approximate')
        notes[label] ??=
          `approximate: too many values to keep exactly; a sketch within ${SKETCH_ACCURACY * 100} % of the true value`;
    };
    totals.forEach((v, i) => noteFor(plan.metrics[i]?.label ?? '', v));
    const totalsLine = plan.metrics
      .map((m, i) => `${m.label}=${cellText(totals[i], table.totals.count, m)}`)
      .join(', ');
    const answer = new PagedAnswer('rows', {
      call: req.call,
      head: [
        `Statistics of ${req.source.label}`,
        `Display Filter: ${req.displayFilter ?? 'none'}`,
        ...table.head,
        `${table.totalsLabel ?? `All ${plural(table.packets, 'matched packet')}`}: ${totalsLine}`,
      ],
      warnings: [...req.keylog.warnings, ...table.warnings],
      lead: ['', table.columns.join('\t')],
    });
    const builder = new PageBuilder('fields', {
      offset,
      limit,
      maxChars: answer.bodyBudget(req.maxChars ?? MAX_CHARS.default, offset, limit),
    });
    for (const row of table.rows) {
      const cells = row.results.map((v, i) => {
        const metric = plan.metrics[i % plan.metrics.length];
        noteFor(metricLabels[i] ?? '', v);
        return metric ? cellText(v, row.counts[i] ?? 0, metric) : '-';
      });
      const text = [...row.key.map((k) => String(k).replace(/[\t\n]/g, ' ')), ...cells].join('\t');
      if (builder.add({ text, length: text.length }) === 'stop') break;
    }
    const page = builder.finish();
    const nextOffset = page.moreMatch ? offset + page.shown : null;
    const nouns = plural(table.rows.length, table.noun);
    const shown =
      table.rows.length === 0
        ? `No packet matched${req.displayFilter ? ' the display filter' : ''}: no ${table.noun}s.`
        : page.shown === 0
          ? `${table.noun[0]?.toUpperCase()}${table.noun.slice(1)}s shown: none; offset ${offset} is past the end (${nouns}).`
          : `${page.shown} of ${nouns} shown (${offset + 1}-${offset + page.shown})${nextOffset === null ? '.' : `; more: ${callText({ tool: req.call.tool, args: { ...req.call.args, offset: nextOffset } })}`}`;
    const noteLines = Object.entries(notes).map(([c, n]) => `Note: ${c}: ${n}.`);
    const { text, warnings } = answer.render({
      shown,
      nextOffset: undefined,
      body: [page.body, ...(noteLines.length > 0 ? ['', ...noteLines] : [])],
    });
    const rowsShown = table.rows.slice(offset, offset + page.shown).map((row) => {
      const cells: [string, string | number | null][] = [
        ...table.keyColumns.map((c, i): [string, string | number | null] => [c, row.key[i] ?? null]),
        ...row.results.map((v, i): [string, number | null] => [
          metricLabels[i] ?? '',
          v.value === null ? null : round(v.value),
        ]),
      ];
      return Object.fromEntries(cells);
    });
    return {
      text,
      facts: {
        source: req.source.label,
        displayFilter: req.displayFilter ?? null,
        groupBy: [...plan.groupBy],
        metrics: plan.metrics.map((m) => m.label),
        interval: table.interval,
        series: [...(table.series ?? [])],
        packets: table.packets,
        totals: Object.fromEntries(plan.metrics.map((m, i) => [m.label, valueOf(totals[i])])),
        columns: [...table.columns],
        rows: rowsShown,
        notes,
        total: table.rows.length,
        offset,
        nextOffset,
        warnings,
        ...(table.lines ? { lines: table.lines } : {}),
      },
    };
  }
}

/** A row of the table: its key cells, its packets, and one result per metric column. */
interface StatRow {
  readonly key: readonly (string | number)[];
  /** Packets behind each result (its group's, or its series' bucket's). */
  readonly counts: readonly number[];
  readonly results: readonly MetricValue[];
}

function rowOf(key: readonly string[], acc: GroupAccumulator): StatRow {
  const results = acc.results();
  return { key, counts: results.map(() => acc.count), results };
}

/** Where each metric's field sits in a printed line. */
function metricColumns(plan: Plan): number[] {
  return plan.metrics.map((m) =>
    m.field === undefined ? -1 : plan.fields.indexOf(m.field, plan.groupBy.length),
  );
}

/** orderBy: a metric or a groupBy field, then "asc" or "desc" (metrics default to desc, fields to asc). */
function orderOf(
  orderBy: string | undefined,
  groupBy: readonly string[],
  metrics: readonly Metric[],
  timeSeries: boolean,
): Plan['order'] {
  if (orderBy === undefined || orderBy.trim() === '') {
    return metrics.some((m) => m.kind === 'count') || groupBy.length === 0
      ? { column: metrics.find((m) => m.kind === 'count')?.label ?? metrics[0]?.label ?? 'count', desc: true }
      : { column: metrics[0]?.label ?? 'count', desc: true };
  }
  if (timeSeries)
    throw new UserError(
      'orderBy does not apply to a time series without groupBy: its rows are in time order. With groupBy, orderBy picks the groups that get a line of their own.',
    );
  const [column = '', direction, ...rest] = orderBy.trim().split(/\s+/);
  const known = [...metrics.map((m) => m.label), ...groupBy];
  if (
    !known.includes(column) ||
    rest.length > 0 ||
    (direction !== undefined && !/^(?:asc|desc)$/i.test(direction))
  ) {
    throw new UserError(
      `orderBy ${JSON.stringify(orderBy)} names no column of this table. Give a metric or groupBy field, optionally followed by "asc" or "desc": one of ${known.map((k) => JSON.stringify(k)).join(', ')}.`,
    );
  }
  const isField = !metrics.some((m) => m.label === column);
  return { column, desc: direction === undefined ? !isField : direction.toLowerCase() === 'desc' };
}

/** Rows in the plan's order; rows without a value go last, ties by key so the order is stable. */
function sortRows(rows: StatRow[], plan: Plan): void {
  const { column, desc } = plan.order;
  const keyAt = plan.groupBy.indexOf(column);
  const metricAt = plan.metrics.findIndex((m) => m.label === column);
  const sign = desc ? -1 : 1;
  const byKey = (a: StatRow, b: StatRow): number => a.key.join('\t').localeCompare(b.key.join('\t'));
  rows.sort((a, b) => {
    if (keyAt >= 0) {
      const x = String(a.key[keyAt]);
      const y = String(b.key[keyAt]);
      const nx = Number(x);
      const ny = Number(y);
      const c =
        x === NONE || y === NONE
          ? Number(x === NONE) - Number(y === NONE)
          : Number.isFinite(nx) && Number.isFinite(ny)
            ? sign * (nx - ny)
            : sign * x.localeCompare(y);
      return c !== 0 ? c : byKey(a, b);
    }
    const x = a.results[metricAt]?.value ?? null;
    const y = b.results[metricAt]?.value ?? null;
    if (x === null || y === null) return x === y ? byKey(a, b) : x === null ? 1 : -1;
    return x !== y ? sign * (x - y) : byKey(a, b);
  });
}

/** A metric's cell: "-" without values, "≥" for at least, "≈" for approximate, "(n=K)" when not every packet had the field. */
function cellText(v: MetricValue | undefined, count: number, m: Metric): string {
  if (v === undefined || v.value === null) return '-';
  const number = String(round(v.value));
  const mark = v.bound === 'at least' ? '≥' : v.bound === 'approximate' ? '≈' : '';
  const n = m.kind !== 'count' && m.kind !== 'distinct' && v.n !== count ? ` (n=${v.n})` : '';
  return `${mark}${number}${n}`;
}

/** A metric's number as structuredContent gives it: rounded, null without values. */
function valueOf(v: MetricValue | undefined): number | null {
  return v === undefined || v.value === null ? null : round(v.value);
}

/** The bucket of a packet's frame.time_relative, as tshark -z io,stat counts it. */
function bucketOf(time: string | undefined, interval: number): number {
  const t = Number(time);
  return Number.isFinite(t) ? Math.max(0, Math.floor(t / interval + 1e-9)) : 0;
}

function bucketText(req: StatisticsRequest, interval: number): string {
  return `${interval} s buckets${req.interval === 'auto' ? ' (auto: about 100 over the capture)' : ''}; "start" is the bucket's start, seconds since the capture's first packet.`;
}

/** Nine decimals at most: nanoseconds for times, and no binary noise (0.30000000000000004). */
function round(x: number): number {
  return Number.isInteger(x) ? x : Number(x.toFixed(9));
}

function skippedNote(skipped: number): string[] {
  return skipped > 0
    ? [`${plural(skipped, 'value')} of a metric's field did not read as a number and were left out.`]
    : [];
}

/** About `STATS_LIMITS.autoBuckets` buckets over `duration`, rounded to 1, 2 or 5 times a power of ten. */
export function autoInterval(duration: number): number {
  if (!(duration > 0)) return 1;
  return niceCeil(duration / STATS_LIMITS.autoBuckets);
}

function niceCeil(x: number): number {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 5, 10]) if (m * p >= x * (1 - 1e-9)) return round(m * p);
  return round(10 * p);
}
