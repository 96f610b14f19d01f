// Each frame's TCP and UDP stream as one pass of a summary numbered them, for the stream index
// (../index/stream-assembly.ts maps the ranges' numbers to the whole file's). With the summary
// counter, tshark writes the frames' streams to a file (two int32 a frame) and prints each stream's
// ends and base sequence numbers; without it, they come from the per-packet lines. Memory: 8 bytes
// a frame while the summary runs, and a line of text a stream.
import { readFile } from 'node:fs/promises';
import { endsOf } from '../index/stream-assembly.js';
import type { BaseSeq, RangeStream, RangeStreams } from '../index/stream-assembly.js';
import { NO_STREAM } from '../index/stream-index.js';
import type { StreamKind } from '../index/stream-index.js';

/** Per-packet columns the streams need beside PACKET_COLUMNS (./conversations.ts). */
export const STREAM_COLUMNS = ['tcp.seq_raw', 'tcp.ack_raw'] as const;

const SYN = 0x002;
const ACK = 0x010;

type Syn = { readonly from: string; readonly seq: number };

/** What a pass learnt of its streams, beside each frame's numbers. */
class StreamNotes {
  readonly streams: Record<StreamKind, Map<number, { ends: string; bases: BaseSeq[]; external: boolean }>> = {
    tcp: new Map(),
    udp: new Map(),
  };
  readonly syns = new Map<number, Syn>();
  /** Frames with two TCP or two UDP headers (tunnels): a whole-file pass prints two numbers. */
  more = 0;
  /** Frames whose ends are not those of their stream (a conversation with wildcards). */
  shared = 0;
  /** Frames with a TCP or UDP header cut short before its stream was told (the counter's). */
  untold = 0;

  result(frames: Int32Array, warmup: number): RangeStreams {
    const inexact =
      this.more > 0
        ? `${this.more} frames have two TCP or UDP headers`
        : this.shared > 0
          ? `${this.shared} frames do not have their stream's ends`
          : this.untold > 0
            ? `${this.untold} frames have a TCP or UDP header cut short before its stream was told`
            : undefined;
    const streams = this.streams as Record<StreamKind, ReadonlyMap<number, RangeStream>>;
    return { frames, warmup, streams, syns: this.syns, inexact };
  }
}

/**
 * The summary counter's stream lines (native/summary-counter.c): "stream", "syn" and "streams"; the
 * frames come from the file it wrote. A summary records them for the stream index that the first
 * drill-down needing one makes: the "stream" and "syn" lines are kept as they came and read only
 * then (reading 110,000 streams cost a summary half a second of the server's CPU and 100 MB).
 */
export class CounterStreams {
  /** Frames the counter wrote; undefined until its "streams" line. */
  written: number | undefined;
  private readonly notes = new StreamNotes();
  private readonly lines: string[] = [];

  /** A line of the counter's output; false when it is not about streams. */
  add(line: string): boolean {
    if (line.startsWith('stream\t') || line.startsWith('syn\t')) this.lines.push(line);
    else if (line.startsWith('streams\t')) {
      const f = line.split('\t');
      this.written = Number(f[1]);
      this.notes.more = Number(f[2]);
      this.notes.shared = Number(f[3]);
      this.notes.untold = Number(f[4] ?? 0);
    } else return false;
    return true;
  }

  /**
   * The frames' streams, read from the counter's file; undefined when it did not finish it. Its
   * streams and SYNs are read from the kept lines when first asked for.
   */
  async read(file: string, warmup: number): Promise<RangeStreams | undefined> {
    if (this.written === undefined) return undefined;
    const bytes = await readFile(file);
    if (bytes.length !== this.written * 8) return undefined;
    // A Buffer from a small read may start anywhere in a shared pool: copied to align it.
    const frames =
      bytes.byteOffset % 4 === 0
        ? new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4)
        : new Int32Array(new Uint8Array(bytes).buffer);
    const { notes, lines } = this;
    const inexact = notes.result(frames, warmup).inexact;
    let read: StreamNotes | undefined;
    const of = (): StreamNotes => (read ??= readLines(lines, frames));
    return {
      frames,
      warmup,
      inexact,
      get streams() {
        return of().streams as RangeStreams['streams'];
      },
      get syns() {
        return of().syns;
      },
    };
  }
}

/** The streams and SYNs of the counter's "stream" and "syn" lines. */
function readLines(lines: readonly string[], frames: Int32Array): StreamNotes {
  const notes = new StreamNotes();
  // TCP streams' two ends as the counter ordered them: a SYN's direction names one of them.
  const tcpEnds = new Map<number, [string, string]>();
  const syns: [number, number, number][] = [];
  for (const line of lines) {
    const f = line.split('\t');
    if (f[0] === 'stream' && f.length >= 9) {
      const lo = f[3] ?? '';
      const hi = f[4] ?? '';
      const bases: BaseSeq[] = [];
      if (f[5] !== '0') bases.push({ from: lo, at: Number(f[5]), base: Number(f[6]) });
      if (f[7] !== '0') bases.push({ from: hi, at: Number(f[7]), base: Number(f[8]) });
      const external = f[9] === '1';
      notes.streams[f[1] === 'tcp' ? 'tcp' : 'udp'].set(Number(f[2]), {
        ends: endsOf(lo, hi),
        bases,
        external,
      });
      if (f[1] === 'tcp') tcpEnds.set(Number(f[2]), [lo, hi]);
    } else if (f[0] === 'syn' && f.length >= 4) syns.push([Number(f[1]), Number(f[2]), Number(f[3])]);
  }
  for (const [frame, dir, seq] of syns) {
    const stream = frames[2 * (frame - 1)] ?? NO_STREAM;
    const ends = tcpEnds.get(stream);
    if (ends) notes.syns.set(frame, { from: ends[dir === 0 ? 0 : 1], seq });
  }
  return notes;
}

/** The first of a field's values, and whether it had more than one. */
function first(s: string | undefined): [string, boolean] {
  if (s === undefined) return ['', false];
  const comma = s.indexOf(',');
  return comma < 0 ? [s, false] : [s.slice(0, comma), true];
}

/** One stream's state as per-packet lines build it: as the counter keeps it. */
interface LineStream {
  ends: string;
  /** Each direction's end, to tell one from the other. */
  a: string;
  b: string;
  bases: BaseSeq[];
  /** Not known from per-packet lines. */
  external: false;
}

/** The same notes and frames from per-packet lines, when the counter is not used. */
export class LineStreams extends StreamNotes {
  private frames = new Int32Array(2 * 1024);
  private count = 0;
  private readonly lines: Record<StreamKind, Map<number, LineStream>> = { tcp: new Map(), udp: new Map() };

  constructor(private readonly warmup: number) {
    super();
  }

  /**
   * One packet: its addresses (the first of each), TCP and UDP streams, ports and flags, and the
   * raw sequence and acknowledgement numbers; `icmp` for an ICMP error quoting a header.
   */
  add(p: {
    /** The IP source and destination columns: one value, or an ICMP error's and the quoted one's. */
    srcs: string;
    dsts: string;
    v4: boolean;
    tcpStream: string | undefined;
    tcpSrc: string | undefined;
    tcpDst: string | undefined;
    tcpFlags: string | undefined;
    seq: string | undefined;
    ack: string | undefined;
    udpStream: string | undefined;
    udpSrc: string | undefined;
    udpDst: string | undefined;
    icmp: boolean;
  }): void {
    if (2 * this.count + 2 > this.frames.length) {
      const grown = new Int32Array(this.frames.length * 2);
      grown.set(this.frames);
      this.frames = grown;
    }
    const frame = ++this.count;
    const [tcp, tcpMore] = first(p.tcpStream);
    const [udp, udpMore] = first(p.udpStream);
    if (tcpMore || udpMore) this.more++;
    this.frames[2 * frame - 2] = tcp === '' ? NO_STREAM : Number(tcp);
    this.frames[2 * frame - 1] = udp === '' ? NO_STREAM : Number(udp);
    // An ICMP error quotes the header its stream is about: the ends are the quoted addresses.
    const srcs = p.srcs.split(',');
    const dsts = p.dsts.split(',');
    const plain = srcs.length === 1 || (p.icmp && srcs.length === 2);
    const src = plain ? (srcs[srcs.length - 1] ?? '') : '';
    const dst = plain ? (dsts[dsts.length - 1] ?? '') : '';
    const name = (address: string, port: string): string =>
      p.v4 ? `${address}:${port}` : `[${address}]:${port}`;
    const see = (
      kind: StreamKind,
      stream: string,
      sport: string | undefined,
      dport: string | undefined,
    ): LineStream | undefined => {
      // The ends of a header inside a tunnel are not the first addresses: not known here.
      if (src === '' || dst === '') {
        this.shared++;
        return undefined;
      }
      const from = name(src, first(sport)[0]);
      const to = name(dst, first(dport)[0]);
      let s = this.lines[kind].get(Number(stream));
      if (!s) {
        s = { ends: endsOf(from, to), a: from, b: to, bases: [], external: false };
        this.lines[kind].set(Number(stream), s);
        this.streams[kind].set(Number(stream), s);
      }
      if (!((s.a === from && s.b === to) || (s.a === to && s.b === from))) {
        this.shared++;
        return undefined;
      }
      return s;
    };
    if (udp !== '') see('udp', udp, p.udpSrc, p.udpDst);
    if (tcp === '') return;
    const s = see('tcp', tcp, p.tcpSrc, p.tcpDst);
    if (!s || p.icmp || frame <= this.warmup) return;
    const from = name(src, first(p.tcpSrc)[0]);
    const to = s.a === from ? s.b : s.a;
    const flags = Number(first(p.tcpFlags)[0]);
    const seq = Number(first(p.seq)[0]);
    const ack = Number(first(p.ack)[0]);
    // tshark's base sequence numbers (its tcp_analyze_sequence_number), as the counter keeps them.
    if (!s.bases.some((b) => b.from === from))
      s.bases.push({ from, at: frame, base: flags & SYN ? seq : (seq - 1) >>> 0 });
    if (flags & ACK && !s.bases.some((b) => b.from === to))
      s.bases.push({ from: to, at: frame, base: (ack - 1) >>> 0 });
    if ((flags & (SYN | ACK)) === SYN) this.syns.set(frame, { from, seq });
  }

  /** A packet's line split in columns: PACKET_COLUMNS, then STREAM_COLUMNS from `at`. */
  addColumns(f: readonly (string | undefined)[], at: number): void {
    const v4 = (f[2] ?? '') !== '';
    this.add({
      srcs: (v4 ? f[2] : f[4]) ?? '',
      dsts: (v4 ? f[3] : f[5]) ?? '',
      v4,
      tcpStream: f[6],
      tcpSrc: f[7],
      tcpDst: f[8],
      tcpFlags: f[9],
      udpStream: f[10],
      udpSrc: f[11],
      udpDst: f[12],
      icmp: (f[13] ?? '') !== '' || (f[14] ?? '') !== '',
      seq: f[at],
      ack: f[at + 1],
    });
  }

  streamsRead(): RangeStreams {
    return this.result(this.frames.slice(0, 2 * this.count), this.warmup);
  }
}
