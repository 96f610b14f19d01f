// stop_capture_session: ends a capture (or takes one that ended by itself) and answers with its
// packets through the same pipeline as analyze_pcap_file. The session and its file stay.
import * as z from 'zod';
import { resolveAnalysis } from '../../analysis/options.js';
import { givenArgs } from '../../analysis/paged-answer.js';
import { answerPage, pagingFactsSchema } from '../../analysis/render.js';
import type { RenderContext } from '../../analysis/render.js';
import { formatBytes, STOP_REASON_TEXT } from '../../capture/sessions.js';
import { UserError } from '../../errors.js';
import { MAX_PATH_LENGTH } from '../../limits.js';
import { hasControlChars, plural } from '../../util/text.js';
import { captureLink } from '../resources.js';
import { defineTool, progressSink, textResult } from '../tool.js';
import { analysisParamsShape, sessionIdParam } from './analysis-params.js';
import { hostLines, sessionViewSchema } from '../../capture/session-view.js';

const inputSchema = z.object({
  sessionId: sessionIdParam,
  ...analysisParamsShape,
  wait: z
    .boolean()
    .optional()
    .meta({ default: false, brief: 'Let it run until it stops by itself.' })
    .describe(
      'If the capture is still running, let it run until it stops by itself (timeout, packet or size limit) instead of stopping it now; packets captured so far come as progress notifications, and cancelling the call ends the wait.',
    ),
  saveTo: z
    .string()
    .max(MAX_PATH_LENGTH)
    .optional()
    .meta({ brief: 'Also copy the capture here.' })
    .describe(
      'Also copy the capture file to this path (which must not exist yet), to keep it beyond the server; where the session recorded which processes owned its connections, that record is copied beside it as <path>.processes.jsonl, so summarize_capture on the copy shows them too.',
    ),
});

const outputSchema = pagingFactsSchema.extend({ session: sessionViewSchema, savedTo: z.string().nullable() });

export const stopCaptureSessionTool = defineTool({
  name: 'stop_capture_session',
  title: 'Stop a capture and read it',
  brief:
    'Stop a capture session (or collect a finished one) and list its packets as analyze_pcap_file does; call again to re-read.',
  description:
    'Stop a running capture session (or collect one that stopped by itself) and analyze its packets, with the same parameters and paging as analyze_pcap_file. The session stays listed with its file, so calling this again with another filter or offset re-reads it; saveTo keeps a copy. A saved configuration (configName) fills the analysis parameters this call leaves out; explicit arguments win.',
  inputSchema,
  outputSchema,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  handler: async (args, deps, ctx) => {
    if (args.wait) await deps.sessions.waitUntilEnded(args.sessionId, ctx.mcpReq.signal, progressSink(ctx));
    const session = await deps.sessions.stop(args.sessionId);
    const state = session.state;
    if (state.phase === 'failed') {
      throw new UserError(
        `Capture session '${session.id}' failed: ${state.error}\nThe session stays listed until deleted with delete_capture_session.`,
      );
    }
    if (state.phase === 'running' || state.phase === 'starting')
      throw new Error(`session ${session.id} is still ${state.phase} after stop`);

    let savedTo: string | undefined;
    if (args.saveTo !== undefined && args.saveTo !== '') {
      if (hasControlChars(args.saveTo))
        throw new UserError('saveTo contains a control character; give a plain path.');
      savedTo = await deps.sandbox.checkTarget(args.saveTo, 'saveTo');
      await deps.sessions.saveCopy(session, savedTo);
    }

    const resolved = await resolveAnalysis(args, deps.configs, deps.env, deps.sandbox, {
      checker: deps.analyzer,
      signal: ctx.mcpReq.signal,
    });
    const duration = ((state.endedAt.getTime() - session.startedAt.getTime()) / 1000).toFixed(1);
    // A next page re-reads the session; it must not copy the file again.
    const repeatable = givenArgs({ ...args, saveTo: undefined });
    const view = await deps.sessions.view(session);
    const render: RenderContext = {
      title: `Capture session '${session.id}' completed!`,
      details: [
        `Interface: ${session.settings.interface}`,
        ...hostLines(view),
        `Duration: ${duration}s`,
        `Captured: ${plural(state.packets, 'packet')}, ${formatBytes(state.bytes)} (${STOP_REASON_TEXT[state.reason]})`,
        `Process record: ${view.processRecord}`,
        ...(savedTo ? [`Saved a copy to: ${savedTo}`] : []),
      ],
      resolved,
      call: { tool: 'stop_capture_session', args: repeatable },
    };
    const { text, facts } = await answerPage(
      deps.analyzer,
      { file: session.file, live: false },
      render,
      ctx.mcpReq.signal,
      // Progress must only grow: after a wait reported packets captured, the read is not reported.
      args.wait ? undefined : progressSink(ctx),
    );
    return textResult(
      text,
      {
        ...facts,
        session: view,
        savedTo: savedTo ?? null,
      },
      [captureLink(deps, { file: session.file, label: session.id, sessionId: session.id, live: false })],
    );
  },
});
