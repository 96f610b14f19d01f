// capture_statistics: counts, sums, averages, extremes, percentiles and distinct counts of any
// fields, grouped by up to three fields or per time interval (the I/O graph as numbers), in one table.
import * as z from 'zod';
import { intervalParam } from './interval-param.js';
import { givenArgs } from '../../analysis/paged-answer.js';
import { STATS_LIMITS, statisticsFactsSchema } from '../../analysis/statistics.js';
import { METRIC_PATTERN } from '../../analysis/stats-accumulators.js';
import { MAX_FILTER_LENGTH } from '../../limits.js';
import { captureLink } from '../resources.js';
import { defineTool, progressSink, textResult } from '../tool.js';
import { dissectionParams, keylogParam, sourceAndKeylog, sourceParam } from './analysis-params.js';
import { pagingParams } from './paging-params.js';
import { hostParam, narrowToProcess, processParam } from './process-param.js';

const fieldName = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'a tshark field name, e.g. "ip.src"');

const filter = z.string().min(1).max(MAX_FILTER_LENGTH);

const { limit, offset, maxChars } = pagingParams({
  limit: '',
  limitDefault: STATS_LIMITS.topN.default,
  limitMax: STATS_LIMITS.topN.max,
  offset: 'Rows to skip (the answer names the call for the next rows).',
});

const inputSchema = z.object({
  source: sourceParam,
  displayFilter: filter
    .optional()
    .meta({ brief: '' })
    .describe(
      'Count only the packets this Wireshark display filter matches, e.g. "dns.flags.response == 1".',
    ),
  process: processParam,
  host: hostParam,
  groupBy: z
    .array(fieldName)
    .max(STATS_LIMITS.groupBy)
    .optional()
    .meta({ brief: 'Up to 3 fields.' })
    .describe(
      'Up to 3 field names; one row per combination of their values, e.g. ["http.user_agent"] or ["ip.dst", "tcp.dstport"]. A packet without the field counts under "(none)"; one with several values counts in each. With interval: one line per group over time (the topN largest by orderBy, the rest together).',
    ),
  metrics: z
    .array(z.string().max(220).regex(METRIC_PATTERN, 'count, or sum|avg|min|max|distinct|pNN:<field>'))
    .min(1)
    .max(STATS_LIMITS.metrics)
    .optional()
    .meta({
      default: ['count'],
      brief: 'count, or sum|avg|min|max|distinct|p1-p99:<field>, e.g. "p95:http.time".',
    })
    .describe(
      'What to compute per row: "count" (packets), or an aggregate of a field: "sum:frame.len", "avg:dns.time", "min:…", "max:tcp.analysis.ack_rtt", a percentile "p95:http.time" (p1-p99), "distinct:ip.src". Every value of a field that occurs several times in a packet counts; packets without the field are left out of that metric (the cell says n=).',
    ),
  orderBy: z
    .string()
    .max(240)
    .optional()
    .meta({ brief: '"<metric|field> asc|desc".' })
    .describe(
      'A metric or groupBy field, then "asc" or "desc", e.g. "sum:frame.len desc". Default: count, descending. With groupBy and interval it picks the groups that get a line.',
    ),
  topN: limit
    .meta({ brief: '' })
    .describe(
      'Rows (groups, or buckets of a time series) to show; the answer names the call for more. With groupBy and interval: the groups with a line of their own (at most 100), the rest share one "(other groups)" line.',
    ),
  offset,
  interval: intervalParam(0.000001)
    .meta({ brief: 'Seconds per bucket, or "auto".' })
    .describe(
      'A time series: seconds per bucket (e.g. 1 for "per second"), or "auto" for about 100 buckets over the capture. Each metric per bucket, like Wireshark\'s I/O graph; with groupBy, per group (columns "#1 count", "#2 count", … and a legend naming each line\'s group).',
    ),
  series: z
    .array(filter)
    .min(1)
    .max(STATS_LIMITS.series)
    .optional()
    .meta({ brief: 'With interval: a line per display filter.' })
    .describe(
      'With interval: one series per display filter, side by side (e.g. ["http.request", "dns.flags.response == 0"]); each is also narrowed by displayFilter. Not with groupBy (which makes the lines itself).',
    ),
  sslKeylogFile: keylogParam,
  ...dissectionParams,
  maxChars,
});

export const captureStatisticsTool = defineTool({
  name: 'capture_statistics',
  title: 'Capture statistics',
  brief:
    'Counts and aggregates of any fields over the whole capture, grouped, or as a time series (I/O graph numbers).',
  description:
    'Counts and aggregates of any fields in one table: "which User-Agents and how many requests each" (groupBy ["http.user_agent"]), "queries per name with their rcodes" (groupBy ["dns.qry.name", "dns.flags.rcode"]), "average DNS response time per server" (metrics ["avg:dns.time"], groupBy ["ip.src"]), "bytes per host per port" (metrics ["sum:frame.len"]), or with interval a time series ("requests per second"; series for several display filters side by side; with groupBy one line per group, "bytes per host per second", the topN groups by orderBy and the rest together). Exact counts over the whole capture with totals over all matched packets; rows ordered by orderBy, topN at a time. Works on a capture file or a capture session; decrypts TLS with sslKeylogFile.',
  inputSchema,
  outputSchema: statisticsFactsSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  handler: async (args, deps, ctx) => {
    const { source, keylog } = await sourceAndKeylog(deps, args, ctx.mcpReq.signal);
    const narrowed = await narrowToProcess(deps, source.file, args, ctx.mcpReq.signal);
    const { text, facts } = await deps.statistics.answer(
      {
        source,
        keylog,
        displayFilter: narrowed.displayFilter,
        groupBy: args.groupBy,
        metrics: args.metrics,
        orderBy: args.orderBy,
        interval: args.interval,
        series: args.series,
        limit: args.topN,
        offset: args.offset,
        maxChars: args.maxChars,
        call: { tool: 'capture_statistics', args: givenArgs(args) },
      },
      ctx.mcpReq.signal,
      progressSink(ctx),
    );
    return textResult(narrowed.relabel(text), facts, [captureLink(deps, source)]);
  },
});
