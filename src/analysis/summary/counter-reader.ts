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
    const f = line.split('\t');
    if (this.streams.add(f)) return;
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
    } else if (f[0] === 'expert' && f.length >= 6) {
      this.expert.push({
        severity: f[1] as Severity,
        group: f[2] ?? '',
        protocol: f[3] ?? '',
        // As the statistics parser reads tshark's own table: without the "\r\n" that ends a line.
        summary: (f[4] ?? '').replace(/\\r\\n$/, ''),
        count: Number(f[5]),
      });
    } else if (f[0] === 'endpoint' && f.length >= 7) {
      this.endpoints.push({
        kind: f[1] as ConversationKind,
        address: f[2] ?? '',
        packets: Number(f[3]),
        bytes: Number(f[4]),
        txBytes: Number(f[5]),
        rxBytes: Number(f[6]),
      });
    } else if (f[0] === 'part' && f.length >= 12) {
      const kind = f[1] as ConversationKind;
      const a = f[2] ?? '';
      const b = f[3] ?? '';
      this.parts.push({
        kind,
        tuple: tupleOf(kind, a, b),
        a,
        b,
        aAddress: f[4] ?? '',
        aPort: f[5] ?? '',
        framesAToB: Number(f[6]),
        framesBToA: Number(f[7]),
        bytes: Number(f[8]),
        first: f[9] ?? '',
        last: f[10] ?? '',
        continues: f[11] === '1',
      });
    }
  }

  result(): ConversationPart[] {
    return this.parts;
  }
}
