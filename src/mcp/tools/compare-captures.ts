// compare_captures: what differs between a capture that works and one that does not.
import * as z from 'zod';
import { comparisonSchema, renderComparison } from '../../analysis/compare.js';
import { resolveSource } from '../../analysis/source.js';
import { COMPARE_LIMIT, COMPARE_PACKETS, MAX_CHARS, MAX_OFFSET } from '../../limits.js';
import { captureLink } from '../resources.js';
import { defineTool, textResult } from '../tool.js';
import {
  cutAtLine,
  givenArgs,
  dissectionParams,
  keylogParam,
  maxCharsParam,
  readOptions,
  sourceParam,
} from './analysis-params.js';

const inputSchema = z.object({
  baseline: sourceParam
    .meta({ brief: 'The capture that works.' })
    .describe('The capture that works (a file path or a capture session ID).'),
  candidate: sourceParam
    .meta({ brief: 'The one that does not.' })
    .describe('The capture that does not (a file path or a capture session ID).'),
  sslKeylogFile: keylogParam,
  ...dissectionParams,
  limit: z
    .number()
    .int()
    .min(COMPARE_LIMIT.min)
    .max(COMPARE_LIMIT.max)
    .optional()
    .meta({ default: COMPARE_LIMIT.default, brief: 'Entries per section.' })
    .describe('Entries shown per section, and unmatched packets shown per capture.'),
  offset: z
    .number()
    .int()
    .min(0)
    .max(MAX_OFFSET)
    .optional()
    .meta({ brief: '' })
    .describe("Unmatched packets to skip in each capture's list, for the next page of them."),
  comparePackets: z
    .number()
    .int()
    .min(COMPARE_PACKETS.min)
    .max(COMPARE_PACKETS.max)
    .optional()
    .meta({ default: COMPARE_PACKETS.default, brief: '' })
    .describe('Packets of each capture matched one by one: the first this many of each.'),
  maxChars: maxCharsParam,
});

const outputSchema = z.object({
  baseline: z.string(),
  candidate: z.string(),
  ...comparisonSchema.shape,
  warnings: z
    .array(z.string())
    .describe('What to know about either capture (cut short, damaged and where), named by its side.'),
});

export const compareCapturesTool = defineTool({
  name: 'compare_captures',
  title: 'Compare two captures',
  brief:
    'What differs between two captures ("works with curl, fails from my app"): packets, protocols, conversations, errors.',
  description:
    'What differs between two captures, for "it works with curl but fails from my app" or "which packet did this capture lose": the packets only one capture holds (matched across capture points on the TCP 5-tuple with raw sequence/ack numbers, length and flags, or the UDP 5-tuple and a payload hash; repeats paired in order), each with its frame, time, stream and what it carried; transaction counts per protocol side by side (DNS queries, HTTP GET requests, TLS Client Hellos, SMB2 READ responses, TCP SYNs and resets...); endpoints, server ports and protocols seen in only one; TLS handshake outcomes, HTTP statuses and DNS answers that differ; expert-info counts that changed. Each source is a capture file or a capture session ID.',
  inputSchema,
  outputSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  handler: async (args, deps, ctx) => {
    const [baseline, candidate] = await Promise.all([
      resolveSource(args.baseline, 'baseline', deps.sessions, deps.sandbox, deps.uploads),
      resolveSource(args.candidate, 'candidate', deps.sessions, deps.sandbox, deps.uploads),
    ]);
    const { keylogFile, dissection } = await readOptions(deps, args, ctx.mcpReq.signal);
    const { comparison, warnings: sided } = await deps.comparer.compare(
      {
        baseline,
        candidate,
        keylogFile,
        dissection,
        packets: {
          cap: args.comparePackets ?? COMPARE_PACKETS.default,
          offset: args.offset ?? 0,
          limit: args.limit ?? COMPARE_LIMIT.default,
        },
      },
      ctx.mcpReq.signal,
    );
    const warnings = sided.map(([side, w]) => `${side}: ${w}`);
    const maxChars = args.maxChars ?? MAX_CHARS.default;
    const limit = args.limit ?? COMPARE_LIMIT.default;
    const shorter = { ...givenArgs(args), limit: Math.max(1, Math.floor(limit / 2)) };
    const text = cutAtLine(
      renderComparison({ baseline: baseline.label, candidate: candidate.label }, comparison, sided, limit, {
        more: (n) =>
          `compare_captures ${JSON.stringify({ ...givenArgs(args), limit: Math.min(n, COMPARE_LIMIT.max) })}`,
        page: (offset) => `compare_captures ${JSON.stringify({ ...givenArgs(args), offset })}`,
      }),
      maxChars,
      `[cut at maxChars ${maxChars}: for a shorter answer call compare_captures ${JSON.stringify(shorter)}]`,
    );
    return textResult(
      text,
      { baseline: baseline.label, candidate: candidate.label, ...comparison, warnings },
      [captureLink(deps, baseline), captureLink(deps, candidate)],
    );
  },
});
