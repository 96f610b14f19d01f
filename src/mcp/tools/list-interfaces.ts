// list_interfaces: what can be captured on, from dumpcap's machine listing, extcap sources apart.
import * as z from 'zod';
import { interfaceListingSchema } from '../../capture/interfaces.js';
import { defineTool, textResult } from '../tool.js';

const outputSchema = interfaceListingSchema;

export const listInterfacesTool = defineTool({
  name: 'list_interfaces',
  title: 'List capture interfaces',
  brief: 'Interfaces start_capture_session can capture on, and remote sources (extcap).',
  description:
    'List the interfaces start_capture_session can capture on: name, description, addresses and a loopback flag; remote and special sources (extcap, such as sshdump) are listed apart.',
  inputSchema: z.object({}),
  outputSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  handler: async (_args, deps, ctx) => {
    const { local, extcap } = await deps.listInterfaces(ctx.mcpReq.signal);
    const lines = [`Capture interfaces (${local.length}):`];
    for (const i of local) {
      const parts = [
        i.name,
        i.loopback ? 'loopback' : undefined,
        i.description || undefined,
        i.addresses.join(', ') || undefined,
      ];
      lines.push(`• ${i.number}. ${parts.filter((p) => p !== undefined).join(' — ')}`);
    }
    if (extcap.length > 0) {
      lines.push(
        '',
        `Remote and special sources (extcap, ${extcap.length}; start_capture_session does not capture from these yet):`,
      );
      for (const e of extcap) lines.push(`• ${e.name} — ${e.description} (${e.tool})`);
    }
    return textResult(lines.join('\n'), { local: [...local], extcap: [...extcap] });
  },
});
