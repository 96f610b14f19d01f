// A capture session as the session tools show it: the schema they publish and, inferred from it,
// the type SessionManager returns, so the two cannot disagree.
import * as z from 'zod';

/** Why a finished session stopped. */
export const STOP_REASONS = ['stopped', 'timeout', 'packetLimit', 'sizeLimit', 'ended'] as const;
export type StopReason = (typeof STOP_REASONS)[number];

export const sessionViewSchema = z.object({
  id: z.string(),
  phase: z
    .enum(['starting', 'running', 'finished', 'failed'])
    .describe('starting: dumpcap waits for the interface to begin capturing.'),
  interface: z.string(),
  captureFilter: z.string().nullable(),
  startedAt: z.string().describe('ISO 8601 time capture began.'),
  elapsedSeconds: z.number().describe('Seconds captured so far, or in all once it ended.'),
  packets: z.number().int().describe('Packets written (live while running).'),
  bytes: z.number().int().describe('Size of the capture file (live while running).'),
  reason: z.enum(STOP_REASONS).nullable().describe('Why a finished session stopped.'),
  error: z.string().nullable().describe('Why a failed session failed, and what to do.'),
  file: z.string().describe("The capture file, in the server's private directory."),
  pid: z.number().int().nullable().describe("dumpcap's process id while running."),
  timeout: z.number().int(),
  maxPackets: z.number().int(),
  maxFileBytes: z.number().int(),
  processRecord: z
    .string()
    .describe(
      'Which record of the local processes behind its connections the session keeps, which the process parameter, the process column and summarize_capture read.',
    ),
  hosts: z
    .array(
      z.object({
        host: z.string().describe('user@host:port'),
        label: z.string().describe("The interface name this host's packets have in the capture."),
        interface: z.string().describe('The interface captured on that host.'),
        state: z.enum(['starting', 'running', 'ended', 'failed']),
        packets: z.number().int(),
        error: z.string().nullable().describe('Why this host failed, and what to do.'),
      }),
    )
    .nullable()
    .describe('A capture over SSH: each host, which may fail while the others go on. null: a local capture.'),
});

/** A remote session's hosts, a line each: how each is doing, and why one failed. */
export function hostLines(view: Pick<SessionView, 'hosts'>, indent = ''): string[] {
  return (view.hosts ?? []).map(
    (h) =>
      `${indent}Host ${h.host} (interface "${h.label}" in the capture): ${h.state}, ${h.packets} packet${h.packets === 1 ? '' : 's'}${h.error ? ` — ${h.error}` : ''}`,
  );
}

/** One session as list_capture_sessions shows it (and start and stop return it). */
export type SessionView = Readonly<z.infer<typeof sessionViewSchema>>;

/** Which records of the local processes behind its connections a session keeps. */
export interface ProcessRecordKept {
  /** dumpcap writes Wireshark's own process information into the file (--process-info). */
  readonly inFile: boolean;
  /** This server's socket sampler writes the <capture>.processes.jsonl sidecar. */
  readonly sidecar: boolean;
  /** Captured on other hosts: no record of this machine's processes applies. */
  readonly remote?: boolean | undefined;
}

const IN_FILE =
  "Wireshark's own process information in the capture file (dumpcap --process-info, read back as frame.process.*)";
const SIDECAR = "this server's socket record beside the capture (<capture>.processes.jsonl)";
const NO_OPTION =
  'this dumpcap cannot record process information itself (--process-info came with Wireshark 4.7)';

/** The words the session tools say about a session's process record. */
export function processRecordText(kept: ProcessRecordKept): string {
  if (kept.remote === true)
    return "none: captured on other hosts over SSH, and this server records only its own machine's processes";
  if (kept.inFile && kept.sidecar)
    return `${IN_FILE}, and ${SIDECAR}, read where the file's packets carry none`;
  if (kept.inFile) return IN_FILE;
  if (kept.sidecar) return `${SIDECAR}; ${NO_OPTION}`;
  return `none: process attribution is off here (Linux only; SHARKMCP_PROCESS_ATTRIBUTION=0 turns it off), and ${NO_OPTION}`;
}
