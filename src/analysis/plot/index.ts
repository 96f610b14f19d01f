// plot_capture's service: the pictures a Wireshark user looks at before reading packets (the I/O
// graph, the TCP stream graph, round-trip times, throughput, the flow diagram), each as a PNG with
// the numbers it was drawn from. tshark counts and dissects; ./data.ts reads its output, ./render.ts
// draws, ./mermaid.ts writes the flow as text. The stream kinds read tshark's rows as they stream
// and fold them into a picture of bounded size (./data.ts's reducers): memory stays bounded
// whatever the stream's length, and the counts beside the picture cover every packet.
import * as z from 'zod';
import { abortError, UserError } from '../../errors.js';
import { PLOT_DEFAULTS } from '../../limits.js';
import { MAX_FLOW_PACKETS } from '../../limits.js';
import { captureFacts } from '../../wireshark/capinfos.js';
import type { WiresharkTools } from '../../wireshark/locate.js';
import type { ProcessGroup } from '../../wireshark/process.js';
import { runCollect } from '../../wireshark/process.js';
import { LineSplitter } from '../../util/text.js';
import { firstOccurrenceFieldArgs, ioStatArgs, readArgs } from '../../wireshark/tshark-args.js';
import type { Analyzer } from '../analyze-capture.js';
import { readOutcome } from '../damage.js';
import type { CaptureRead } from '../source.js';
import {
  BucketSums,
  downsample,
  Envelope,
  EvenSample,
  niceInterval,
  num,
  parseIoStat,
  Spread,
} from './data.js';
import { mermaidSequence, participantsOf } from './mermaid.js';
import type { FlowMessage } from './mermaid.js';
import { COLOURS, flowSpec, ioSpec, lineSpec, markedPointsSpec, renderPng } from './render.js';
import type { MarkedPoint, XYPoint } from './render.js';

export const PLOT_KINDS = ['io', 'tcp_stream', 'rtt', 'throughput', 'flow'] as const;
export type PlotKind = (typeof PLOT_KINDS)[number];

export const PLOT_LIMITS = {
  /** Points of a stream kept as they are; past that, only each time column's extremes. */
  rawPoints: 3000,
  /**
   * Time columns of a thinned stream. Doubling their width leaves between half and all of them in
   * use, so twice the picture's pixels across keeps at least a column per pixel.
   */
  columns: 1800,
  /** Retransmissions, and zero windows, drawn; more are thinned evenly by count (and counted). */
  markers: 1000,
  /** Round-trip times whose median is exact; past that it comes from a sketch (within 1 %). */
  exactMedian: 100_000,
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
  drawn: z
    .number()
    .int()
    .describe(
      'Data points drawn in the picture; fewer than total when a long stream was thinned (the text says how).',
    ),
  counts: z
    .record(z.string(), z.number())
    .nullable()
    .describe(
      'Exact totals over every packet read, also when the picture is thinned. tcp_stream: segments, payloadBytes, retransmissions, zeroWindows; rtt: acks, minMs, meanMs, maxMs; throughput: payload bytes per direction.',
    ),
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
  /** The data points drawn: all of them, or the thinned picture's. */
  rows: Row[];
  /** Data points there are (rows.length unless thinned). */
  total: number;
  /** How the picture was thinned, when it was. */
  thinning?: string;
  counts?: Record<string, number>;
  interval?: number;
  head: string[];
  mermaid?: string;
}

const MAX_OUTPUT = 128 * 1024 * 1024;
/** A stream row is a few numbers and addresses; a longer one is cut (its first fields are enough). */
const MAX_LINE_CHARS = 4096;
/** The fields the stream kinds read, one row per packet (also what bench/plot.ts times tshark on). */
export const STREAM_FIELDS = [
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
      shown.length === drawn.total
        ? `Data points: ${drawn.total} (all listed below).`
        : shown.length === drawn.rows.length
          ? `Data points: ${drawn.total}; listed below: the ${shown.length} drawn.`
          : `Data points: ${drawn.total}; listed below: ${shown.length}${drawn.thinning ? ` of the ${drawn.rows.length} drawn` : ''}, evenly spaced (first and last kept).`;
    const pictured = drawn.thinning
      ? ` The picture draws ${drawn.rows.length} of them: ${drawn.thinning}.`
      : '';
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
        total: drawn.total,
        drawn: drawn.rows.length,
        counts: drawn.counts ?? null,
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

  /**
   * Runs one tshark pass over the source and returns its output (up to 128 MB: io's table is a
   * line per bucket); with `onLine`, hands each line's cells over as it streams instead, keeping
   * none (the result is empty), and stops tshark when it says 'stop'.
   */
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
      readonly onLine?: (cells: string[]) => 'continue' | 'stop';
    },
    signal?: AbortSignal,
  ): Promise<string> {
    const { displayFilter, fields, tail, warnings, onLine } = pass;
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
    const splitter = new LineSplitter(MAX_LINE_CHARS);
    const each = (batch: { text: string }[]): 'continue' | 'stop' => {
      for (const line of batch) {
        seen++;
        if (onLine?.(line.text.split('\t')) === 'stop') return 'stop';
      }
      return 'continue';
    };
    const { stdout, result } = onLine
      ? await this.group
          .run({
            command: tools.require('tshark'),
            args,
            timeoutMs: this.timeoutMs,
            signal,
            onStdout: (chunk) => each(splitter.push(chunk)),
          })
          .then((result) => {
            if (!result.stoppedEarly && !result.timedOut && !result.aborted) each(splitter.end());
            return { stdout: '', result };
          })
      : await runCollect(this.group, {
          command: tools.require('tshark'),
          args,
          timeoutMs: this.timeoutMs,
          signal,
          maxBytes: MAX_OUTPUT,
        });
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
    if (read.other !== undefined && result.exitCode !== 0 && stdout === '' && seen === 0)
      throw new UserError(`tshark failed: ${read.other}`);
    for (const w of read.warnings) warnings.add(w);
    if (result.stoppedEarly && onLine === undefined)
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
      total: rows.length,
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

  /**
   * One pass over a stream's packets (`own` narrows it further), each row handed to `onRow` as
   * tshark prints it, none kept; returns how many there were.
   */
  private async streamPass(
    req: PlotRequest,
    own: string | undefined,
    warnings: Set<string>,
    onRow: (row: StreamRow) => 'continue' | 'stop',
    signal?: AbortSignal,
  ): Promise<number> {
    let rows = 0;
    await this.tshark(
      req,
      {
        displayFilter: this.streamFilter(req, own),
        fields: STREAM_FIELDS,
        tail: firstOccurrenceFieldArgs(STREAM_FIELDS),
        warnings,
        onLine: (cells) => {
          rows++;
          return onRow(streamRow(cells));
        },
      },
      signal,
    );
    if (rows === 0 && own === undefined)
      throw new UserError(
        `No packets of TCP stream ${req.stream} in ${req.source.label}${req.displayFilter ? ' that match the display filter' : ''}. Stream indexes start at 0; inspect_protocol {"kind": "tcp_health"} lists the streams.`,
      );
    return rows;
  }

  private async tcpStream(req: PlotRequest, warnings: Set<string>, signal?: AbortSignal): Promise<Drawn> {
    // Each side's segments and markers, as they stream: which side the graph follows is known
    // only at the end.
    const sides = new Map<string, StreamSide>();
    await this.streamPass(
      req,
      undefined,
      warnings,
      (r) => {
        let side = sides.get(r.sender);
        if (!side) sides.set(r.sender, (side = streamSide()));
        if (r.len > 0) {
          const p = { frame: r.frame, time: r.time, seq: r.seq, len: r.len, mark: 'segment' };
          if (r.retransmission) p.mark = 'retransmission';
          side.payload += r.len;
          side.segments.add(p);
          if (r.retransmission) side.retransmissions.add(p);
        }
        if (r.zeroWindow)
          side.zeroWindows.add({ frame: r.frame, time: r.time, seq: r.ack, len: 0, mark: 'zero window' });
        return 'continue';
      },
      signal,
    );
    // The graph follows the direction that carried the most payload, as Wireshark's does by default.
    const [from, mine] = [...sides.entries()].sort((a, b) => b[1].payload - a[1].payload)[0] ?? [
      '',
      streamSide(),
    ];
    // Zero windows come from the other side: the window it announced shut on the data sent.
    const others = [...sides.entries()].filter(([name]) => name !== from).map(([, side]) => side);
    const zeroWindows = others.reduce((n, side) => n + side.zeroWindows.count, 0);
    const kept = new Map<number, StreamPoint>();
    for (const p of [
      ...mine.segments.items(),
      ...mine.retransmissions.items,
      ...others.flatMap((side) => side.zeroWindows.items),
    ])
      kept.set(p.frame, p);
    const points = [...kept.values()].sort((a, b) => a.frame - b.frame);
    const total = mine.segments.count + zeroWindows;
    const marks: MarkedPoint[] = points.map((p) => ({ x: p.time, y: p.seq, mark: p.mark }));
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
      rows: points.map((p) => ({ ...p })),
      total,
      ...(points.length < total
        ? {
            thinning: [
              mine.segments.thinned
                ? `the lowest and highest sequence number in each of ${PLOT_LIMITS.columns} time columns (the outline all ${mine.segments.count} segments draw)`
                : `every segment`,
              markerShare(mine.retransmissions.items.length, mine.retransmissions.count, 'retransmission'),
              markerShare(
                others.reduce((n, side) => n + side.zeroWindows.items.length, 0),
                zeroWindows,
                'zero window',
              ),
            ].join(', '),
          }
        : {}),
      counts: {
        segments: mine.segments.count,
        payloadBytes: mine.payload,
        retransmissions: mine.retransmissions.count,
        zeroWindows,
      },
      head: [
        `Direction: ${from} (the side that sent the most payload); a point per data segment at its relative sequence number; zero windows from the other side at the ack number they announced.`,
        `Segments: ${mine.segments.count} (${mine.payload} bytes of payload), retransmissions: ${mine.retransmissions.count}, zero windows: ${zeroWindows}.`,
      ],
    };
  }

  private async rtt(req: PlotRequest, warnings: Set<string>, signal?: AbortSignal): Promise<Drawn> {
    const spread = new Spread(PLOT_LIMITS.exactMedian);
    const directions = new Map<string, Envelope<RttPoint>>();
    await this.streamPass(
      req,
      'tcp.analysis.ack_rtt',
      warnings,
      (r) => {
        // The ack's sender measured the data sent the other way: label by the data's direction.
        const direction = `acks from ${r.sender}`;
        const rttMs = Number(((r.ackRtt ?? 0) * 1000).toFixed(3));
        spread.add(rttMs);
        let line = directions.get(direction);
        if (!line) directions.set(direction, (line = envelope((p) => p.rttMs)));
        line.add({ frame: r.frame, time: r.time, direction, rttMs });
        return 'continue';
      },
      signal,
    );
    if (spread.n === 0)
      throw new UserError(
        `TCP stream ${req.stream} of ${req.source.label} has no acknowledgement with a round-trip time (tcp.analysis.ack_rtt)${req.displayFilter ? ' that matches the display filter' : ''}, or there is no such stream. Stream indexes start at 0; inspect_protocol {"kind": "tcp_health"} lists the streams.`,
      );
    const lines = [...directions.values()];
    const points = lines.flatMap((line) => line.items()).sort((a, b) => a.frame - b.frame);
    const median = spread.median();
    const mean = Number(spread.mean.toFixed(3));
    const title = `Round-trip times of TCP stream ${req.stream} of ${req.source.label}`;
    return {
      title,
      png: await streamLines(
        `TCP stream ${req.stream}: round-trip time (data to its ack)`,
        'round-trip time (ms)',
        points.map((p) => ({ x: p.time, y: p.rttMs, series: p.direction })),
      ),
      columns: ['frame', 'time', 'direction', 'rttMs'],
      rows: points.map((p) => ({ ...p })),
      total: spread.n,
      ...(lines.some((line) => line.thinned)
        ? {
            thinning: `the lowest and highest round-trip time in each of ${PLOT_LIMITS.columns} time columns per direction (the outline all ${spread.n} draw)`,
          }
        : {}),
      counts: { acks: spread.n, minMs: spread.min, meanMs: mean, maxMs: spread.max },
      head: [
        `RTT (tcp.analysis.ack_rtt) in ms: min ${spread.min}, median ${median.approximate ? `about ${Number(median.value.toFixed(3))} (within 1 %)` : median.value}, mean ${mean}, max ${spread.max} over ${spread.n} acks.`,
      ],
    };
  }

  private async throughput(req: PlotRequest, warnings: Set<string>, signal?: AbortSignal): Promise<Drawn> {
    const given = req.interval ?? PLOT_DEFAULTS.interval;
    const sums = new BucketSums(given, PLOT_LIMITS.buckets);
    const bytes = new Map<string, number>();
    let tooLong = false;
    await this.streamPass(
      req,
      undefined,
      warnings,
      (r) => {
        const direction = `from ${r.sender}`;
        bytes.set(direction, (bytes.get(direction) ?? 0) + r.len);
        if (sums.add(r.time, direction, r.len)) return 'continue';
        tooLong = true;
        return 'stop';
      },
      signal,
    );
    if (tooLong)
      throw new UserError(
        `An interval of ${given} s cuts this stream into more than ${PLOT_LIMITS.buckets} buckets (it lasts at least ${sums.span.toFixed(3)} s); give a longer interval or "auto".`,
      );
    const { interval, rows } = sums.result();
    const points = rows.map((s) => ({
      start: Number((s.start + sums.start).toFixed(6)),
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
      total: points.length,
      counts: Object.fromEntries([...bytes].sort()),
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
    // One line more than asked for tells whether there are more; then tshark is stopped, so at
    // most MAX_FLOW_PACKETS + 1 lines are ever held.
    const all: string[][] = [];
    await this.tshark(
      req,
      {
        displayFilter: filter || undefined,
        fields: FLOW_FIELDS,
        tail: firstOccurrenceFieldArgs(FLOW_FIELDS),
        numeric: true,
        warnings,
        onLine: (cells) => {
          if (cells[0]) all.push(cells);
          return all.length > limit ? 'stop' : 'continue';
        },
      },
      signal,
    );
    const more = all.length > limit;
    const messages: FlowMessage[] = all.slice(0, limit).map(([frame, time, from, to, protocol, info]) => ({
      frame: num(frame) ?? 0,
      time: num(time) ?? 0,
      from: from || '?',
      to: to || '?',
      protocol: protocol ?? '',
      info: info ?? '',
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
      total: messages.length,
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

/** A row of STREAM_FIELDS, read. */
interface StreamRow {
  readonly frame: number;
  readonly time: number;
  /** The sending endpoint: address and port. */
  readonly sender: string;
  readonly seq: number;
  readonly len: number;
  readonly ack: number;
  readonly retransmission: boolean;
  readonly zeroWindow: boolean;
  readonly ackRtt: number | undefined;
}

function streamRow(cells: readonly string[]): StreamRow {
  const [frame, time, ip, ip6, port, seq, len, ack, retransmission, zeroWindow, ackRtt] = cells;
  return {
    frame: num(frame) ?? 0,
    time: num(time) ?? 0,
    sender: ip6 ? `[${ip6}]:${port ?? ''}` : `${ip ?? ''}:${port ?? ''}`,
    seq: num(seq) ?? 0,
    len: num(len) ?? 0,
    ack: num(ack) ?? 0,
    retransmission: Boolean(retransmission),
    zeroWindow: Boolean(zeroWindow),
    ackRtt: num(ackRtt),
  };
}

interface StreamPoint {
  frame: number;
  time: number;
  seq: number;
  len: number;
  mark: string;
}

interface RttPoint {
  frame: number;
  time: number;
  direction: string;
  rttMs: number;
}

/** What one side of a TCP stream sent, folded as it streams (tcp_stream). */
interface StreamSide {
  payload: number;
  readonly segments: Envelope<StreamPoint>;
  readonly retransmissions: EvenSample<StreamPoint>;
  readonly zeroWindows: EvenSample<StreamPoint>;
}

function streamSide(): StreamSide {
  return {
    payload: 0,
    segments: envelope((p) => p.seq),
    retransmissions: new EvenSample(PLOT_LIMITS.markers),
    zeroWindows: new EvenSample(PLOT_LIMITS.markers),
  };
}

/** A stream's points over time, thinned past PLOT_LIMITS.rawPoints to each column's extremes of `value`. */
function envelope<T extends { time: number }>(value: (item: T) => number): Envelope<T> {
  return new Envelope<T>({
    raw: PLOT_LIMITS.rawPoints,
    columns: PLOT_LIMITS.columns,
    time: (p) => p.time,
    value,
  });
}

/** "every retransmission (3)", or "1000 of the 5000 retransmissions, evenly spaced by count" (EvenSample's). */
function markerShare(kept: number, count: number, name: string): string {
  if (count === 0) return `no ${name}`;
  if (kept === count) return `every ${name} (${count})`;
  return `${kept} of the ${count} ${name}s, evenly spaced by count`;
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function cell(v: string | number | null | undefined): string {
  if (v === null || v === undefined || v === '') return '-';
  return String(v).replace(/[\t\n]/g, ' ');
}
