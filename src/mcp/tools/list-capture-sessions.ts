// list_capture_sessions: every session, running or not, with live figures for the running ones.
import * as z from 'zod';
import { CAPTURE_START_TIMEOUT_MS } from '../../capture/dumpcap.js';
import type { SessionView } from '../../capture/session-view.js';
import { formatBytes, STOP_REASON_TEXT } from '../../capture/sessions.js';
import { plural } from '../../util/text.js';
import { defineTool, textResult } from '../tool.js';
import { hostLines, sessionViewSchema } from '../../capture/session-view.js';

const outputSchema = z.object({ sessions: z.array(sessionViewSchema) });

export const listCaptureSessionsTool = defineTool({
  name: 'list_capture_sessions',
  title: 'List capture sessions',
  brief: 'Every capture session: phase (and why it stopped), interface, filter, times, packets, bytes, file.',
  description:
    'List every capture session this client can use (over HTTP, the ones it started, unless the server shares sessions): starting (waiting for its interface), running, finished (and why it stopped) or failed (and why), with interface, filter, start time, elapsed time, packets and bytes so far, and its file.',
  inputSchema: z.object({}),
  outputSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  handler: async (_args, deps) => {
    const sessions = await deps.sessions.list();
    const text =
      sessions.length === 0
        ? 'No capture sessions. Start one with start_capture_session.'
        : `Capture sessions (${sessions.length}):\n${sessions.map(describe).join('\n')}`;
    return textResult(text, { sessions });
  },
});

function describe(s: SessionView): string {
  const status =
    s.phase === 'starting'
      ? `starting for ${s.elapsedSeconds.toFixed(1)}s: waiting for interface ${s.interface} to begin capturing (given up after ${CAPTURE_START_TIMEOUT_MS / 1000} s)`
      : s.phase === 'running'
        ? `running for ${s.elapsedSeconds.toFixed(1)}s (auto-stop at ${s.timeout}s, ${s.maxPackets} packets or ${formatBytes(s.maxFileBytes)})`
        : s.phase === 'finished'
          ? `finished after ${s.elapsedSeconds.toFixed(1)}s (${STOP_REASON_TEXT[s.reason ?? 'ended']})`
          : `failed after ${s.elapsedSeconds.toFixed(1)}s: ${s.error ?? ''}`;
  return [
    `• ${s.id}: ${status}`,
    `  interface ${s.interface}, capture filter ${s.captureFilter ?? 'none'}, started ${s.startedAt}`,
    ...hostLines(s, '  '),
    `  ${plural(s.packets, 'packet')}, ${formatBytes(s.bytes)}${s.phase === 'running' ? ' so far' : ''}; file ${s.file}`,
  ].join('\n');
}
