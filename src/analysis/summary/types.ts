// The summary's domain types: what a summary says of a capture, the request for one, and how a large
// file is shared among tshark workers. What summarize_capture publishes is declared once, as a zod
// schema (the tool's output schema is made of them), and its type is inferred from it.
import type { Dissection } from '../../wireshark/dissection.js';
import * as z from 'zod';
import { captureFactsSchema } from '../../wireshark/capinfos.js';
import { decodeHintSchema } from '../decode-hints.js';
import { captureLimitsSchema } from '../capture-limits.js';
import type { ChunkSizing } from './chunks.js';
import { processSummarySchema } from './processes.js';

const protocolNodeSchema = z.object({
  /** Path from the root, e.g. "eth:ip:tcp:http". */
  path: z.string(),
  protocol: z.string(),
  depth: z.number(),
  frames: z.number(),
  bytes: z.number(),
});
export type ProtocolNode = z.infer<typeof protocolNodeSchema>;

const conversationKindSchema = z.enum(['tcp', 'udp', 'ipv4', 'ipv6']);
export type ConversationKind = z.infer<typeof conversationKindSchema>;

const conversationSchema = z.object({
  kind: conversationKindSchema,
  a: z.string(),
  b: z.string(),
  framesAToB: z.number(),
  framesBToA: z.number(),
  frames: z.number(),
  bytes: z.number(),
  startSeconds: z.number(),
  durationSeconds: z.number(),
  /** The local processes at its ends ("curl[12] ↔ node[34]"), where the capture has a process sidecar. */
  processes: z.string().optional(),
  /**
   * In a capture of several interfaces (a merged capture of several hosts, each its own interface,
   * named after the host): the interfaces its packets were captured on.
   */
  capturedOn: z.array(z.string()).optional(),
  /** TCP and UDP: the flow's Community ID (v1, seed 0), as Zeek, Suricata and Arkime index flows. */
  communityId: z.string().optional(),
});
export type Conversation = z.infer<typeof conversationSchema>;

const endpointSchema = z.object({
  kind: conversationKindSchema,
  /** Address, with ":port" for tcp and udp. */
  address: z.string(),
  packets: z.number(),
  bytes: z.number(),
  txBytes: z.number(),
  rxBytes: z.number(),
});
export type Endpoint = z.infer<typeof endpointSchema>;

const severitySchema = z.enum(['error', 'warning', 'note', 'chat', 'comment']);
export type Severity = z.infer<typeof severitySchema>;

const expertEntrySchema = z.object({
  severity: severitySchema,
  count: z.number(),
  group: z.string(),
  protocol: z.string(),
  summary: z.string(),
});
export type ExpertEntry = z.infer<typeof expertEntrySchema>;

/** What one pass (or the passes added up) read: not published, so a plain type. */
export interface Statistics {
  readonly protocols: ProtocolNode[];
  readonly endpoints: Endpoint[];
  readonly expert: ExpertEntry[];
}

/** The summary of a capture, as summarize_capture publishes it in its structured answer. */
export const captureSummarySchema = z.object({
  facts: captureFactsSchema,
  /** What limits the conclusions: drops, unseen segments, cuts, checksums, time, duplicates. */
  limits: captureLimitsSchema,
  protocols: z.array(protocolNodeSchema),
  /** The topN conversations of each kind, by bytes. */
  conversations: z.array(conversationSchema),
  conversationCounts: z.record(z.string(), z.number()),
  /** The topN endpoints of each kind, by bytes. */
  endpoints: z.array(endpointSchema),
  /** Endpoints of each kind in all, shown or not. */
  endpointCounts: z.record(z.string(), z.number()),
  expertCounts: z.record(z.string(), z.number()),
  /** The topN most frequent expert messages, errors and warnings first. */
  expertTop: z.array(expertEntrySchema),
  /** Distinct expert messages in all, shown in expertTop or not. */
  expertMessages: z.number(),
  /** Conversations and bytes per local process, where the capture has a process sidecar. */
  processes: processSummarySchema.optional(),
  warnings: z.array(z.string()),
  decodeHints: z
    .array(decodeHintSchema)
    .optional()
    .describe(
      'Ports whose payload tshark did not identify but decodes, with the rule, as a protocol: repeat the call with the rules in decodeAs.',
    ),
  decodeHintsCutShort: z
    .string()
    .optional()
    .describe('Why the check for decodeHints covered less than the whole capture.'),
});
export type CaptureSummary = Omit<z.infer<typeof captureSummarySchema>, 'expertCounts'> & {
  /** Every severity, 0 where there is none (published as an open record, as it always was). */
  readonly expertCounts: Readonly<Record<Severity, number>>;
};

export interface SummaryRequest {
  readonly file: string;
  readonly topN: number;
  readonly keylogFile?: string | undefined;
  /** The caller's decode-as rules and preferences. */
  readonly dissection?: Dissection | undefined;
  readonly timeoutMs: number;
  /** A capture still being written: never cut into ranges, and its partial last packet is normal. */
  readonly live?: boolean | undefined;
  /** Packets dumpcap reported dropped, for a finished session of ours. */
  readonly droppedByDumpcap?: number | undefined;
  /** Addresses of the capture host known to the caller (a session's interface's). */
  readonly hostAddresses?: readonly string[] | undefined;
  /** Look for ports tshark did not identify and say which decode-as rule reads them (a pass more). */
  readonly decodeHints?: boolean | undefined;
}

export interface Chunking {
  /** tshark workers at once; 1 reads every file in one pass. */
  readonly workers: number;
  /** Files smaller than this are read in one pass. */
  readonly minFileBytes: number;
  /** Upper bounds of one range; ranges are made even so that every worker gets a share. */
  readonly sizing: ChunkSizing;
}
