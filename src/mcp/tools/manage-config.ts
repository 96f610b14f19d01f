// manage_config: save, load, list, view and delete named configurations, with the seed's actions
// and answer texts.
import * as z from 'zod';
import { configFieldsSchema } from '../../config/config-store.js';
import type { SavedConfig } from '../../config/config-store.js';
import { UserError } from '../../errors.js';
import { defineTool, textResult } from '../tool.js';

const ACTIONS = ['save', 'load', 'list', 'view', 'delete'] as const;

const inputSchema = z.object({
  action: z
    .enum(ACTIONS)
    .meta({ brief: '' })
    .describe('Action to perform: save, load, list (brief), view (detailed), or delete a configuration'),
  name: z
    .string()
    .max(64)
    .optional()
    .meta({ brief: 'For save, load and delete.' })
    .describe('Name of the configuration (required for save, load, delete); letters, digits, ".", "_", "-".'),
  detailed: z
    .boolean()
    .optional()
    .meta({ default: false, brief: 'With list: every field.' })
    .describe('Show detailed configuration info when listing (only used with list action)'),
  config: configFieldsSchema
    .optional()
    .meta({ brief: 'For save.' })
    .describe('Configuration object (required for save action)'),
});

const savedConfigSchema = configFieldsSchema.extend({ name: z.string() });
const outputSchema = z.object({
  action: z.enum(ACTIONS),
  configs: z.array(savedConfigSchema).describe('The configurations this answer is about.'),
  file: z.string().describe('The file the configurations are stored in.'),
});

const RULE = '─'.repeat(50);
const WIDE_RULE = '─'.repeat(60);

export const manageConfigTool = defineTool({
  name: 'manage_config',
  title: 'Manage saved configurations',
  brief: 'Save, load, list, view or delete named sets of parameters, which configName applies.',
  description:
    'Save, load, list, view or delete reusable named configurations of capture and analysis parameters (captureFilter, displayFilter, outputFormat, customFields, decodeAs, preferences, timeout, maxPackets, interface). Pass configName to another tool to use one: it fills the parameters that call leaves out, and arguments given explicitly win.',
  inputSchema,
  outputSchema,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  handler: async (args, deps, ctx) => {
    const store = deps.configs;
    const answer = (text: string, configs: SavedConfig[]): ReturnType<typeof textResult> =>
      textResult(text, { action: args.action, configs, file: store.filePath });
    const requireName = (): string => {
      if (args.name === undefined || args.name === '') {
        throw new UserError(`name is required for the ${args.action} action.`);
      }
      return args.name;
    };

    switch (args.action) {
      case 'save': {
        if (args.name === undefined || args.config === undefined) {
          throw new UserError('Both name and config are required for save action.');
        }
        // Rules and preferences are checked against tshark now, not first when a call uses them.
        const { decodeAs = [], preferences = [] } = args.config;
        await deps.analyzer.checkDissection(
          { decodeAs, preferences },
          { decodeAs: ' (in config)', preferences: ' (in config)' },
          ctx.mcpReq.signal,
        );
        const { replaced, config } = await store.save(args.name, args.config);
        return answer(
          `Configuration '${config.name}' ${replaced ? 'replaced' : 'saved'} successfully!\n\nSaved config:\n${JSON.stringify(config, null, 2)}\n\nStored in ${store.filePath}.`,
          [config],
        );
      }
      case 'load': {
        const name = requireName();
        const config = await store.get(name);
        if (!config) throw new UserError(await notFound(name, deps.configs.list()));
        return answer(`Configuration '${name}' loaded:\n\n${JSON.stringify(config, null, 2)}`, [config]);
      }
      case 'list': {
        const all = await store.list();
        if (all.length === 0) return answer(`No saved configurations found (${store.filePath}).`, []);
        if (args.detailed) {
          const detailed = all.map(describe).join(`\n\n${RULE}\n\n`);
          return answer(
            `Available configurations (${all.length}) - Detailed View:\n\n${RULE}\n\n${detailed}\n\n${RULE}\n\nUse 'load' action with a specific name to get the full JSON configuration.`,
            all,
          );
        }
        const brief = all.map((c) => `• ${c.name}${c.description ? `: ${c.description}` : ''}`).join('\n');
        return answer(
          `Available configurations (${all.length}):\n\n${brief}\n\nUse 'load' action to get full details of any configuration, or use 'view' action to see all configurations with full details.`,
          all,
        );
      }
      case 'view': {
        const all = await store.list();
        if (all.length === 0) return answer(`No saved configurations found (${store.filePath}).`, []);
        const details = all
          .map((c) => `${c.name}:\n${JSON.stringify(c, null, 2)}`)
          .join(`\n\n${WIDE_RULE}\n\n`);
        return answer(
          `All configurations (${all.length}) - Full Details:\n\n${WIDE_RULE}\n\n${details}\n\n${WIDE_RULE}`,
          all,
        );
      }
      case 'delete': {
        const name = requireName();
        if (!(await store.delete(name))) throw new UserError(await notFound(name, deps.configs.list()));
        return answer(`Configuration '${name}' deleted successfully.`, []);
      }
    }
  },
});

async function notFound(name: string, listing: Promise<SavedConfig[]>): Promise<string> {
  const names = (await listing).map((c) => c.name);
  return `Configuration '${name}' not found. ${
    names.length === 0 ? 'No configuration is saved yet.' : `Saved configurations: ${names.join(', ')}.`
  }`;
}

function describe(c: SavedConfig): string {
  const lines = [`Name: ${c.name}`];
  if (c.description) lines.push(`Description: ${c.description}`);
  if (c.captureFilter) lines.push(`Capture Filter: ${c.captureFilter}`);
  if (c.displayFilter) lines.push(`Display Filter: ${c.displayFilter}`);
  if (c.outputFormat) lines.push(`Output Format: ${c.outputFormat}`);
  if (c.customFields) lines.push(`Custom Fields: ${c.customFields}`);
  if (c.interface) lines.push(`Interface: ${c.interface}`);
  if (c.timeout !== undefined) lines.push(`Timeout: ${c.timeout}s`);
  if (c.maxPackets !== undefined) lines.push(`Max Packets: ${c.maxPackets}`);
  if (c.decodeAs?.length) lines.push(`Decode As: ${c.decodeAs.join('; ')}`);
  if (c.preferences?.length) lines.push(`Preferences: ${c.preferences.join('; ')}`);
  return lines.join('\n  ');
}
