// list_fields: tshark field names by protocol and by words of their description, for display
// filters and customFields.
import * as z from 'zod';
import { FIELD_PAGE_DEFAULT, fieldSearchFactsSchema } from '../../analysis/field-search.js';
import { givenArgs } from '../../analysis/paged-answer.js';
import { defineTool, textResult } from '../tool.js';
import { pagingParams } from './paging-params.js';

const inputSchema = z.object({
  protocol: z
    .string()
    .min(1)
    .max(64)
    .optional()
    .meta({ brief: '' })
    .describe('Only this protocol\'s fields, e.g. "dhcp", "http", "tcp" (as display filters name it).'),
  search: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .meta({ brief: 'Words, e.g. "lease time".' })
    .describe(
      'Words the field\'s name, display name or description must all contain, e.g. "your ip address" (finds dhcp.ip.your) or "lease time". Best matches first.',
    ),
  ...pagingParams({
    brief: '',
    limit: 'Fields per page.',
    limitDefault: FIELD_PAGE_DEFAULT,
    offset: 'Fields to skip.',
  }),
});

export const listFieldsTool = defineTool({
  name: 'list_fields',
  title: 'Find field names',
  brief: 'Find tshark field names by protocol or by words, with types and descriptions.',
  description:
    'Find tshark field names for displayFilter and customFields: a protocol\'s fields, or fields whose name or description holds some words ("your ip address" finds dhcp.ip.your). Each with its type (FT_FRAMENUM fields point at another frame) and description. Paged; the answer gives the total and the next call.',
  inputSchema,
  outputSchema: fieldSearchFactsSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  handler: async (args, deps, ctx) => {
    const { text, facts } = await deps.fields.page(
      { ...args, call: { tool: 'list_fields', args: givenArgs(args) } },
      ctx.mcpReq.signal,
    );
    return textResult(text, facts);
  },
});
