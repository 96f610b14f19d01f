// get_packet_details: the full dissection tree (and bytes) of chosen frames, a page at a time.
import * as z from 'zod';
import { frameFilter, parseFrameSelection } from '../../analysis/frames.js';
import { givenArgs } from '../../analysis/paged-answer.js';
import { answerPage, detailsFactsSchema } from '../../analysis/render.js';
import type { RenderContext } from '../../analysis/render.js';
import { resolveSource } from '../../analysis/source.js';
import { DEFAULT_PAGE, MAX_FRAMES_PER_PAGE } from '../../limits.js';
import { captureLink } from '../resources.js';
import { defineTool, progressSink, textResult } from '../tool.js';
import { dissectionParams, keylogParam, readOptions, revealParam, sourceParam } from './analysis-params.js';
import { pagingParams } from './paging-params.js';

const inputSchema = z.object({
  source: sourceParam,
  frames: z
    .string()
    .min(1)
    .max(2_000)
    .meta({ brief: 'E.g. "5" or "1-10,42".' })
    .describe(
      'Frame numbers and ranges, e.g. "5" or "1-10,42" (as the first column of analyze_pcap_file shows them).',
    ),
  protocols: z
    .array(z.string().min(1).max(64))
    .max(32)
    .optional()
    .meta({ brief: 'Expand only these.' })
    .describe(
      'Expand only these protocols\' trees (e.g. ["http", "tls"]); the others show as one line. Default: all.',
    ),
  includeBytes: z
    .boolean()
    .optional()
    .meta({ default: false, brief: '' })
    .describe("Add each frame's bytes as a hex dump."),
  sslKeylogFile: keylogParam,
  ...dissectionParams,
  reveal: revealParam,
  ...pagingParams({
    brief: '',
    limit: 'Frames per page.',
    limitDefault: DEFAULT_PAGE.frames,
    limitMax: MAX_FRAMES_PER_PAGE,
    offset: 'Selected frames to skip.',
  }),
});

export const getPacketDetailsTool = defineTool({
  name: 'get_packet_details',
  title: 'Show packet details',
  brief:
    "Chosen frames' full dissection trees (Wireshark's packet details), optionally only some protocols, with bytes.",
  description:
    "The full dissection tree of chosen frames, as Wireshark's packet details pane shows it, optionally narrowed to some protocols and with the frames' bytes. Decrypts TLS with sslKeylogFile. Pages by frames; the answer names the next call.",
  inputSchema,
  outputSchema: detailsFactsSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  handler: async (args, deps, ctx) => {
    const source = await resolveSource(args.source, 'source', deps.sessions, deps.sandbox, deps.uploads);
    const ranges = parseFrameSelection(args.frames);
    const base = await readOptions(deps, args, ctx.mcpReq.signal);
    const render: RenderContext = {
      title: `Packet details of '${source.sessionId ?? source.file}'`,
      resolved: {
        ...base,
        displayFilter: frameFilter(ranges),
        outputFormat: 'details',
        limit: args.limit ?? DEFAULT_PAGE.frames,
        offset: args.offset ?? 0,
        maxChars: args.maxChars ?? base.maxChars,
        reveal: args.reveal ?? false,
      },
      detail: { protocols: args.protocols ?? [], bytes: args.includeBytes ?? false },
      lastFrame: Math.max(...ranges.map((r) => r.to)),
      frames: ranges,
      call: { tool: 'get_packet_details', args: givenArgs(args) },
    };
    const { text, facts } = await answerPage(
      deps.analyzer,
      source,
      render,
      ctx.mcpReq.signal,
      progressSink(ctx),
    );
    return textResult(text, { ...facts }, [captureLink(deps, source)]);
  },
});
