// The summary's domain types: what a summary says of a capture, the request for one, and how a large
// file is shared among tshark workers.
import type { CaptureFacts } from '../../wireshark/capinfos.js';
import type { ChunkSizing } from './chunks.js';

export interface ProtocolNode {
  /** Path from the root, e.g. "eth:ip:tcp:http". */
  readonly path: string;
  readonly protocol: string;
  readonly depth: number;
  readonly frames: number;
  readonly bytes: number;
}

export type ConversationKind = 'tcp' | 'udp' | 'ipv4' | 'ipv6';

export interface Conversation {
  readonly kind: ConversationKind;
  readonly a: string;
  readonly b: string;
  readonly framesAToB: number;
  readonly framesBToA: number;
  readonly frames: number;
  readonly bytes: number;
  readonly startSeconds: number;
  readonly durationSeconds: number;
}

export interface Endpoint {
  readonly kind: ConversationKind;
  /** Address, with ":port" for tcp and udp. */
  readonly address: string;
  readonly packets: number;
  readonly bytes: number;
  readonly txBytes: number;
  readonly rxBytes: number;
}

export type Severity = 'error' | 'warning' | 'note' | 'chat' | 'comment';

export interface ExpertEntry {
  readonly severity: Severity;
  readonly count: number;
  readonly group: string;
  readonly protocol: string;
  readonly summary: string;
}

export interface Statistics {
  readonly protocols: ProtocolNode[];
  readonly endpoints: Endpoint[];
  readonly expert: ExpertEntry[];
}

export interface CaptureSummary {
  readonly facts: CaptureFacts;
  readonly protocols: readonly ProtocolNode[];
  /** The topN conversations of each kind, by bytes. */
  readonly conversations: readonly Conversation[];
  readonly conversationCounts: Readonly<Record<string, number>>;
  /** The topN endpoints of each kind, by bytes. */
  readonly endpoints: readonly Endpoint[];
  readonly expertCounts: Readonly<Record<Severity, number>>;
  /** The topN most frequent expert messages, errors and warnings first. */
  readonly expertTop: readonly ExpertEntry[];
  readonly warnings: readonly string[];
}

export interface SummaryRequest {
  readonly file: string;
  readonly topN: number;
  readonly keylogFile?: string | undefined;
  readonly timeoutMs: number;
  /** A capture still being written: never cut into ranges, and its partial last packet is normal. */
  readonly live?: boolean | undefined;
}

export interface Chunking {
  /** tshark workers at once; 1 reads every file in one pass. */
  readonly workers: number;
  /** Files smaller than this are read in one pass. */
  readonly minFileBytes: number;
  /** Upper bounds of one range; ranges are made even so that every worker gets a share. */
  readonly sizing: ChunkSizing;
}
