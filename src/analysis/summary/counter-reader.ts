// Reads the summary counter's output (native/summary-counter.c, loaded into tshark by its Lua
// script): the lines between COUNTER_BEGIN and COUNTER_END, which the counter prints once tshark has
// read every packet. Pure: lines in, the pass's conversations, statistics and facts out.
import type { RangeFacts, Stamp } from '../../wireshark/capinfos.js';
import type { PacketLimits } from '../capture-limits.js';
import { tupleOf } from './conversations.js';
import { CounterStreams } from './streams.js';
import type { ConversationPart, Instant } from './conversations.js';
import type { ConversationKind, Endpoint, ExpertEntry, ProtocolNode, Severity } from './types.js';

/** The first and last lines of the summary counter's output (native/summary-counter.c). */
export const COUNTER_BEGIN = 'SHARKMCP-SUMMARY 1';
export const COUNTER_END = 'SHARKMCP-SUMMARY END';

/**
 * Reads the counter's lines (between COUNTER_BEGIN and COUNTER_END): the same conversation parts
 * as ConversationAggregator makes from per-packet lines, and the same protocol hierarchy, endpoints
 * and expert messages as tshark's `-z io,phs`, `-z endpoints,…` and `-z expert`, added up inside
 * tshark.
 */
export class CounterReader {
  private readonly parts: ConversationPart[] = [];
  readonly endpoints: Endpoint[] = [];
  readonly protocols: ProtocolNode[] = [];
  readonly expert: ExpertEntry[] = [];
  firstTime: Instant | undefined;
  /** Snapshot-length cuts, time going backwards, duplicates (undefined from an older counter). */
  limits: PacketLimits | undefined;
  /** Packets whose headers the counter could not see in full; its parts are not exact then. */
  incomplete = 0;
  ended = false;
  /** The decode-as hints' scan: its lines (decode-hints.ts's SCAN_FIELDS), when it was asked for. */
  readonly hintLines: string[] = [];
  /** The stream index's lines; its frames are in the file the counter wrote. */
  readonly streams = new CounterStreams();
  private counts: Omit<RangeFacts, 'interfaces'> | undefined;
  private readonly interfaces = new Map<number, number>();

  /** What capinfos would count over the records this pass counted. */
  facts(): RangeFacts | undefined {
    return this.counts && { ...this.counts, interfaces: this.interfaces };
  }

  add(line: string): void {
    if (line.startsWith('hint\t')) {
      this.hintLines.push(line.slice(5));
      return;
    }
    if (this.streams.add(line)) return;
    // The lines there are one of for each conversation, endpoint and expert message are read field
    // by field, without splitting them (a third of the server's work on a million short connections).
    const f = this.fields;
    if (line.startsWith('part\t')) keep(this.parts, f.of(line, 5), part);
    else if (line.startsWith('endpoint\t')) keep(this.endpoints, f.of(line, 9), endpoint);
    else if (line.startsWith('expert\t')) keep(this.expert, f.of(line, 7), expert);
    else this.other(line.split('\t'));
  }

  private readonly fields = new Fields();

  private other(f: readonly string[]): void {
    if (f[0] === 'first') this.firstTime = f[1];
    else if (f[0] === 'facts' && f.length >= 4) {
      const stamp = (at: number): Stamp | undefined =>
        f.length >= at + 4
          ? { secs: Number(f[at]), nsecs: Number(f[at + 1]), prec: Number(f[at + 2]), text: f[at + 3] ?? '' }
          : undefined;
      this.counts = {
        packets: Number(f[1]),
        dataBytes: Number(f[2]),
        allTimes: f[3] === '1',
        start: stamp(4),
        stop: stamp(8),
      };
    } else if (f[0] === 'interface' && f.length >= 3) this.interfaces.set(Number(f[1]), Number(f[2]));
    else if (f[0] === 'limits' && f.length >= 4)
      this.limits = { cut: Number(f[1]), backwards: Number(f[2]), duplicates: Number(f[3]) };
    else if (f[0] === 'incomplete') this.incomplete = Number(f[1]) || 0;
    else if (f[0] === 'protocol' && f.length >= 4) {
      const path = f[1] ?? '';
      const names = path.split(':');
      this.protocols.push({
        path,
        protocol: names[names.length - 1] ?? '',
        depth: names.length - 1,
        frames: Number(f[2]),
        bytes: Number(f[3]),
      });
    }
  }

  result(): ConversationPart[] {
    return this.parts;
  }
}

/** The tab-separated fields of one line, read in turn (one reader for every line). */
class Fields {
  private line = '';
  private at = 0;
  /** A field was missing. */
  private short = false;

  of(line: string, from: number): this {
    [this.line, this.at, this.short] = [line, from, false];
    return this;
  }

  text(): string {
    const { line, at } = this;
    if (at > line.length) {
      this.short = true;
      return '';
    }
    const tab = line.indexOf('\t', at);
    const end = tab < 0 ? line.length : tab;
    this.at = end + 1;
    return line.slice(at, end);
  }

  /** A count: decimal digits, read without making a string of them. */
  number(): number {
    const { line, at } = this;
    let n = 0;
    let i = at;
    for (; i < line.length; i++) {
      const c = line.charCodeAt(i);
      if (c === 9) break;
      if (c < 48 || c > 57) return this.numberOf(this.text(), at);
      n = n * 10 + (c - 48);
    }
    if (i === at && at > line.length) this.short = true;
    this.at = i + 1;
    return n;
  }

  /** Whether the line has another field. */
  more(): boolean {
    return this.at <= this.line.length;
  }

  /** Whether every field read was there. */
  complete(): boolean {
    return !this.short;
  }

  /** Anything but digits, as Number reads it (the counter prints none). */
  private numberOf(text: string, at: number): number {
    if (at > this.line.length) this.short = true;
    return Number(text);
  }
}

/** What `read` makes of the fields, kept when every field was there. */
function keep<T>(list: T[], f: Fields, read: (f: Fields) => T): void {
  const item = read(f);
  if (f.complete()) list.push(item);
}

function part(f: Fields): ConversationPart {
  const kind = f.text() as ConversationKind;
  const a = f.text();
  const b = f.text();
  return {
    kind,
    tuple: tupleOf(kind, a, b),
    a,
    b,
    aAddress: f.text(),
    aPort: f.text(),
    framesAToB: f.number(),
    framesBToA: f.number(),
    bytes: f.number(),
    first: f.text(),
    last: f.text(),
    continues: f.text() === '1',
    // A counter built before it told interfaces: every packet on the first.
    ifaces: f.more() ? f.number() : 1,
  };
}

function endpoint(f: Fields): Endpoint {
  return {
    kind: f.text() as ConversationKind,
    address: f.text(),
    packets: f.number(),
    bytes: f.number(),
    txBytes: f.number(),
    rxBytes: f.number(),
  };
}

function expert(f: Fields): ExpertEntry {
  return {
    severity: f.text() as Severity,
    group: f.text(),
    protocol: f.text(),
    // As the statistics parser reads tshark's own table: without the "\r\n" that ends a line.
    summary: f.text().replace(/\\r\\n$/, ''),
    count: f.number(),
  };
}
