// The passes of one summary combined into its answer: what tshark said of the file (damage, a cut
// short end) as warnings, the ranges' statistics and conversations added up exactly, and the top
// entries of each kind.
import { mkdtemp, open, rm } from 'node:fs/promises';
import path from 'node:path';
import { abortError } from '../../errors.js';
import type { CaptureFacts } from '../../wireshark/capinfos.js';
import { feedFifo, makeFifo } from '../../wireshark/fifo.js';
import { LIVE_NOTE } from '../analyze-capture.js';
import { addPacketLimits, captureLimits } from '../capture-limits.js';
import { readOutcome } from '../damage.js';
import type { Damage } from '../damage.js';
import { ConversationFold, conversationOf } from './conversations.js';
import type { PassOutput, SummaryCall } from './pass.js';
import { StatisticsFold } from './stats.js';
import { assembleStreamsSoon } from '../index/stream-assembly.js';
import type { Assembled, PendingStreams, RangeStreams } from '../index/stream-assembly.js';
import type { CaptureSummary, ConversationKind, ExpertEntry, Severity } from './types.js';

const SEVERITY_ORDER: Severity[] = ['error', 'warning', 'note', 'chat', 'comment'];
const KIND_ORDER: ConversationKind[] = ['tcp', 'udp', 'ipv4', 'ipv6'];
/** tshark's expert message for tcp.analysis.ack_lost_segment. */
const ACKED_UNSEEN = "ACKed segment that wasn't captured";

/**
 * The summary of what the passes read. capinfos gives no facts at all for a file damaged part-way
 * (only for one cut short): its facts are then those of the part before the damage.
 */
/** What the summary learnt of the capture's limits beside its passes. */
export interface LimitsRead {
  readonly droppedByInterface: number | undefined;
  /** Bad checksums by sender; undefined when they were not checked. */
  readonly badChecksums: ReadonlyMap<string, number> | undefined;
  readonly checksumsNotChecked?: string | undefined;
}

/**
 * The passes' conversations and statistics, joined in range order as each range is read: a range
 * is folded once every range before it is, so that once the last range is read only its own parts
 * are left to join (joining 110,000 conversations and 100,000 endpoints of four ranges took the
 * server a third of a second after tshark was done).
 */
export class PassFold {
  readonly stats = new StatisticsFold();
  readonly conversations = new ConversationFold();
  private readonly waiting = new Map<number, { output: PassOutput; data: FoldData }>();
  private readonly folded: PassOutput[] = [];
  /** No range past this one is folded: a range that met damage is the last one counted. */
  private last = Number.POSITIVE_INFINITY;
  /** The streams the ranges recorded, in order, up to the first that did not record them. */
  private readonly streamRanges: RangeStreams[] = [];
  private streamsEnded = false;

  /**
   * Range `index`'s output, folded when the ranges before it are. Its conversations, statistics and
   * streams may be given apart (`data`), from an output that no longer holds them (lightOf), so
   * that a summary does not hold each range's tables twice.
   */
  add(index: number, output: PassOutput, data: FoldData = output): void {
    this.waiting.set(index, { output, data });
    for (let next = this.folded.length; next <= this.last; next = this.folded.length) {
      const w = this.waiting.get(next);
      if (!w) break;
      this.waiting.delete(next);
      this.folded.push(w.output);
      this.stats.add(w.data.stats);
      this.conversations.add(w.data.parts);
      if (!w.data.streams) this.streamsEnded = true;
      else if (!this.streamsEnded) this.streamRanges.push(w.data.streams);
    }
  }

  /** Ranges past `index` are not counted. */
  lastRange(index: number): void {
    this.last = Math.min(this.last, index);
  }

  /** The outputs folded, in range order. */
  outputs(): readonly PassOutput[] {
    return this.folded;
  }

  /**
   * The streams of the ranges folded, up to the first that did not record them, made into the
   * stream index when it is first needed; undefined when the first did not record them.
   */
  streams(): PendingStreams | undefined {
    const ranges = this.streamRanges;
    if (ranges.length === 0) return undefined;
    let made: Promise<Assembled> | undefined;
    return {
      bytes: ranges.reduce((n, r) => n + 2 * r.frames.byteLength, 0),
      // Once, for callers that ask at the same time.
      assemble: () => (made ??= assembleStreamsSoon(ranges)),
    };
  }

  /** This fold with `outputs` all in it; a fresh one where it holds others. */
  of(outputs: readonly PassOutput[]): PassFold {
    const held = this.folded.length <= outputs.length && this.folded.every((o, i) => o === outputs[i]);
    // A light output's tables are in the fold that took them only: never folded again without them.
    if (!held && outputs.some((o) => LIGHT.has(o)))
      throw new Error('internal: a summary range was folded out of order; its tables are gone');
    const fold = held ? this : new PassFold();
    for (let i = fold.folded.length; i < outputs.length; i++) fold.add(i, outputs[i] as PassOutput);
    return fold;
  }
}

/** What a fold takes of a range's output. */
type FoldData = Pick<PassOutput, 'parts' | 'stats' | 'streams'>;

const LIGHT = new WeakSet<PassOutput>();
const NO_STATS = { protocols: [], endpoints: [], expert: [] };

/** `output` without its conversations, statistics and streams, which go to a PassFold apart. */
export function lightOf(output: PassOutput): PassOutput {
  const light: PassOutput = { ...output, parts: [], stats: NO_STATS, streams: undefined };
  LIGHT.add(light);
  return light;
}

export async function assembleSummary(
  call: SummaryCall,
  facts: CaptureFacts,
  outputs: readonly PassOutput[],
  limitsRead: LimitsRead,
  /** The outputs' conversations and statistics, joined as they were read. */
  fold?: PassFold,
): Promise<CaptureSummary> {
  const { request } = call;
  const warnings = new Set<string>();
  let damage: Damage | undefined;
  for (const o of outputs) {
    if (o.result.stderr === '') continue;
    const read = await readOutcome(
      call.group,
      call.tools,
      {
        stderr: o.result.stderr,
        file: request.file,
        live: request.live === true,
        knownPackets: facts.packets,
      },
      call.signal,
    );
    for (const w of read.warnings) warnings.add(w);
    if (read.other !== undefined) warnings.add(`tshark said: ${read.other}`);
    damage ??= read.damage;
  }
  const before =
    damage?.kind === 'damaged' && facts.packets === undefined ? await factsBefore(call, damage) : facts;
  return combine(call, before, (fold ?? new PassFold()).of(outputs), warnings, limitsRead);
}

/** capinfos's facts of the bytes before the damage, fed through a FIFO (no copy of the file). */
async function factsBefore(call: SummaryCall, damage: Damage): Promise<CaptureFacts> {
  const known: CaptureFacts = {
    fileType: undefined,
    encapsulation: undefined,
    packets: damage.packets,
    fileBytes: damage.size,
    dataBytes: undefined,
    durationSeconds: undefined,
    firstPacketTime: undefined,
    lastPacketTime: undefined,
    interfaces: [],
  };
  if (damage.offset === undefined) return known;
  const dir = await mkdtemp(path.join(await call.workDir(), 'damaged-'));
  try {
    const fifo = path.join(dir, 'before-damage');
    try {
      await makeFifo(fifo);
    } catch {
      return known; // no FIFOs here
    }
    const handle = await open(call.request.file, 'r');
    try {
      const feed = feedFifo(fifo, Buffer.alloc(0), handle, 0, damage.offset);
      try {
        const facts = await call.readFacts(fifo);
        if (call.signal?.aborted) throw abortError();
        // Counted as capinfos would have, had it read on: the file is the whole file.
        return facts.packets === damage.packets ? { ...facts, fileBytes: damage.size } : known;
      } finally {
        feed.stop();
        await feed.done;
      }
    } finally {
      await handle.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function combine(
  call: SummaryCall,
  facts: CaptureFacts,
  fold: PassFold,
  warnings: Set<string>,
  limitsRead: LimitsRead,
): CaptureSummary {
  const { request, processes } = call;
  const outputs = fold.outputs();
  if (request.live) warnings.add(LIVE_NOTE);
  if (outputs.some((o) => o.result.timedOut))
    warnings.add(
      `tshark was stopped after ${Math.round(request.timeoutMs / 1000)} s; the statistics are incomplete.`,
    );
  if (outputs.some((o) => o.result.stoppedEarly))
    warnings.add('The statistics were larger than 64 MB of text; the summary covers what was read.');

  const stats = fold.stats.result();
  const parts = fold.conversations.parts();
  const origin = outputs[0]?.firstTime;
  const countByKind = (items: readonly { kind: string }[]): Record<string, number> => {
    const counts: Record<string, number> = {};
    for (const c of items) counts[c.kind] = (counts[c.kind] ?? 0) + 1;
    return counts;
  };
  const conversationCounts = countByKind(parts);
  // Packet times are kept as text; milliseconds are all the sampler's times have.
  const originMs = Number(origin ?? 0) * 1000;
  // A capture with packets from several interfaces (a merged capture of several hosts): where each
  // conversation was seen. One host's packets alone (summarize_capture's host) need no such word.
  const interfaces =
    facts.interfaces.filter((i) => i.packets === undefined || i.packets > 0).length > 1
      ? facts.interfaces.map((i, id) => i.name ?? i.description ?? `interface ${id}`)
      : undefined;
  const top = topByBytes(parts, request.topN, (c) => `${c.a} ${c.b}`).map((p) =>
    conversationOf(p, origin, interfaces),
  );
  const expertCounts = Object.fromEntries(SEVERITY_ORDER.map((s) => [s, 0])) as Record<Severity, number>;
  for (const e of stats.expert) expertCounts[e.severity] += e.count;
  const expertName = (e: ExpertEntry): string => `${e.protocol}\t${e.group}\t${e.summary}`;
  const expertRank = (e: ExpertEntry): number => SEVERITY_ORDER.indexOf(e.severity);
  const expertTop = topEntries(
    stats.expert,
    request.topN,
    (x, y) => expertRank(x) - expertRank(y) || y.count - x.count || byName(expertName(x), expertName(y)),
  );
  const snaplens = facts.interfaces.flatMap((i) => (i.snaplen === undefined ? [] : [i.snaplen]));
  const limits = captureLimits({
    droppedByDumpcap: request.droppedByDumpcap,
    droppedByInterface: limitsRead.droppedByInterface,
    ackedUnseen: stats.expert
      .filter((e) => e.protocol === 'TCP' && e.summary.startsWith(ACKED_UNSEEN))
      .reduce((sum, e) => sum + e.count, 0),
    packets: addPacketLimits(outputs.map((o) => o.limits)),
    snaplen: snaplens.length > 0 ? Math.min(...snaplens) : undefined,
    badChecksums: limitsRead.badChecksums,
    checksumsNotChecked: limitsRead.checksumsNotChecked,
    hostAddresses: request.hostAddresses ?? [],
  });
  return {
    facts,
    limits,
    protocols: stats.protocols,
    conversations: processes
      ? top.map((c) => {
          const label = processes.label(c, originMs);
          return label === undefined ? c : { ...c, processes: label };
        })
      : top,
    conversationCounts,
    endpoints: topByBytes(stats.endpoints, request.topN, (e) => e.address),
    endpointCounts: countByKind(stats.endpoints),
    expertCounts,
    expertTop,
    expertMessages: stats.expert.length,
    ...(processes && {
      processes: processes.summarize(
        parts.map((p) => conversationOf(p, origin)),
        originMs,
        request.topN,
      ),
    }),
    warnings: [...warnings],
  };
}

/**
 * The first `n` items of each kind (in KIND_ORDER) by bytes, ties broken by name, so that the
 * answer does not depend on tshark's table order. Names are made only for ties.
 */
function topByBytes<T extends { kind: string; bytes: number }>(
  items: readonly T[],
  n: number,
  name: (item: T) => string,
): T[] {
  const byKind = new Map<string, T[]>(KIND_ORDER.map((k) => [k, []]));
  for (const item of items) byKind.get(item.kind)?.push(item);
  return [...byKind.values()].flatMap((list) =>
    topEntries(list, n, (x, y) => y.bytes - x.bytes || byName(name(x), name(y))),
  );
}

/**
 * The first `n` of `items` in the order `compare` gives, as a stable sort and a slice would give
 * them, kept in one pass: sorting 110,000 conversations to show ten took a fifth of a second.
 */
export function topEntries<T>(items: readonly T[], n: number, compare: (x: T, y: T) => number): T[] {
  const top: T[] = [];
  if (n <= 0) return top;
  for (const item of items) {
    const worst = top[top.length - 1];
    // An item that ties with the last kept one comes after it, as in a stable sort.
    if (top.length === n && worst !== undefined && compare(item, worst) >= 0) continue;
    // After the last kept item it does not come before.
    let lo = 0;
    let hi = top.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compare(item, top[mid] as T) < 0) hi = mid;
      else lo = mid + 1;
    }
    top.splice(lo, 0, item);
    if (top.length > n) top.pop();
  }
  return top;
}

/** Names in code-unit order (as `<` orders strings). */
function byName(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}
