// analyze_pcap_file: one page of a capture file's packets, in the seed's answer layout.
import * as z from 'zod';
import { resolveSource } from '../../analysis/source.js';
import { UserError } from '../../errors.js';
import { resolveAnalysis } from '../../analysis/options.js';
import { givenArgs } from '../../analysis/paged-answer.js';
import { answerPage, pagingFactsSchema } from '../../analysis/render.js';
import type { RenderContext } from '../../analysis/render.js';
import { MAX_PATH_LENGTH } from '../../limits.js';
import { captureLink } from '../resources.js';
import { defineTool, progressSink, textResult } from '../tool.js';
import { analysisParamsShape, sourceParam } from './analysis-params.js';
import { hostParam, narrowToProcess, processParam } from './process-param.js';

const inputSchema = z.object({
  filePath: z
    .string()
    .min(1)
    .max(MAX_PATH_LENGTH)
    .optional()
    .meta({ brief: 'Or give source.' })
    .describe('Path to the local .pcap or .pcapng file to analyze. (Or give source.)'),
  source: sourceParam
    .optional()
    .meta({ brief: 'Or give filePath.' })
    .describe('Instead of filePath: a capture file path or a capture session ID (running or finished).'),
  ...analysisParamsShape,
  process: processParam,
  host: hostParam,
});

export const analyzePcapFileTool = defineTool({
  name: 'analyze_pcap_file',
  title: 'Analyze a capture file',
  brief:
    "List a capture file's packets as text, fields or JSON, a page at a time; the header gives the next page's arguments.",
  description:
    'Analyze a local pcap/pcapng file: list its packets (optionally only those matching a display filter) as text, tab-separated fields or JSON, decrypting TLS with a keylog file. Answers one page at a time: the header says which packets are shown and gives the exact arguments for the next page. A saved configuration (configName) fills the analysis parameters this call leaves out; explicit arguments win.',
  inputSchema,
  outputSchema: pagingFactsSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  handler: async (args, deps, ctx) => {
    if ((args.filePath === undefined) === (args.source === undefined)) {
      throw new UserError(
        'Give filePath (a capture file) or source (a capture file or session ID), one of them.',
      );
    }
    const source =
      args.source !== undefined
        ? await resolveSource(args.source, 'source', deps.sessions, deps.sandbox, deps.uploads)
        : await resolveSource(args.filePath ?? '', 'filePath', deps.sessions, deps.sandbox, deps.uploads);
    const resolved = await resolveAnalysis(args, deps.configs, deps.env, deps.sandbox, {
      checker: deps.analyzer,
      signal: ctx.mcpReq.signal,
    });
    const narrowed = await narrowToProcess(deps, source.file, { ...args, ...resolved }, ctx.mcpReq.signal);
    const render: RenderContext = {
      title: `Analysis of '${source.sessionId ?? source.file}' complete!`,
      resolved: { ...resolved, displayFilter: narrowed.displayFilter },
      call: { tool: 'analyze_pcap_file', args: givenArgs(args) },
    };
    const { text, facts } = await answerPage(
      deps.analyzer,
      source,
      render,
      ctx.mcpReq.signal,
      progressSink(ctx),
    );
    return textResult(narrowed.relabel(text), { ...facts }, [captureLink(deps, source)]);
  },
});
