// Conversations and bytes per local process, for a capture that has a process sidecar (a capture
// session of this server on Linux, or a copy saved with it): each TCP and UDP conversation's ends
// are matched to the processes that owned them while it ran (processes/attribution.ts), and each
// process is credited once with every conversation it took part in.
import * as z from 'zod';
import { ownerName } from '../../processes/attribution.js';
import type { Attribution, Owner } from '../../processes/attribution.js';
import type { Conversation } from './types.js';

const processRowSchema = z.object({
  pid: z.number(),
  comm: z.string().describe("The kernel's name of the program (at most 15 characters)."),
  user: z.string().nullable(),
  cmdline: z.string().describe('Its command line, cut to a bound.'),
  conversations: z.number().describe('TCP and UDP conversations it owned an end of.'),
  frames: z.number(),
  bytes: z.number(),
});
export type ProcessRow = z.infer<typeof processRowSchema>;

export const processSummarySchema = z.object({
  /** The topN processes by bytes. */
  rows: z.array(processRowSchema),
  /** Processes with at least one conversation, shown or not. */
  total: z.number(),
  /** TCP and UDP conversations with no end matched to a process, and their bytes. */
  unattributedConversations: z.number(),
  unattributedBytes: z.number(),
  /** Conversations with a local end no recorded socket fits ("?"), though the other end has one. */
  unknownLocalEnds: z.number(),
  socketsSeen: z.number().describe('Sockets the sampler recorded while capturing.'),
  socketsOwned: z.number().describe('Of those, the ones whose process was found.'),
  processesSeen: z.number(),
  pollMs: z.number(),
  capped: z.boolean().describe('The recording stopped at its socket cap: later sockets are missing.'),
  complete: z.boolean().describe('False when the recording did not end properly (the server stopped).'),
  cpuPercent: z.number().nullable().describe('CPU the sampling took, in % of one core.'),
  sampledSeconds: z.number().nullable().describe('How long it sampled.'),
  slowedSeconds: z
    .number()
    .describe(
      'How long of that the sampling polled slower than usual to stay within its CPU budget (connections shorter than a slowed poll may have no process).',
    ),
  source: z
    .enum(['wireshark', 'sidecar'])
    .describe(
      "Where the processes come from: Wireshark's own per-packet process information (frame.process.*, dumpcap --process-info, Wireshark 4.7 and later; the sockets, poll and CPU figures are then 0 or null) or this server's socket record beside the capture.",
    ),
});
export type ProcessSummary = z.infer<typeof processSummarySchema>;

/** The two owners of a conversation's ends ("a" first), as matched; undefined where none was. */
export function conversationOwners(
  attribution: Attribution,
  c: Conversation,
  originMs: number,
): [Owner | undefined, Owner | undefined] {
  if (c.kind !== 'tcp' && c.kind !== 'udp') return [undefined, undefined];
  const first = originMs + c.startSeconds * 1000;
  const last = first + c.durationSeconds * 1000;
  return [
    attribution.ownerOf(c.kind, c.a, c.b, first, last),
    attribution.ownerOf(c.kind, c.b, c.a, first, last),
  ];
}

/** "curl[12] ↔ node[34]" for a conversation line; undefined when neither end was matched. */
export function ownersLabel(owners: readonly [Owner | undefined, Owner | undefined]): string | undefined {
  const [a, b] = owners;
  if (!a && !b) return undefined;
  return `${a ? ownerName(a) : '?'} ↔ ${b ? ownerName(b) : '?'}`;
}

/** Every conversation's bytes credited to the processes at its ends; the topN by bytes. */
export function summarizeProcesses(
  attribution: Attribution,
  conversations: readonly Conversation[],
  originMs: number,
  topN: number,
): ProcessSummary {
  const rows = new Map<string, ProcessRow>();
  let unattributedConversations = 0;
  let unattributedBytes = 0;
  let unknownLocalEnds = 0;
  for (const c of conversations) {
    if (c.kind !== 'tcp' && c.kind !== 'udp') continue;
    const owners = new Map<string, Owner>();
    const ends = conversationOwners(attribution, c, originMs);
    for (const o of ends) if (o) owners.set(o.key, o);
    if (owners.size === 0) {
      unattributedConversations++;
      unattributedBytes += c.bytes;
    } else if ((!ends[0] && attribution.isLocal(c.a)) || (!ends[1] && attribution.isLocal(c.b))) {
      unknownLocalEnds++;
    }
    for (const o of owners.values()) {
      let row = rows.get(o.key);
      if (!row) {
        row = {
          pid: o.pid,
          comm: o.comm,
          user: o.user ?? null,
          cmdline: o.cmdline,
          conversations: 0,
          frames: 0,
          bytes: 0,
        };
        rows.set(o.key, row);
      }
      row.conversations++;
      row.frames += c.frames;
      row.bytes += c.bytes;
    }
  }
  const f = attribution.facts;
  return {
    rows: [...rows.values()].sort((x, y) => y.bytes - x.bytes || x.pid - y.pid).slice(0, topN),
    total: rows.size,
    unattributedConversations,
    unattributedBytes,
    unknownLocalEnds,
    socketsSeen: f.sockets,
    socketsOwned: f.ownedSockets,
    processesSeen: f.processes,
    pollMs: f.pollMs,
    capped: f.cappedAt !== undefined,
    complete: f.complete,
    cpuPercent: f.cpuShare === undefined ? null : Math.round(f.cpuShare * 1000) / 10,
    sampledSeconds: f.sampledMs === undefined ? null : Math.round(f.sampledMs / 100) / 10,
    slowedSeconds: Math.round(f.slowedMs / 100) / 10,
    source: 'sidecar',
  };
}
