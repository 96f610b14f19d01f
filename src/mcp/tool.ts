// What a tool file declares (name, schemas, annotations, a thin handler) and how the server turns
// a handler's outcome into an MCP result: a UserError becomes an `isError` result whose text says
// what to do next; anything else is unexpected and goes to the SDK.
import type {
  CallToolResult,
  McpServer,
  ResourceLink,
  ServerContext,
  ToolAnnotations,
} from '@modelcontextprotocol/server';
import type * as z from 'zod';
import type { Analyzer } from '../analysis/analyze-capture.js';
import type { Summarizer } from '../analysis/summarize.js';
import type { InterfaceListing } from '../capture/interfaces.js';
import type { SessionManager } from '../capture/sessions.js';
import type { ConfigStore } from '../config/config-store.js';
import type { KnownCaptures } from '../storage/known-captures.js';
import type { FileSandbox } from '../storage/sandbox.js';
import type { Progress, ProgressSink } from '../analysis/progress.js';
import { UserError } from '../errors.js';
import { ToolMissingError } from '../wireshark/locate.js';
import type { WiresharkTools } from '../wireshark/locate.js';
import type { ProcessGroup } from '../wireshark/process.js';
import { describeWait } from '../wireshark/slots.js';
import type { WaitNotice } from '../wireshark/slots.js';

/** The domain services a tool handler may call. */
export interface ServerDeps {
  readonly analyzer: Analyzer;
  readonly summarizer: Summarizer;
  readonly configs: ConfigStore;
  readonly sessions: SessionManager;
  readonly listInterfaces: (signal?: AbortSignal) => Promise<InterfaceListing>;
  readonly processes: ProcessGroup;
  readonly tools: () => Promise<WiresharkTools>;
  readonly env: NodeJS.ProcessEnv;
  /** The files this connection's calls may use. */
  readonly sandbox: FileSandbox;
  /** Capture files analysed, offered as resources. */
  readonly captures: KnownCaptures;
}

type ObjectSchema = z.ZodObject<z.ZodRawShape>;

export interface ToolSpec<I extends ObjectSchema, O extends ObjectSchema | undefined> {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly inputSchema: I;
  readonly outputSchema?: O;
  readonly annotations: ToolAnnotations;
  readonly handler: (args: z.infer<I>, deps: ServerDeps, ctx: ServerContext) => Promise<CallToolResult>;
}

/** A tool as the registry holds it: its public description and a way to register it. */
export interface Tool {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly inputSchema: ObjectSchema;
  readonly outputSchema: ObjectSchema | undefined;
  readonly annotations: ToolAnnotations;
  register(server: McpServer, deps: ServerDeps): void;
}

export function defineTool<I extends ObjectSchema, O extends ObjectSchema | undefined = undefined>(
  spec: ToolSpec<I, O>,
): Tool {
  return {
    name: spec.name,
    title: spec.title,
    description: spec.description,
    inputSchema: spec.inputSchema,
    outputSchema: spec.outputSchema,
    annotations: spec.annotations,
    register(server, deps) {
      // Registered through the concrete schema type: the SDK's conditional callback type cannot be
      // resolved for a generic schema.
      const input: ObjectSchema = spec.inputSchema;
      const output: ObjectSchema | undefined = spec.outputSchema;
      server.registerTool(
        spec.name,
        {
          title: spec.title,
          description: spec.description,
          inputSchema: input,
          ...(output ? { outputSchema: output } : {}),
          annotations: { title: spec.title, ...spec.annotations },
        },
        async (args, ctx) => {
          // The call's processes keep its place in the queue for tshark slots; while one waits, a
          // client that asked for progress hears where the call stands.
          const onWait = waitSink(ctx);
          try {
            // The SDK has parsed args with spec.inputSchema; its inferred type is z.infer<I>.
            return await deps.processes.withinCall(onWait, () =>
              spec.handler(args as unknown as z.infer<I>, deps, ctx),
            );
          } catch (err) {
            if (err instanceof UserError || err instanceof ToolMissingError) return errorResult(err.message);
            throw err;
          }
        },
      );
    },
  };
}

export function errorResult(message: string): CallToolResult {
  return { content: [{ type: 'text', text: `Error: ${message}` }], isError: true };
}

export function textResult(
  text: string,
  structuredContent?: Record<string, unknown>,
  links: readonly ResourceLink[] = [],
): CallToolResult {
  return {
    content: [{ type: 'text', text }, ...links],
    ...(structuredContent ? { structuredContent } : {}),
  };
}

/** A request's progress sink, and the last progress it sent. */
const progressOf = new WeakMap<ServerContext, { sink: ProgressSink; last: Progress | undefined }>();

/**
 * Progress notifications for this request, when the client asked for them with a progress token.
 * One sink per request, which remembers what it last sent (see waitSink).
 */
export function progressSink(ctx: ServerContext): ProgressSink | undefined {
  const token = ctx.mcpReq._meta?.progressToken;
  if (token === undefined) return undefined;
  let state = progressOf.get(ctx);
  if (!state) {
    const entry: { sink: ProgressSink; last: Progress | undefined } = {
      last: undefined,
      sink: (p) => {
        entry.last = p;
        void ctx.mcpReq
          .notify({ method: 'notifications/progress', params: { progressToken: token, ...p } })
          .catch(() => undefined);
      },
    };
    progressOf.set(ctx, entry);
    state = entry;
  }
  return state.sink;
}

/**
 * "waiting for a tshark slot" notices for this request, as progress that stays where it was (a
 * step may wait after others have run, and progress must not go back).
 */
function waitSink(ctx: ServerContext): ((notice: WaitNotice) => void) | undefined {
  const sink = progressSink(ctx);
  if (!sink) return undefined;
  return (notice) => {
    const last = progressOf.get(ctx)?.last;
    sink({ progress: last?.progress ?? 0, total: last?.total, message: describeWait(notice) });
  };
}
