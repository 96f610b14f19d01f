// plot_capture's service: the pictures a Wireshark user looks at before reading packets (the I/O
// graph, the TCP stream graph, round-trip times, throughput, the flow diagram), each as a PNG with
// the numbers it was drawn from. tshark counts and dissects; ./data.ts reads its output, ./render.ts
// draws, ./mermaid.ts writes the flow as text.
import * as z from 'zod';
import { abortError, UserError } from '../../errors.js';
import { PLOT_DEFAULTS } from '../../limits.js';
import { MAX_FLOW_PACKETS } from '../../limits.js';
import { captureFacts } from '../../wireshark/capinfos.js';
import type { WiresharkTools } from '../../wireshark/locate.js';
import type { ProcessGroup } from '../../wireshark/process.js';
import { runCollect } from '../../wireshark/process.js';
import { firstOccurrenceFieldArgs, ioStatArgs, readArgs } from '../../wireshark/tshark-args.js';
import type { Analyzer } from '../analyze-capture.js';
import { readOutcome } from '../damage.js';
import type { CaptureRead } from '../source.js';
import { bucketSums, downsample, fieldRows, niceInterval, num, parseIoStat } from './data.js';
import { mermaidSequence, participantsOf } from './mermaid.js';
import type { FlowMessage } from './mermaid.js';
import { COLOURS, flowSpec, ioSpec, lineSpec, markedPointsSpec, renderPng } from './render.js';
import type { MarkedPoint, XYPoint } from './render.js';

export const PLOT_KINDS = ['io', 'tcp_stream', 'rtt', 'throughput', 'flow'] as const;
export type PlotKind = (typeof PLOT_KINDS)[number];

export const PLOT_LIMITS = {
  /** Points drawn in one picture; more are thinned evenly (and the answer says so). */
  chartPoints: 5000,
  /** Rows of numbers beside the picture (text and structuredContent). */
  rows: 200,
  /** I/O graph buckets: tshark keeps a row per bucket. */
  buckets: 2000,
  series: 5,
} as const;

/** The numbers beside the picture: plot_capture's output schema. */
export const plotFactsSchema = z.object({
  source: z.string(),
  kind: z.enum(PLOT_KINDS),
  title: z.string(),
  intervalSeconds: z.number().nullable().describe('The bucket width, for io and throughput.'),
  columns: z.array(z.string()),
  rows: z
    .array(z.record(z.string(), z.union([z.string(), z.number(), z.null()])))
    .describe('The data points (at most 200, evenly spaced when there are more: see total).'),
  total: z.number().int().describe('Data points there are; rows holds all of them when it is as long.'),
  drawn: z.number().int().describe('Data points drawn in the picture.'),
  mermaid: z.string().nullable().describe('For flow: the diagram as Mermaid sequenceDiagram text.'),
  warnings: z.array(z.string()),
});
export type PlotFacts = z.infer<typeof plotFactsSchema>;

export interface PlotRequest extends CaptureRead {
  readonly kind: PlotKind;
  readonly stream?: number | undefined;
  readonly interval?: number | 'auto' | undefined;
  readonly series?: readonly string[] | undefined;
  readonly displayFilter?: string | undefined;
  readonly limit?: number | undefined;
}

export interface PlotAnswer {
  readonly png: Buffer;
  readonly text: string;
  readonly facts: PlotFacts;
}

type Row = Record<string, string | number | null>;

interface Drawn {
  title: string;
  png: Buffer;
  columns: string[];
  /** Every data point, before any thinning. */
  rows: Row[];
  drawn: number;
  interval?: number;
  head: string[];
  mermaid?: string;
}

const MAX_OUTPUT = 128 * 1024 * 1024;
const STREAM_FIELDS = [
  'frame.number',
  'frame.time_relative',
  'ip.src',
  'ipv6.src',
  'tcp.srcport',
  'tcp.seq',
  'tcp.len',
  'tcp.ack',
  'tcp.analysis.retransmission',
  'tcp.analysis.zero_window',
  'tcp.analysis.ack_rtt',
] as const;
const FLOW_FIELDS = [
  'frame.number',
  'frame.time_relative',
  '_ws.col.Source',
  '_ws.col.Destination',
  '_ws.col.Protocol',
  '_ws.col.Info',
] as const;

/** plot_capture's service. */
export class Plotter {
  constructor(
    private readonly group: ProcessGroup,
    private readonly tools: () => Promise<WiresharkTools>,
    private readonly filters: Pick<Analyzer, 'checkDisplayFilter' | 'secondPassNeeded'>,
    private readonly timeoutMs: number,
  ) {}

  async plot(req: PlotRequest, signal?: AbortSignal): Promise<PlotAnswer> {
    await this.filters.checkDisplayFilter(req.displayFilter, signal);
    for (const s of req.series ?? []) await this.filters.checkDisplayFilter(s, signal);
    const warnings = new Set<string>(req.keylog.warnings);
    const drawn = await this.draw(req, warnings, signal);
    const shown = downsample(drawn.rows, PLOT_LIMITS.rows);
    const count =
      shown.length === drawn.rows.length
        ? `Data points: ${drawn.rows.length} (all listed below).`
        : `Data points: ${drawn.rows.length}; listed below: ${shown.length}, evenly spaced (first and last kept).`;
    const pictured =
      drawn.drawn === drawn.rows.length || req.kind === 'flow'
        ? ''
        : ` The picture draws ${drawn.drawn} of them, evenly thinned (every retransmission and zero window kept).`;
    const lines = [
      drawn.title,
      `Display Filter: ${req.displayFilter ?? 'none'}`,
      ...drawn.head,
      `Picture: PNG beside this text.${pictured}`,
      ...[...warnings].map((w) => `Warning: ${w}`),
      count,
      '',
      drawn.columns.join('\t'),
      ...shown.map((r) => drawn.columns.map((c) => cell(r[c])).join('\t')),
    ];
    if (drawn.mermaid !== undefined) lines.push('', 'Mermaid:', '```mermaid', drawn.mermaid, '```');
    return {
      png: drawn.png,
      text: lines.join('\n'),
      facts: {
        source: req.source.label,
        kind: req.kind,
        title: drawn.title,
        intervalSeconds: drawn.interval ?? null,
        columns: drawn.columns,
        rows: shown,
        total: drawn.rows.length,
        drawn: drawn.drawn,
        mermaid: drawn.mermaid ?? null,
        warnings: [...warnings],
      },
    };
  }

  private async draw(req: PlotRequest, warnings: Set<string>, signal?: AbortSignal): Promise<Drawn> {
    switch (req.kind) {
      case 'io':
        return this.io(req, warnings, signal);
      case 'tcp_stream':
        return this.tcpStream(req, warnings, signal);
      case 'rtt':
        return this.rtt(req, warnings, signal);
      case 'throughput':
        return this.throughput(req, warnings, signal);
      case 'flow':
        return this.flow(req, warnings, signal);
    }
  }

  /** Runs one tshark pass over the source; with `lines`, stops once that many lines are in. */
  private async tshark(
    req: PlotRequest,
    pass: {
      readonly displayFilter: string | undefined;
      /** The fields the pass reads (for the two-pass rule). */
      readonly fields: readonly string[];
      /** What follows the read arguments: the output or the statistic. */
      readonly tail: readonly string[];
      readonly warnings: Set<string>;
      /** Filters inside the statistic (io's series), which the two-pass rule weighs too. */
      readonly statisticFilters?: readonly string[];
      /** Addresses and ports as numbers (-n). */
      readonly numeric?: boolean;
      /** Stop once this many lines are in. */
      readonly lines?: number;
    },
    signal?: AbortSignal,
  ): Promise<string> {
    const { displayFilter, fields, tail, warnings, lines } = pass;
    const weighed = [displayFilter, ...(pass.statisticFilters ?? [])].filter(
      (f) => f !== undefined && f !== '',
    );
    const tools = await this.tools();
    const twoPass = await this.filters.secondPassNeeded(
      { displayFilter: weighed.length > 0 ? weighed.map((f) => `(${f})`).join(' || ') : undefined, fields },
      signal,
    );
    const args = [
      ...readArgs({
        file: req.source.file,
        keylogFile: req.keylog.keylogFile,
        dissection: req.keylog.dissection,
        displayFilter,
        twoPass,
        numeric: pass.numeric ?? false,
      }),
      ...tail,
    ];
    let seen = 0;
    const chunks: Buffer[] = [];
    const { stdout, result } =
      lines === undefined
        ? await runCollect(this.group, {
            command: tools.require('tshark'),
            args,
            timeoutMs: this.timeoutMs,
            signal,
            maxBytes: MAX_OUTPUT,
          })
        : await this.group
            .run({
              command: tools.require('tshark'),
              args,
              timeoutMs: this.timeoutMs,
              signal,
              onStdout: (chunk) => {
                chunks.push(chunk);
                for (const b of chunk) if (b === 10) seen++;
                return seen >= lines ? 'stop' : 'continue';
              },
            })
            .then((result) => ({ stdout: Buffer.concat(chunks).toString('utf8'), result }));
    if (result.aborted) throw abortError();
    if (result.timedOut)
      throw new UserError(
        `tshark took longer than ${this.timeoutMs / 1000} s on ${req.source.label}; narrow it with displayFilter.`,
      );
    const read = await readOutcome(
      this.group,
      tools,
      { stderr: result.stderr, file: req.source.file, live: req.source.live },
      signal,
    );
    if (read.other !== undefined && result.exitCode !== 0 && stdout === '')
      throw new UserError(`tshark failed: ${read.other}`);
    for (const w of read.warnings) warnings.add(w);
    if (result.stoppedEarly && lines === undefined)
      warnings.add('tshark printed more than 128 MB; the picture covers what was read.');
    return stdout;
  }

  private async io(req: PlotRequest, warnings: Set<string>, signal?: AbortSignal): Promise<Drawn> {
    const series = req.series ?? [];
    for (const s of [req.displayFilter ?? '', ...series])
      if (s.includes(','))
        throw new UserError(
          `tshark's I/O graph cannot take a filter with a comma ("${s}"): split it with ||, e.g. "tcp.port == 80 || tcp.port == 443" for "tcp.port in {80, 443}", or use a range, e.g. "tcp.port in {80..443}".`,
        );
    const duration = await this.duration(req, signal);
    const given = req.interval ?? PLOT_DEFAULTS.interval;
    const interval = given === 'auto' ? niceInterval(duration) : given;
    if (duration / interval > PLOT_LIMITS.buckets)
      throw new UserError(
        `An interval of ${interval} s cuts this ${duration.toFixed(3)} s capture into more than ${PLOT_LIMITS.buckets} buckets; give a longer interval or "auto".`,
      );
    const df = req.displayFilter;
    const names = series.length > 0 ? series : [df ? 'matching packets' : 'all packets'];
    const filters = series.length > 0 ? series.map((s) => (df ? `(${df}) && (${s})` : s)) : df ? [df] : [];
    const out = await this.tshark(
      req,
      {
        displayFilter: undefined,
        fields: [],
        statisticFilters: filters,
        tail: ioStatArgs(interval, filters),
        warnings,
      },
      signal,
    );
    const buckets = parseIoStat(out);
    if (buckets.length === 0)
      throw new UserError(
        `tshark printed no I/O statistics for ${req.source.label}. Check that the capture holds packets (summarize_capture), or try without sslKeylogFile and series.`,
      );
    const rows: Row[] = [];
    const packets: XYPoint[] = [];
    const bytes: XYPoint[] = [];
    for (const b of buckets)
      names.forEach((name, i) => {
        const label = `${i + 1}: ${name}`;
        const frames = b.frames[i] ?? 0;
        const size = b.bytes[i] ?? 0;
        rows.push({ start: b.start, series: label, packets: frames, bytes: size });
        packets.push({ x: b.start, y: frames / interval, series: label });
        bytes.push({ x: b.start, y: size / interval, series: label });
      });
    const title = `I/O graph of ${req.source.label}`;
    return {
      title,
      png: await renderPng(ioSpec({ title: `I/O graph, ${interval} s intervals`, packets, bytes })),
      columns: ['start', 'series', 'packets', 'bytes'],
      rows,
      drawn: rows.length,
      interval,
      head: [
        `Interval: ${interval} s${given === 'auto' ? ` (auto: about 100 buckets over ${duration.toFixed(3)} s)` : ''}; numbers are tshark's -z io,stat (packets and bytes per interval); the picture shows them per second.`,
        `Series: ${names.map((n, i) => `${i + 1}: ${n}`).join('; ')}`,
      ],
    };
  }

  /** The capture's duration in seconds (capinfos), at least a millisecond. */
  private async duration(req: PlotRequest, signal?: AbortSignal): Promise<number> {
    const tools = await this.tools();
    const facts = await captureFacts(this.group, tools.require('capinfos'), req.source.file, signal);
    return Math.max(facts.durationSeconds ?? 0, 0.001);
  }

  private streamFilter(req: PlotRequest, own?: string): string {
    if (req.stream === undefined)
      throw new UserError(
        `kind "${req.kind}" needs stream: a TCP stream index (tcp.stream), e.g. 0. To list them: inspect_protocol {"source": ..., "kind": "tcp_health"}.`,
      );
    const parts = [
      `tcp.stream eq ${req.stream}`,
      ...(own ? [own] : []),
      ...(req.displayFilter ? [`(${req.displayFilter})`] : []),
    ];
    return parts.join(' && ');
  }

  private async streamRows(
    req: PlotRequest,
    own: string | undefined,
    warnings: Set<string>,
    signal?: AbortSignal,
  ): Promise<Record<string, string>[]> {
    const filter = this.streamFilter(req, own);
    const rows = fieldRows(
      await this.tshark(
        req,
        {
          displayFilter: filter,
          fields: STREAM_FIELDS,
          tail: firstOccurrenceFieldArgs(STREAM_FIELDS),
          warnings,
        },
        signal,
      ),
      STREAM_FIELDS,
    );
    if (rows.length === 0 && own === undefined)
      throw new UserError(
        `No packets of TCP stream ${req.stream} in ${req.source.label}${req.displayFilter ? ' that match the display filter' : ''}. Stream indexes start at 0; inspect_protocol {"kind": "tcp_health"} lists the streams.`,
      );
    return rows;
  }

  private async tcpStream(req: PlotRequest, warnings: Set<string>, signal?: AbortSignal): Promise<Drawn> {
    const rows = await this.streamRows(req, undefined, warnings, signal);
    // The graph follows the direction that carried the most payload, as Wireshark's does by default.
    const sent = new Map<string, number>();
    for (const r of rows) sent.set(sender(r), (sent.get(sender(r)) ?? 0) + (num(r['tcp.len']) ?? 0));
    const [from] = [...sent.entries()].sort((a, b) => b[1] - a[1])[0] ?? [''];
    const points: (Row & { mark: string })[] = [];
    for (const r of rows) {
      const time = num(r['frame.time_relative']) ?? 0;
      const frame = num(r['frame.number']) ?? 0;
      if (sender(r) === from && (num(r['tcp.len']) ?? 0) > 0)
        points.push({
          frame,
          time,
          seq: num(r['tcp.seq']) ?? 0,
          len: num(r['tcp.len']) ?? 0,
          mark: r['tcp.analysis.retransmission'] ? 'retransmission' : 'segment',
        });
      else if (sender(r) !== from && r['tcp.analysis.zero_window'])
        points.push({ frame, time, seq: num(r['tcp.ack']) ?? 0, len: 0, mark: 'zero window' });
    }
    const drawn = downsample(points, PLOT_LIMITS.chartPoints, (p) => p.mark !== 'segment');
    const marks: MarkedPoint[] = drawn.map((p) => ({
      x: p.time as number,
      y: p.seq as number,
      mark: p.mark,
    }));
    const count = (m: string): number => points.filter((p) => p.mark === m).length;
    const title = `TCP stream ${req.stream} of ${req.source.label}`;
    return {
      title,
      png: await renderPng(
        markedPointsSpec({
          title: `TCP stream ${req.stream}: sequence numbers sent by ${from}`,
          xTitle: 'time (seconds)',
          yTitle: 'sequence number (bytes, relative)',
          points: marks,
          marks: [
            { name: 'segment', colour: COLOURS.data, shape: 'circle' },
            { name: 'zero window', colour: COLOURS.zeroWindow, shape: 'square' },
            // Last, so that a retransmission is never hidden under a zero window.
            { name: 'retransmission', colour: COLOURS.retransmission, shape: 'triangle-up' },
          ],
        }),
      ),
      columns: ['frame', 'time', 'seq', 'len', 'mark'],
      rows: points,
      drawn: drawn.length,
      head: [
        `Direction: ${from} (the side that sent the most payload); a point per data segment at its relative sequence number; zero windows from the other side at the ack number they announced.`,
        `Segments: ${count('segment') + count('retransmission')}, retransmissions: ${count('retransmission')}, zero windows: ${count('zero window')}.`,
      ],
    };
  }

  private async rtt(req: PlotRequest, warnings: Set<string>, signal?: AbortSignal): Promise<Drawn> {
    const rows = await this.streamRows(req, 'tcp.analysis.ack_rtt', warnings, signal);
    const points = rows.map((r) => ({
      frame: num(r['frame.number']) ?? 0,
      time: num(r['frame.time_relative']) ?? 0,
      // The ack's sender measured the data sent the other way: label by the data's direction.
      direction: `acks from ${sender(r)}`,
      rttMs: Number(((num(r['tcp.analysis.ack_rtt']) ?? 0) * 1000).toFixed(3)),
    }));
    if (points.length === 0)
      throw new UserError(
        `TCP stream ${req.stream} of ${req.source.label} has no acknowledgement with a round-trip time (tcp.analysis.ack_rtt)${req.displayFilter ? ' that matches the display filter' : ''}, or there is no such stream. Stream indexes start at 0; inspect_protocol {"kind": "tcp_health"} lists the streams.`,
      );
    const drawn = downsample(points, PLOT_LIMITS.chartPoints);
    const ms = points.map((p) => p.rttMs).sort((a, b) => a - b);
    const title = `Round-trip times of TCP stream ${req.stream} of ${req.source.label}`;
    return {
      title,
      png: await streamLines(
        `TCP stream ${req.stream}: round-trip time (data to its ack)`,
        'round-trip time (ms)',
        drawn.map((p) => ({ x: p.time, y: p.rttMs, series: p.direction })),
      ),
      columns: ['frame', 'time', 'direction', 'rttMs'],
      rows: points,
      drawn: drawn.length,
      head: [
        `RTT (tcp.analysis.ack_rtt) in ms: min ${ms[0]}, median ${ms[Math.floor((ms.length - 1) / 2)]}, max ${ms[ms.length - 1]} over ${ms.length} acks.`,
      ],
    };
  }

  private async throughput(req: PlotRequest, warnings: Set<string>, signal?: AbortSignal): Promise<Drawn> {
    const rows = await this.streamRows(req, undefined, warnings, signal);
    const times = rows.map((r) => num(r['frame.time_relative']) ?? 0);
    // reduce, not Math.max(...times): a long stream has more rows than a call can take arguments.
    const start = times.reduce((a, b) => Math.min(a, b), Infinity);
    const span = times.reduce((a, b) => Math.max(a, b), -Infinity) - start;
    const given = req.interval ?? PLOT_DEFAULTS.interval;
    const interval = given === 'auto' ? niceInterval(Math.max(span, 0.001)) : given;
    if (span / interval > PLOT_LIMITS.buckets)
      throw new UserError(
        `An interval of ${interval} s cuts this stream's ${span.toFixed(3)} s into more than ${PLOT_LIMITS.buckets} buckets; give a longer interval or "auto".`,
      );
    const sums = bucketSums(
      rows,
      interval,
      (r) => (num(r['frame.time_relative']) ?? 0) - start,
      (r) => `from ${sender(r)}`,
      (r) => num(r['tcp.len']) ?? 0,
    );
    const points = sums.map((s) => ({
      start: Number((s.start + start).toFixed(6)),
      direction: s.key,
      bytes: s.sum,
      bytesPerSecond: Math.round(s.sum / interval),
    }));
    const title = `Throughput of TCP stream ${req.stream} of ${req.source.label}`;
    return {
      title,
      png: await streamLines(
        `TCP stream ${req.stream}: payload throughput, ${interval} s intervals`,
        'throughput (bytes/s)',
        points.map((p) => ({ x: p.start, y: p.bytesPerSecond, series: p.direction })),
      ),
      columns: ['start', 'direction', 'bytes', 'bytesPerSecond'],
      rows: points,
      drawn: points.length,
      interval,
      head: [
        `Interval: ${interval} s from the stream's first packet; bytes are TCP payload (tcp.len) per interval and direction.`,
      ],
    };
  }

  private async flow(req: PlotRequest, warnings: Set<string>, signal?: AbortSignal): Promise<Drawn> {
    const limit = req.limit ?? PLOT_DEFAULTS.flowPackets;
    const filter = [
      ...(req.stream !== undefined ? [`tcp.stream eq ${req.stream}`] : []),
      ...(req.displayFilter ? [`(${req.displayFilter})`] : []),
    ].join(' && ');
    // One line more than asked for tells whether there are more.
    const out = await this.tshark(
      req,
      {
        displayFilter: filter || undefined,
        fields: FLOW_FIELDS,
        tail: firstOccurrenceFieldArgs(FLOW_FIELDS),
        numeric: true,
        warnings,
        lines: limit + 1,
      },
      signal,
    );
    const all = fieldRows(out, FLOW_FIELDS);
    const more = all.length > limit;
    const messages: FlowMessage[] = all.slice(0, limit).map((r) => ({
      frame: num(r['frame.number']) ?? 0,
      time: num(r['frame.time_relative']) ?? 0,
      from: r['_ws.col.Source'] || '?',
      to: r['_ws.col.Destination'] || '?',
      protocol: r['_ws.col.Protocol'] ?? '',
      info: r['_ws.col.Info'] ?? '',
    }));
    if (messages.length === 0)
      throw new UserError(`No packets in ${req.source.label}${filter ? ` that match "${filter}"` : ''}.`);
    const participants = participantsOf(messages);
    const lane = new Map(participants.map((p, i) => [p, i]));
    const title = `Flow of ${req.source.label}`;
    return {
      title,
      png: await renderPng(
        flowSpec({
          title: `Flow: the first ${messages.length} packets${filter ? ` of ${filter}` : ''}`,
          participants,
          arrows: messages.map((m, row) => ({
            row,
            from: lane.get(m.from) ?? 0,
            to: lane.get(m.to) ?? 0,
            label: truncate(`${m.frame}  ${m.protocol}  ${m.info}`, 110),
          })),
        }),
      ),
      columns: ['frame', 'time', 'from', 'to', 'protocol', 'info'],
      rows: messages.map((m) => ({ ...m })),
      drawn: messages.length,
      mermaid: mermaidSequence(messages),
      head: [
        `Participants: ${participants.join(', ')}`,
        more
          ? `Packets: the first ${messages.length}; more match: give a larger limit (at most ${MAX_FLOW_PACKETS}) or a displayFilter such as "frame.number > ${messages[messages.length - 1]?.frame ?? 0}" for the next ones.`
          : `Packets: all ${messages.length} that match.`,
      ],
    };
  }
}

/** A stream's lines over time, one per direction. */
function streamLines(title: string, yTitle: string, points: readonly XYPoint[]): Promise<Buffer> {
  return renderPng(lineSpec({ title, xTitle: 'time (seconds)', yTitle, seriesTitle: 'direction', points }));
}

/** The sending endpoint of a `-T fields` stream row: address and port. */
function sender(r: Record<string, string>): string {
  const v6 = r['ipv6.src'];
  return v6 ? `[${v6}]:${r['tcp.srcport'] ?? ''}` : `${r['ip.src'] ?? ''}:${r['tcp.srcport'] ?? ''}`;
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function cell(v: string | number | null | undefined): string {
  if (v === null || v === undefined || v === '') return '-';
  return String(v).replace(/[\t\n]/g, ' ');
}
