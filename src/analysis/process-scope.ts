// The `process` parameter of the analysis tools: a pid or a command name turned, through the
// capture's process sidecar, into a display filter for that process's conversations (joined with
// the caller's own), and the words an answer's header says about it. A capture without a sidecar,
// or a name the sidecar never saw, is refused with what there is to ask for instead.
import { UserError } from '../errors.js';
import { Attribution, processFilter } from '../processes/attribution.js';
import type { Owner } from '../processes/attribution.js';
import { readSidecar } from '../processes/sidecar.js';
import type { PacketEnds } from './row-owners.js';

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
}

/** The recorded owners of a capture's sockets; undefined when it has no process sidecar. */
export async function loadAttribution(file: string): Promise<Attribution | undefined> {
  const sidecar = await readSidecar(file);
  return sidecar && new Attribution(sidecar);
}

/**
 * The scope of `wanted` (a pid, or a command name) in the capture `file`, joined with the caller's
 * `displayFilter`. Throws a UserError when the capture has no sidecar or no process matches.
 */
export async function processScope(
  file: string,
  wanted: string | number,
  displayFilter: string | undefined,
  inCapture?: PacketEndsSource,
): Promise<ProcessScope> {
  const attribution = await loadAttribution(file);
  if (attribution === undefined)
    throw new UserError(
      `process: this capture has no process record. Only capture sessions of this server on Linux record which process owns each connection (in a "<capture>.processes.jsonl" file beside the capture, kept by saveTo). Leave process out, and use displayFilter (e.g. "tcp.port == 8080") to narrow the call instead.`,
    );
  const known = attribution.owners();
  const matches = matcher(wanted);
  const owners = known.filter((k) => matches(k.owner)).map((k) => k.owner);
  if (owners.length === 0)
    throw new UserError(
      `process: no process ${typeof wanted === 'number' || /^\d+$/.test(wanted) ? `with pid ${wanted}` : `named ${JSON.stringify(wanted)}`} owned a connection in this capture. ${knownText(known)} A program whose connections each opened and closed between two samples (${attribution.facts.pollMs} ms apart) is not in the record: narrow its traffic with displayFilter (its address or ports) instead.`,
    );
  const keys = new Set(owners.map((o) => o.key));
  const narrowed = processFilter(attribution, (o) => keys.has(o.key));
  if (narrowed.kind === 'none')
    throw new UserError(
      `process: ${labelOf(owners)} cannot be made a display filter: ${narrowed.why}. Narrow with displayFilter instead (its ports: capture_statistics groupBy ["tcp.srcport"]).`,
    );
  // The record is the machine's, not the capture's: other programs of that name may have owned
  // sockets whose traffic the capture never saw (another interface, the capture filter). The
  // header names the ones it holds, when a pass over the process's packets can tell.
  const named =
    owners.length > 1 && inCapture
      ? await ownersInCapture(attribution, owners, narrowed.filter, inCapture)
      : owners;
  return {
    displayFilter: displayFilter ? `(${narrowed.filter}) && (${displayFilter})` : narrowed.filter,
    label: labelOf(named),
    owners: named,
  };
}

/** The ends of the packets a display filter picks in the capture (Analyzer.packetEnds). */
export type PacketEndsSource = (
  filter: string,
) => Promise<{ ends: readonly PacketEnds[]; complete: boolean }>;

/**
 * Of `owners`, those owning an end of a packet the process filter picks; all of them when the pass
 * could not list every packet, or found none (the answer then says it found nothing).
 */
async function ownersInCapture(
  attribution: Attribution,
  owners: readonly Owner[],
  filter: string,
  inCapture: PacketEndsSource,
): Promise<readonly Owner[]> {
  const { ends, complete } = await inCapture(filter);
  if (!complete) return owners;
  const keys = new Set<string>();
  for (const p of ends) {
    for (const [local, remote] of [
      [p.src, p.dst],
      [p.dst, p.src],
    ] as const) {
      const owner = attribution.ownerOf(p.protocol, local, remote, p.at, p.at);
      if (owner) keys.add(owner.key);
    }
  }
  const seen = owners.filter((o) => keys.has(o.key));
  return seen.length > 0 ? seen : owners;
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

/** What the sidecar saw: the processes it knows, by sockets owned. */
function knownText(known: readonly { owner: Owner; sockets: number }[]): string {
  if (known.length === 0)
    return "Its process record found no owner for any socket (the capture saw no local program, or the server could not read other users' processes).";
  const byName = new Map<string, { pids: number[]; sockets: number }>();
  for (const k of known) {
    const n = byName.get(k.owner.comm) ?? { pids: [], sockets: 0 };
    n.pids.push(k.owner.pid);
    n.sockets += k.sockets;
    byName.set(k.owner.comm, n);
  }
  const names = [...byName.entries()].sort((a, b) => b[1].sockets - a[1].sockets);
  // A few pids each: a name shared by a client and a server is told apart by pid.
  const list = names.slice(0, MAX_NAMED).map(([comm, n]) => {
    const pids = n.pids.slice(0, PIDS_PER_NAME).join(', ');
    const more = n.pids.length > PIDS_PER_NAME ? ` and ${n.pids.length - PIDS_PER_NAME} more` : '';
    return `${comm} (${n.pids.length === 1 ? 'pid' : 'pids'} ${pids}${more}; ${n.sockets} ${n.sockets === 1 ? 'socket' : 'sockets'})`;
  });
  const more = names.length > MAX_NAMED ? `, and ${names.length - MAX_NAMED} more` : '';
  return `The processes it recorded, by sockets: ${list.join(', ')}${more}. Give one of these names or pids; summarize_capture shows each one's conversations and bytes.`;
}
