// The `process` parameter of the analysis tools: a pid or a command name turned, through the
// capture's process record (process-record.ts: Wireshark's own per-packet process information, or
// this server's socket sidecar), into a display filter for that process's traffic (joined with the
// caller's own), and the words an answer's header says about it. A capture without a record, or a
// name the record never saw, is refused with what there is to ask for instead.
import { UserError } from '../errors.js';
import type { Owner } from '../processes/attribution.js';
import type { PacketEndsSource, ProcessRecordSource } from './process-record.js';

export type { PacketEndsSource } from './process-record.js';

/** Processes an answer names, at most: a name shared by more pids says how many more. */
const MAX_NAMED = 8;
/** Pids an error names for each command name it lists. */
const PIDS_PER_NAME = 4;
/** The kernel cuts a command name to this many characters (TASK_COMM_LEN - 1). */
const COMM_CHARS = 15;

/** A call narrowed to one process's conversations. */
export interface ProcessScope {
  /** The process filter joined with the caller's display filter. */
  readonly displayFilter: string;
  /** "curl (pids 123, 456)" */
  readonly label: string;
  readonly owners: readonly Owner[];
  /** Where the processes come from (ProcessRecordSource.origin), for the answer to say. */
  readonly origin: string;
}

/**
 * The scope of `wanted` (a pid, or a command name) in a capture whose record is `record`, joined
 * with the caller's `displayFilter`. Throws a UserError when there is no record or no process
 * matches.
 */
export async function processScope(
  record: ProcessRecordSource | undefined,
  wanted: string | number,
  displayFilter: string | undefined,
  inCapture?: PacketEndsSource,
  signal?: AbortSignal,
): Promise<ProcessScope> {
  if (record === undefined)
    throw new UserError(
      `process: this capture has no process record. Only capture sessions of this server on Linux record which process owns each connection (in a "<capture>.processes.jsonl" file beside the capture, kept by saveTo), and captures made with Wireshark 4.7's "dumpcap --process-info" carry it in their packets. Leave process out, and use displayFilter (e.g. "tcp.port == 8080") to narrow the call instead.`,
    );
  const recorded = await record.known(signal);
  const matches = matcher(wanted);
  const owners = recorded.filter((k) => matches(k.owner)).map((k) => k.owner);
  // The refusal lists the processes whose traffic the capture holds (the record may be the
  // machine's): one pass over the packets that open or close a conversation, and UDP's.
  const known =
    owners.length === 0 && inCapture
      ? within(
          recorded,
          await record.inCapture(
            recorded.map((k) => k.owner),
            CONVERSATION_EDGES,
            inCapture,
          ),
        )
      : recorded;
  if (owners.length === 0)
    throw new UserError(
      `process: no process ${typeof wanted === 'number' || /^\d+$/.test(wanted) ? `with pid ${wanted}` : `named ${JSON.stringify(wanted)}`} owned a connection in this capture. ${knownText(known, record.unit)} ${record.blindSpot}: narrow such a program's traffic with displayFilter (its address or ports) instead.`,
    );
  const narrowed = record.filter(owners);
  if (narrowed.kind === 'none')
    throw new UserError(
      `process: ${labelOf(owners)} cannot be made a display filter: ${narrowed.why}. Narrow with displayFilter instead (its ports: capture_statistics groupBy ["tcp.srcport"]).`,
    );
  // The header names the processes whose traffic the capture holds, where the record can tell.
  const named = inCapture ? await record.inCapture(owners, narrowed.filter, inCapture) : owners;
  return {
    displayFilter: displayFilter ? `(${narrowed.filter}) && (${displayFilter})` : narrowed.filter,
    label: labelOf(named),
    owners: named,
    origin: record.origin,
  };
}

/** Packets that show a conversation's ends: a TCP open or close, or any UDP datagram. */
const CONVERSATION_EDGES = 'tcp.flags.syn == 1 || tcp.flags.fin == 1 || tcp.flags.reset == 1 || udp';

/** The processes of `known` among `owners`, keeping their counts and order. */
function within<T extends { readonly owner: Owner }>(known: readonly T[], owners: readonly Owner[]): T[] {
  const keys = new Set(owners.map((o) => o.key));
  return known.filter((k) => keys.has(k.owner.key));
}

/** Matches a pid (a number, or digits), else a command name (as the kernel cut it, or whole). */
function matcher(wanted: string | number): (o: Owner) => boolean {
  if (typeof wanted === 'number') return (o) => o.pid === wanted;
  const name = wanted.trim();
  if (/^\d+$/.test(name)) return (o) => o.pid === Number(name);
  return (o) => o.comm === name || o.comm === name.slice(0, COMM_CHARS);
}

/** "curl (pid 123)", "curl (pids 123, 456)", "curl and node (pids ...)" */
function labelOf(owners: readonly Owner[]): string {
  const names = [...new Set(owners.map((o) => o.comm))];
  const pids = [...new Set(owners.map((o) => o.pid))].sort((a, b) => a - b);
  const shown = pids.slice(0, MAX_NAMED).join(', ');
  const more = pids.length > MAX_NAMED ? ` and ${pids.length - MAX_NAMED} more` : '';
  return `${names.join(', ')} (${pids.length === 1 ? 'pid' : 'pids'} ${shown}${more})`;
}

/** What the record saw: the processes it knows, by sockets owned (or packets attributed). */
function knownText(known: readonly { owner: Owner; count: number }[], unit: 'socket' | 'packet'): string {
  if (known.length === 0)
    return "Its process record found no owner for any socket (the capture saw no local program, or the server could not read other users' processes).";
  const byName = new Map<string, { pids: number[]; count: number }>();
  for (const k of known) {
    const n = byName.get(k.owner.comm) ?? { pids: [], count: 0 };
    n.pids.push(k.owner.pid);
    n.count += k.count;
    byName.set(k.owner.comm, n);
  }
  const names = [...byName.entries()].sort((a, b) => b[1].count - a[1].count);
  // A few pids each: a name shared by a client and a server is told apart by pid.
  const list = names.slice(0, MAX_NAMED).map(([comm, n]) => {
    const pids = n.pids.slice(0, PIDS_PER_NAME).join(', ');
    const more = n.pids.length > PIDS_PER_NAME ? ` and ${n.pids.length - PIDS_PER_NAME} more` : '';
    return `${comm} (${n.pids.length === 1 ? 'pid' : 'pids'} ${pids}${more}; ${n.count} ${n.count === 1 ? unit : `${unit}s`})`;
  });
  const more = names.length > MAX_NAMED ? `, and ${names.length - MAX_NAMED} more` : '';
  return `The processes it recorded, by ${unit}s: ${list.join(', ')}${more}. Give one of these names or pids; summarize_capture shows each one's conversations and bytes.`;
}
