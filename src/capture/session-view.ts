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
});

/** One session as list_capture_sessions shows it (and start and stop return it). */
export type SessionView = Readonly<z.infer<typeof sessionViewSchema>>;
