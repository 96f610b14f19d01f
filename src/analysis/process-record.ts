// Where a capture's local processes come from, chosen in this one place. Wireshark's own
// per-packet process information (the frame.process fields that `dumpcap --process-info` records,
// Wireshark 4.7 and later) is read where tshark has those fields and the capture's packets carry
// them; otherwise this server's socket record beside the capture (<capture>.processes.jsonl,
// processes/). Both answer the same questions (which processes there are, a display filter for
// some of them, the processes of a packet, of a stream, and per process conversations and bytes),
// so the process parameter, the process column, follow_stream and summarize_capture never ask
// which one they have; each answer says which it was.
import { stat } from 'node:fs/promises';
import { abortError } from '../errors.js';
import { Attribution, ownerName, processFilter } from '../processes/attribution.js';
import type { Owner } from '../processes/attribution.js';
import { readSidecar } from '../processes/sidecar.js';
import { GlossarySource } from '../wireshark/glossary.js';
import type { WiresharkTools } from '../wireshark/locate.js';
import type { ProcessGroup } from '../wireshark/process.js';
import { runCollect } from '../wireshark/process.js';
import {
  PROCESS_NAME_FIELD,
  PROCESS_PID_FIELD,
  glossaryHasProcessFields,
  versionMayHaveProcessInfo,
} from '../wireshark/process-info.js';
import { allOccurrenceFieldArgs, firstOccurrenceFieldArgs, readArgs } from '../wireshark/tshark-args.js';
import { cleanStderr } from '../wireshark/tshark.js';
import { endFields, ends } from './digests/endpoints.js';
import { AGGREGATOR, all, first, keyed } from './digests/fields.js';
import { fieldLines } from './row-owners.js';
import type { PacketEnds } from './row-owners.js';
import { tupleOf } from './summary/conversations.js';
import { conversationOwners, ownersLabel, summarizeProcesses } from './summary/processes.js';
import type { ProcessRow, ProcessSummary } from './summary/processes.js';
import type { Conversation } from './summary/types.js';

/** What answers say about where their processes come from. */
export const WIRESHARK_ORIGIN = "processes from Wireshark's own process information (frame.process.*)";
export const SIDECAR_ORIGIN = "processes from this server's socket record (<capture>.processes.jsonl)";

/** A process a record knows, and how much of the capture it has (sockets, or packets). */
export interface KnownProcess {
  readonly owner: Owner;
  readonly count: number;
}

/** A display filter for some processes' traffic, or why there is none. */
export type RecordFilter =
  { readonly kind: 'filter'; readonly filter: string } | { readonly kind: 'none'; readonly why: string };

/** The ends of the packets a display filter picks (Analyzer.packetEnds). */
export type PacketEndsSource = (
  filter: string,
) => Promise<{ ends: readonly PacketEnds[]; complete: boolean }>;

/** The processes of a stream, and the words its answer names them with. */
export interface StreamOwners {
  readonly owners: readonly Owner[];
  /** "A curl[12] ↔ B node[34]" (sidecar), "curl[12], node[34]" (Wireshark's) */
  readonly text: string;
}

/** What summarize_capture reads from a record, once its packets have been read. */
export interface ConversationProcesses {
  /** The processes of a conversation for its line ("curl[12] ↔ node[34]"); undefined: none. */
  label(c: Conversation, originMs: number): string | undefined;
  /** Conversations, frames and bytes per process, the topN by bytes. */
  summarize(conversations: readonly Conversation[], originMs: number, topN: number): ProcessSummary;
}

/** A capture's record of its local processes. */
export interface ProcessRecordSource {
  readonly kind: 'wireshark' | 'sidecar';
  /** WIRESHARK_ORIGIN or SIDECAR_ORIGIN. */
  readonly origin: string;
  /** What KnownProcess.count counts. */
  readonly unit: 'socket' | 'packet';
  /** Which connections the record can miss, said where a process is not found. */
  readonly blindSpot: string;
  /** The processes it knows, the most used first. */
  known(signal?: AbortSignal): Promise<readonly KnownProcess[]>;
  /** A display filter for these processes' traffic. */
  filter(owners: readonly Owner[]): RecordFilter;
  /**
   * Of `owners`, those owning the packets `filter` picks, where the record can tell them apart
   * (the sidecar is the machine's, not the capture's); all of them otherwise.
   */
  inCapture(owners: readonly Owner[], filter: string, ends: PacketEndsSource): Promise<readonly Owner[]>;
  /** The fields a per-packet pass reads, besides the ends, for packetLabel. */
  readonly packetFields: readonly string[];
  /** The processes of one packet, as the process column shows them; undefined: none. */
  packetLabel(p: PacketEnds): string | undefined;
  /** The processes of the stream whose packets `filter` picks, with ends `nodes` (ip:port). */
  streamOwners(
    filter: string,
    kind: 'tcp' | 'udp',
    nodes: readonly [string, string] | undefined,
    signal?: AbortSignal,
  ): Promise<StreamOwners | undefined>;
  /** What summarize_capture needs, reading the packets where the record is in them. */
  conversations(signal?: AbortSignal): Promise<ConversationProcesses>;
}

/** Where a record's passes read: the capture, with which tshark and for how long. */
export interface RecordContext {
  readonly group: ProcessGroup;
  readonly tshark: string;
  readonly file: string;
  readonly timeoutMs: number;
}

/**
 * Which record a capture is read with: Wireshark's where tshark has its fields and the packets
 * carry them, else the sidecar where there is one, else none. Pure.
 */
export function chooseProcessRecord(facts: {
  readonly tsharkHasFields: boolean;
  readonly packetsCarryThem: boolean;
  readonly hasSidecar: boolean;
}): 'wireshark' | 'sidecar' | undefined {
  if (facts.tsharkHasFields && facts.packetsCarryThem) return 'wireshark';
  return facts.hasSidecar ? 'sidecar' : undefined;
}

/** Whether each tshark has the fields, by binary: every server in this process shares it. */
const TSHARK_FIELDS = new Map<string, Promise<boolean>>();
/** Whether a capture's packets carry them, by file, size and modification time. */
const FILE_CARRIES = new Map<string, Promise<boolean>>();
const MAX_FILES_KEPT = 64;

/** Finds a capture's process record. One per service; what it learns is shared. */
export class ProcessRecords {
  constructor(
    private readonly group: ProcessGroup,
    private readonly tools: () => Promise<WiresharkTools>,
  ) {}

  /** The record of `file`, or undefined when it has none. */
  async of(file: string, timeoutMs: number, signal?: AbortSignal): Promise<ProcessRecordSource | undefined> {
    const tools = await this.tools();
    const tshark = tools.require('tshark');
    const ctx: RecordContext = { group: this.group, tshark, file, timeoutMs };
    const status = tools.status('tshark');
    // The fields came with Wireshark 4.7: an older tshark's field list is not read for them.
    const tsharkHasFields =
      versionMayHaveProcessInfo(status.found ? status.version : undefined) &&
      (await this.tsharkHasFields(tshark));
    const packetsCarryThem = tsharkHasFields && (await carries(ctx, signal));
    if (signal?.aborted) throw abortError();
    const sidecar = packetsCarryThem ? undefined : await readSidecar(file);
    const kind = chooseProcessRecord({
      tsharkHasFields,
      packetsCarryThem,
      hasSidecar: sidecar !== undefined,
    });
    if (kind === 'wireshark') return new WiresharkRecord(ctx);
    return sidecar && new SidecarRecord(new Attribution(sidecar), ctx);
  }

  /** Whether tshark's field list has the process fields; a list that cannot be read says no. */
  private tsharkHasFields(tshark: string): Promise<boolean> {
    let known = TSHARK_FIELDS.get(tshark);
    if (known === undefined) {
      known = new GlossarySource(this.group, () => Promise.resolve(tshark)).get().then(
        (glossary) => glossaryHasProcessFields(glossary),
        () => {
          TSHARK_FIELDS.delete(tshark);
          return false;
        },
      );
      TSHARK_FIELDS.set(tshark, known);
    }
    return known;
  }
}

/**
 * Whether any packet of the capture has a process id: one tshark pass that stops at the first
 * (a capture without any is read to its end, once per version of the file).
 */
async function carries(ctx: RecordContext, signal: AbortSignal | undefined): Promise<boolean> {
  const s = await stat(ctx.file);
  const key = `${ctx.tshark}|${ctx.file}|${s.size}|${s.mtimeMs}`;
  let answer = FILE_CARRIES.get(key);
  if (answer === undefined) {
    if (FILE_CARRIES.size >= MAX_FILES_KEPT) FILE_CARRIES.clear();
    let found = false;
    answer = ctx.group
      .run({
        command: ctx.tshark,
        args: [
          ...readArgs({ file: ctx.file, displayFilter: `${PROCESS_PID_FIELD} > 0` }),
          ...firstOccurrenceFieldArgs([PROCESS_PID_FIELD]),
        ],
        timeoutMs: ctx.timeoutMs,
        onStdout: (chunk) => {
          found ||= /\d/.test(chunk.toString('latin1'));
          return found ? 'stop' : 'continue';
        },
      })
      .then((result) => {
        // Not kept: a pass that could not finish has not said "none".
        if (!found && (result.exitCode !== 0 || result.timedOut)) FILE_CARRIES.delete(key);
        return found;
      });
    answer.catch(() => FILE_CARRIES.delete(key));
    FILE_CARRIES.set(key, answer);
  }
  const result = await answer;
  if (signal?.aborted) throw abortError();
  return result;
}

/** The sidecar: the sockets the sampler saw, matched to packets by their ends and times. */
class SidecarRecord implements ProcessRecordSource {
  readonly kind = 'sidecar';
  readonly origin = SIDECAR_ORIGIN;
  readonly unit = 'socket';
  readonly packetFields: readonly string[] = [];

  constructor(
    readonly attribution: Attribution,
    private readonly ctx: RecordContext,
  ) {}

  get blindSpot(): string {
    return `A program whose connections each opened and closed between two samples (${this.attribution.facts.pollMs} ms apart) is not in the record`;
  }

  known(): Promise<readonly KnownProcess[]> {
    return Promise.resolve(this.attribution.owners().map((k) => ({ owner: k.owner, count: k.sockets })));
  }

  filter(owners: readonly Owner[]): RecordFilter {
    const keys = new Set(owners.map((o) => o.key));
    return processFilter(this.attribution, (o) => keys.has(o.key));
  }

  async inCapture(
    owners: readonly Owner[],
    filter: string,
    inCapture: PacketEndsSource,
  ): Promise<readonly Owner[]> {
    // The record is the machine's: other programs of that name may have owned sockets whose
    // traffic the capture never saw. One pass over the process's packets tells them apart.
    if (owners.length < 2) return owners;
    const { ends: packets, complete } = await inCapture(filter);
    if (!complete) return owners;
    const keys = new Set<string>();
    for (const p of packets) {
      for (const [local, remote] of [
        [p.src, p.dst],
        [p.dst, p.src],
      ] as const) {
        const owner = this.attribution.ownerOf(p.protocol, local, remote, p.at, p.at);
        if (owner) keys.add(owner.key);
      }
    }
    const seen = owners.filter((o) => keys.has(o.key));
    return seen.length > 0 ? seen : owners;
  }

  packetLabel(p: PacketEnds): string | undefined {
    const from = this.attribution.ownerOf(p.protocol, p.src, p.dst, p.at, p.at);
    const to = this.attribution.ownerOf(p.protocol, p.dst, p.src, p.at, p.at);
    if (!from && !to) return undefined;
    return `${from ? ownerName(from) : '?'} → ${to ? ownerName(to) : '?'}`;
  }

  async streamOwners(
    filter: string,
    kind: 'tcp' | 'udp',
    nodes: readonly [string, string] | undefined,
    signal?: AbortSignal,
  ): Promise<StreamOwners | undefined> {
    if (nodes === undefined || filter === '') return undefined;
    // Matched over the time the stream's packets span: a port may be used again by another program.
    const { stdout, result } = await runCollect(this.ctx.group, {
      command: this.ctx.tshark,
      args: [
        ...readArgs({ file: this.ctx.file, displayFilter: filter }),
        ...firstOccurrenceFieldArgs(['frame.time_epoch']),
      ],
      timeoutMs: this.ctx.timeoutMs,
      signal,
      maxBytes: 64 * 1024 * 1024,
    });
    if (result.aborted) throw abortError();
    const times = stdout
      .split('\n')
      .map(Number)
      .filter((t) => t > 0);
    if (times.length === 0) return undefined;
    const firstMs = Math.min(...times) * 1000;
    const lastMs = Math.max(...times) * 1000;
    const [a, b] = nodes;
    const ab = [
      this.attribution.ownerOf(kind, a, b, firstMs, lastMs),
      this.attribution.ownerOf(kind, b, a, firstMs, lastMs),
    ];
    const [na, nb] = ab.map((o) => (o ? ownerName(o) : '?'));
    return { owners: ab.filter((o) => o !== undefined), text: `A ${na ?? '?'} ↔ B ${nb ?? '?'}` };
  }

  conversations(): Promise<ConversationProcesses> {
    const attribution = this.attribution;
    return Promise.resolve({
      label: (c, originMs) => ownersLabel(conversationOwners(attribution, c, originMs)),
      summarize: (conversations, originMs, topN) =>
        summarizeProcesses(attribution, conversations, originMs, topN),
    });
  }
}

/** The fields a pass over Wireshark's process information reads. */
export const WIRESHARK_FIELDS = [
  'frame.number',
  'frame.len',
  'tcp.stream',
  ...new Set([...endFields('tcp'), ...endFields('udp')]),
  PROCESS_PID_FIELD,
  PROCESS_NAME_FIELD,
];

/** The most tshark output one pass over the process information reads. */
const MAX_PASS_BYTES = 64 * 1024 * 1024;

/** One packet's processes, as Wireshark attributed it. */
export interface ProcessPacket {
  readonly frame: number;
  readonly bytes: number;
  /** "tcp 127.0.0.1:5 127.0.0.1:6" (tupleOf), for a TCP or UDP packet. */
  readonly conversation: string | undefined;
  readonly pids: readonly number[];
}

/** A pass's packets, with the name of every process they name. */
export interface ProcessPackets {
  readonly packets: readonly ProcessPacket[];
  readonly names: ReadonlyMap<number, string>;
  /** False when tshark's output passed the bound: the list holds the packets that came first. */
  readonly complete: boolean;
}

/**
 * The process ids and names of `frame.process.pid` and `frame.process.name` (every occurrence,
 * joined by the aggregator) as owners. A packet several processes could have sent or received
 * names all of them; names are paired with ids only where the two lists are as long, since a
 * process the file does not describe has an id and no name. Pure.
 */
export function processesOf(
  pidsText: string | undefined,
  namesText: string | undefined,
): { pids: number[]; names: Map<number, string> } {
  const ids = all(pidsText).map(Number);
  const names = all(namesText);
  const out = new Map<number, string>();
  if (names.length === ids.length) ids.forEach((pid, i) => out.set(pid, names[i] ?? ''));
  const pids = [...new Set(ids.filter((pid) => Number.isInteger(pid) && pid > 0))];
  return { pids, names: out };
}

/** Parses a pass over WIRESHARK_FIELDS (all occurrences, AGGREGATOR-joined). Pure. */
export function parseProcessPackets(stdout: string, truncated: boolean): ProcessPackets {
  const packets: ProcessPacket[] = [];
  const names = new Map<number, string>();
  for (const f of keyed(WIRESHARK_FIELDS, fieldLines(stdout, truncated))) {
    const { pids, names: named } = processesOf(f.get(PROCESS_PID_FIELD), f.get(PROCESS_NAME_FIELD));
    if (pids.length === 0) continue;
    for (const [pid, name] of named) if (name !== '' && !names.has(pid)) names.set(pid, name);
    const protocol =
      first(f.get('tcp.srcport')) !== '' ? 'tcp' : first(f.get('udp.srcport')) !== '' ? 'udp' : undefined;
    const e = protocol && ends(f, protocol);
    packets.push({
      frame: Number(first(f.get('frame.number'))),
      bytes: Number(first(f.get('frame.len'))) || 0,
      conversation: protocol && e ? tupleOf(protocol, e.from, e.to) : undefined,
      pids,
    });
  }
  return { packets, names, complete: !truncated };
}

/** A display filter for the packets Wireshark attributed to these process ids. Pure. */
export function pidFilter(pids: readonly number[]): string {
  const sorted = [...new Set(pids)].sort((a, b) => a - b);
  return sorted.length === 1
    ? `${PROCESS_PID_FIELD} == ${sorted[0]}`
    : `${PROCESS_PID_FIELD} in {${sorted.join(',')}}`;
}

/** An owner for a process id Wireshark named; a process the file does not describe has no name. */
function ownerOfPid(pid: number, names: ReadonlyMap<number, string>): Owner {
  return { key: `pid ${pid}`, pid, comm: names.get(pid) ?? '?', cmdline: '', user: undefined };
}

/**
 * Conversations, frames and bytes per process from the packets Wireshark attributed: each process
 * is credited with the packets that name it, and with every conversation one of them is in. Pure.
 */
export function summarizeProcessPackets(
  read: ProcessPackets,
  conversations: readonly Conversation[],
  topN: number,
): ProcessSummary {
  const rows = new Map<number, ProcessRow & { seen: Set<string> }>();
  const attributed = new Set<string>();
  for (const p of read.packets) {
    if (p.conversation !== undefined) attributed.add(p.conversation);
    for (const pid of p.pids) {
      let row = rows.get(pid);
      if (!row) {
        const o = ownerOfPid(pid, read.names);
        row = {
          pid,
          comm: o.comm,
          user: null,
          cmdline: '',
          conversations: 0,
          frames: 0,
          bytes: 0,
          seen: new Set(),
        };
        rows.set(pid, row);
      }
      row.frames++;
      row.bytes += p.bytes;
      if (p.conversation !== undefined) row.seen.add(p.conversation);
    }
  }
  let unattributedConversations = 0;
  let unattributedBytes = 0;
  for (const c of conversations) {
    if (c.kind !== 'tcp' && c.kind !== 'udp') continue;
    if (attributed.has(tupleOf(c.kind, c.a, c.b))) continue;
    unattributedConversations++;
    unattributedBytes += c.bytes;
  }
  const list: ProcessRow[] = [...rows.values()].map(({ seen, ...row }) => ({
    ...row,
    conversations: seen.size,
  }));
  return {
    rows: list.sort((x, y) => y.bytes - x.bytes || x.pid - y.pid).slice(0, topN),
    total: list.length,
    unattributedConversations,
    unattributedBytes,
    // A packet's process is not tied to one end: which end lacks one cannot be told.
    unknownLocalEnds: 0,
    socketsSeen: 0,
    socketsOwned: 0,
    processesSeen: list.length,
    pollMs: 0,
    capped: false,
    complete: read.complete,
    cpuPercent: null,
    sampledSeconds: null,
    slowedSeconds: 0,
    source: 'wireshark',
  };
}

/** Wireshark's own record: the process ids dumpcap wrote into each packet, read back by tshark. */
class WiresharkRecord implements ProcessRecordSource {
  readonly kind = 'wireshark';
  readonly origin = WIRESHARK_ORIGIN;
  readonly unit = 'packet';
  readonly blindSpot = "dumpcap's own lookup misses very short-lived sockets";
  readonly packetFields: readonly string[] = [PROCESS_PID_FIELD, PROCESS_NAME_FIELD];
  private everyPacket: Promise<ProcessPackets> | undefined;

  constructor(private readonly ctx: RecordContext) {}

  /** The packets `filter` picks among those with a process (all of them without one). */
  private async read(filter: string | undefined, signal?: AbortSignal): Promise<ProcessPackets> {
    const attributed = `${PROCESS_PID_FIELD} > 0`;
    const { stdout, result, truncated } = await runCollect(this.ctx.group, {
      command: this.ctx.tshark,
      args: [
        ...readArgs({
          file: this.ctx.file,
          displayFilter: filter === undefined ? attributed : `${attributed} && (${filter})`,
        }),
        ...allOccurrenceFieldArgs(WIRESHARK_FIELDS, AGGREGATOR),
      ],
      timeoutMs: this.ctx.timeoutMs,
      signal,
      maxBytes: MAX_PASS_BYTES,
    });
    if (result.aborted) throw abortError();
    if (result.exitCode !== 0 && stdout === '')
      throw new Error(`tshark could not read the process information: ${cleanStderr(result.stderr)}`);
    return parseProcessPackets(stdout, truncated);
  }

  private all(signal?: AbortSignal): Promise<ProcessPackets> {
    this.everyPacket ??= this.read(undefined, signal);
    return this.everyPacket;
  }

  async known(signal?: AbortSignal): Promise<readonly KnownProcess[]> {
    const read = await this.all(signal);
    const counts = new Map<number, number>();
    for (const p of read.packets) for (const pid of p.pids) counts.set(pid, (counts.get(pid) ?? 0) + 1);
    return [...counts.entries()]
      .sort((a, b) => b[1] - a[1] || a[0] - b[0])
      .map(([pid, count]) => ({ owner: ownerOfPid(pid, read.names), count }));
  }

  filter(owners: readonly Owner[]): RecordFilter {
    if (owners.length === 0) return { kind: 'none', why: 'no process id' };
    return { kind: 'filter', filter: pidFilter(owners.map((o) => o.pid)) };
  }

  inCapture(owners: readonly Owner[]): Promise<readonly Owner[]> {
    // The ids are the packets' own: every one of them is in the capture.
    return Promise.resolve(owners);
  }

  packetLabel(p: PacketEnds): string | undefined {
    const { pids, names } = processesOf(p.extra?.get(PROCESS_PID_FIELD), p.extra?.get(PROCESS_NAME_FIELD));
    if (pids.length === 0) return undefined;
    return pids.map((pid) => ownerName(ownerOfPid(pid, names))).join(', ');
  }

  async streamOwners(
    filter: string,
    _kind: 'tcp' | 'udp',
    _nodes: unknown,
    signal?: AbortSignal,
  ): Promise<StreamOwners | undefined> {
    if (filter === '') return undefined;
    const read = await this.read(filter, signal);
    const pids = [...new Set(read.packets.flatMap((p) => p.pids))].sort((a, b) => a - b);
    if (pids.length === 0) return undefined;
    const owners = pids.map((pid) => ownerOfPid(pid, read.names));
    return { owners, text: owners.map(ownerName).join(', ') };
  }

  async conversations(signal?: AbortSignal): Promise<ConversationProcesses> {
    const read = await this.all(signal);
    const byConversation = new Map<string, Set<number>>();
    for (const p of read.packets) {
      if (p.conversation === undefined) continue;
      const set = byConversation.get(p.conversation) ?? new Set<number>();
      for (const pid of p.pids) set.add(pid);
      byConversation.set(p.conversation, set);
    }
    return {
      label: (c) => {
        if (c.kind !== 'tcp' && c.kind !== 'udp') return undefined;
        const pids = byConversation.get(tupleOf(c.kind, c.a, c.b));
        if (pids === undefined) return undefined;
        return [...pids]
          .sort((a, b) => a - b)
          .map((pid) => ownerName(ownerOfPid(pid, read.names)))
          .join(', ');
      },
      summarize: (conversations, _originMs, topN) => summarizeProcessPackets(read, conversations, topN),
    };
  }
}
