// The structured form of a capture session, shared by the session tools.
import * as z from 'zod';

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
  reason: z
    .enum(['stopped', 'timeout', 'packetLimit', 'sizeLimit', 'ended'])
    .nullable()
    .describe('Why a finished session stopped.'),
  error: z.string().nullable().describe('Why a failed session failed, and what to do.'),
  file: z.string().describe("The capture file, in the server's private directory."),
  pid: z.number().int().nullable().describe("dumpcap's process id while running."),
  timeout: z.number().int(),
  maxPackets: z.number().int(),
  maxFileBytes: z.number().int(),
});
