// delete_capture_session: stops a session if it runs, forgets it and removes its capture file.
import * as z from 'zod';
import { plural } from '../../util/text.js';
import { defineTool, textResult } from '../tool.js';
import { sessionIdParam } from './analysis-params.js';

export const deleteCaptureSessionTool = defineTool({
  name: 'delete_capture_session',
  title: 'Delete a capture session',
  brief: 'Stop a session, delete its capture file and forget it.',
  description:
    "Delete a capture session: stop it if it is running, remove its capture file and forget it. Keep a copy first with stop_capture_session's saveTo if you need the file.",
  inputSchema: z.object({
    sessionId: sessionIdParam,
  }),
  outputSchema: z.object({ deleted: z.string(), packets: z.number().int() }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  handler: async (args, deps) => {
    const session = await deps.sessions.delete(args.sessionId);
    const state = session.state;
    const packets = state.phase === 'running' || state.phase === 'starting' ? 0 : state.packets;
    return textResult(
      `Session '${session.id}' deleted: its capture file (${plural(packets, 'packet')}) is removed.`,
      { deleted: session.id, packets },
    );
  },
});
