// What a tool file declares (name, schemas, annotations, a thin handler) and how the server turns
// a handler's outcome into an MCP result: a UserError becomes an `isError` result whose text says
// what to do next; anything else is unexpected and goes to the SDK.
import type {
  CallToolResult,
  InputRequiredResult,
  McpServer,
  ResourceLink,
  ServerContext,
  ToolAnnotations,
} from '@modelcontextprotocol/server';
import * as z from 'zod';
import type { Analyzer } from '../analysis/analyze-capture.js';
import type { Comparer } from '../analysis/comparer.js';
import type { Exporter } from '../analysis/exports.js';
import type { FieldFinder } from '../analysis/field-search.js';
import type { Summarizer } from '../analysis/summary/index.js';
import type { StreamFollower } from '../analysis/follow.js';
import type { ProtocolInspector } from '../analysis/inspect.js';
import type { Plotter } from '../analysis/plot/index.js';
import type { CaptureStatistics } from '../analysis/statistics.js';
import type { InterfaceListing } from '../capture/interfaces.js';
import type { OwnedSessions } from '../capture/owned-sessions.js';
import type { UploadLookup } from '../analysis/source.js';
import type { ConfigStore } from '../config/config-store.js';
import type { KnownCaptures } from '../storage/known-captures.js';
import type { FileSandbox } from '../storage/sandbox.js';
import type { Progress, ProgressSink } from '../util/progress.js';
import { UserError } from '../errors.js';
import { LISTED_OUTPUT, listedAnnotations, listedAs, listedInput } from './listed-schema.js';

/**
 * One call's place in the queue for Wireshark processes: `fn` runs as one call, and while a step
 * waits for a process slot, `onWait` hears why in words.
 */
export interface CallScope {
  withinCall<T>(onWait: ((message: string) => void) | undefined, fn: () => Promise<T>): Promise<T>;
}

/** The domain services a tool handler may call. */
export interface ServerDeps {
  readonly analyzer: Analyzer;
  readonly summarizer: Summarizer;
  readonly comparer: Comparer;
  /** follow_stream's pages. */
  readonly follower: StreamFollower;
  /** inspect_protocol's digests and their pages. */
  readonly inspector: ProtocolInspector;
  /** plot_capture's pictures and their numbers. */
  readonly plotter: Plotter;
  /** capture_statistics's grouped counts and time series. */
  readonly statistics: CaptureStatistics;
  /** export_packets' and export_objects' writing. */
  readonly exporter: Exporter;
  /** list_fields's search of tshark's field list. */
  readonly fields: FieldFinder;
  readonly configs: ConfigStore;
  /** The capture sessions this client may see. */
  readonly sessions: OwnedSessions;
  /** Captures sent over HTTP, by id (capture/uploads.ts). */
  readonly uploads: UploadLookup;
  readonly listInterfaces: (signal?: AbortSignal) => Promise<InterfaceListing>;
  readonly calls: CallScope;
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
  /**
   * What tools/list says of the tool, when shorter than `description`: every agent reads the list
   * before it asks anything. The README's reference and sharkmcp://reference/tools keep the whole.
   */
  readonly brief?: string;
  readonly inputSchema: I;
  readonly outputSchema?: O;
  readonly annotations: ToolAnnotations;
  readonly handler: (args: z.infer<I>, deps: ServerDeps, ctx: ServerContext) => Promise<CallToolResult>;
}

/** How one MCP connection serves a call: the services as the call sees them, and what it must ask first. */
export interface Connection {
  /** A 2025-era connection, or one 2026-07-28 request. */
  readonly era: 'legacy' | 'modern';
  /** The services for this call (its sandbox judges paths against this client's roots). */
  depsFor(ctx: ServerContext): ServerDeps;
  /**
   * An answer to give instead of running the call: on a 2026-07-28 request that names a path from
   * a client with roots, the input_required result that asks for them first.
   */
  askFirst(args: Record<string, unknown>, ctx: ServerContext): InputRequiredResult | undefined;
}

/** A tool as the registry holds it: its public description and a way to register it. */
export interface Tool {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly inputSchema: ObjectSchema;
  readonly outputSchema: ObjectSchema | undefined;
  readonly annotations: ToolAnnotations;
  register(server: McpServer, connection: Connection): void;
}

/**
 * The tool's parameters, refusing any it does not have: a misspelt "captureFliter" ignored in
 * silence would capture everything. The refusal names the parameters there are.
 */
function strictInput(name: string, schema: ObjectSchema): ObjectSchema {
  const known = Object.keys(schema.shape);
  return z.strictObject(schema.shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `${name} has no parameter ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}; use ${
            known.length === 0 ? 'none' : `only ${known.join(', ')}`
          }.`
        : undefined,
  });
}

export function defineTool<I extends ObjectSchema, O extends ObjectSchema | undefined = undefined>(
  spec: ToolSpec<I, O>,
): Tool {
  const strict = strictInput(spec.name, spec.inputSchema);
  // The listed schemas are made once, on first use: a server is made per connection, and per
  // request on the 2026-07-28 revision (all tools' conversions cost about 13 ms).
  let listed: { readonly input: ObjectSchema; readonly output: ObjectSchema | undefined } | undefined;
  const listedSchemas = (): NonNullable<typeof listed> => {
    const declared: ObjectSchema | undefined = spec.outputSchema;
    listed ??= {
      input: listedAs(strict, listedInput(strict)),
      output: declared && listedAs(declared, { ...LISTED_OUTPUT }),
    };
    return listed;
  };
  return {
    name: spec.name,
    title: spec.title,
    description: spec.description,
    inputSchema: strict,
    outputSchema: spec.outputSchema,
    annotations: spec.annotations,
    register(server, connection) {
      // Registered through the concrete schema type: the SDK's conditional callback type cannot be
      // resolved for a generic schema.
      const { input, output } = listedSchemas();
      server.registerTool(
        spec.name,
        {
          title: spec.title,
          description: spec.brief ?? spec.description,
          inputSchema: input,
          ...(output ? { outputSchema: output } : {}),
          annotations: listedAnnotations(spec.annotations),
        },
        async (args, ctx) => {
          // The call's processes keep its place in the queue for tshark slots; while one waits, a
          // client that asked for progress hears where the call stands.
          const onWait = waitSink(ctx);
          try {
            const first = connection.askFirst(args, ctx);
            if (first) return first;
            // The SDK has parsed args with spec.inputSchema; its inferred type is z.infer<I>.
            const deps = connection.depsFor(ctx);
            return await deps.calls.withinCall(onWait, () =>
              spec.handler(args as unknown as z.infer<I>, deps, ctx),
            );
          } catch (err) {
            if (err instanceof UserError) return errorResult(err.message);
            throw err;
          }
        },
      );
    },
  };
}

/** Parameters that name a file (or a capture session, which is not a path). */
const PATH_PARAMS = ['filePath', 'source', 'baseline', 'candidate', 'sslKeylogFile', 'saveTo'] as const;

/** Whether a call names a file, so its client's roots decide whether it may. */
export function namesAPath(args: Record<string, unknown>, isSession: (id: string) => boolean): boolean {
  return PATH_PARAMS.some((p) => {
    const v = args[p];
    return typeof v === 'string' && v !== '' && !isSession(v);
  });
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
function waitSink(ctx: ServerContext): ((message: string) => void) | undefined {
  const sink = progressSink(ctx);
  if (!sink) return undefined;
  return (message) => {
    const last = progressOf.get(ctx)?.last;
    sink({ progress: last?.progress ?? 0, total: last?.total, message });
  };
}
