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
import { mergeConversations } from './conversations.js';
import type { PassOutput, SummaryCall } from './pass.js';
import { mergeStatistics } from './stats.js';
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

export async function assembleSummary(
  call: SummaryCall,
  facts: CaptureFacts,
  outputs: readonly PassOutput[],
  limitsRead: LimitsRead,
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
  return combine(call, before, outputs, warnings, limitsRead);
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
  outputs: readonly PassOutput[],
  warnings: Set<string>,
  limitsRead: LimitsRead,
): CaptureSummary {
  const { request, processes } = call;
  if (request.live) warnings.add(LIVE_NOTE);
  if (outputs.some((o) => o.result.timedOut))
    warnings.add(
      `tshark was stopped after ${Math.round(request.timeoutMs / 1000)} s; the statistics are incomplete.`,
    );
  if (outputs.some((o) => o.result.stoppedEarly))
    warnings.add('The statistics were larger than 64 MB of text; the summary covers what was read.');

  const stats = mergeStatistics(outputs.map((o) => o.stats));
  const conversations = mergeConversations(
    outputs.map((o) => o.parts),
    outputs[0]?.firstTime,
  );
  // Ties are broken by name, so that the answer does not depend on tshark's table order.
  const topByBytes = <T extends { kind: string; bytes: number }>(
    items: readonly T[],
    name: (item: T) => string,
  ): T[] => {
    // Each item's name made once, not at each comparison: sorting 110,000 conversations made
    // millions of names, a second of the server's CPU.
    const byKind = new Map<string, { item: T; name: string }[]>(KIND_ORDER.map((k) => [k, []]));
    for (const item of items) byKind.get(item.kind)?.push({ item, name: name(item) });
    return [...byKind.values()].flatMap((list) =>
      list
        .sort((x, y) => y.item.bytes - x.item.bytes || byName(x.name, y.name))
        .slice(0, request.topN)
        .map((d) => d.item),
    );
  };
  const countByKind = (items: readonly { kind: string }[]): Record<string, number> => {
    const counts: Record<string, number> = {};
    for (const c of items) counts[c.kind] = (counts[c.kind] ?? 0) + 1;
    return counts;
  };
  const conversationCounts = countByKind(conversations);
  // Packet times are kept as text; milliseconds are all the sampler's times have.
  const originMs = Number(outputs[0]?.firstTime ?? 0) * 1000;
  const top = topByBytes(conversations, (c) => `${c.a} ${c.b}`);
  const expertCounts = Object.fromEntries(SEVERITY_ORDER.map((s) => [s, 0])) as Record<Severity, number>;
  for (const e of stats.expert) expertCounts[e.severity] += e.count;
  const expertName = (e: ExpertEntry): string => `${e.protocol}\t${e.group}\t${e.summary}`;
  const expertTop = stats.expert
    .map((e) => ({ e, rank: SEVERITY_ORDER.indexOf(e.severity), name: expertName(e) }))
    .sort((x, y) => x.rank - y.rank || y.e.count - x.e.count || byName(x.name, y.name))
    .slice(0, request.topN)
    .map((d) => d.e);
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
    endpoints: topByBytes(stats.endpoints, (e) => e.address),
    endpointCounts: countByKind(stats.endpoints),
    expertCounts,
    expertTop,
    expertMessages: stats.expert.length,
    ...(processes && {
      processes: processes.summarize(conversations, originMs, request.topN),
    }),
    warnings: [...warnings],
  };
}

/** Names in code-unit order (as `<` orders strings). */
function byName(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}
