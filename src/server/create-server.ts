// The server factory: one set of domain services (Wireshark tools, analysis, saved
// configurations, the child processes they own) and a way to build an MCP server over them for
// each connection. stdio and (later) HTTP entry points both start here; close() ends every child.
import { inputRequired, McpServer } from '@modelcontextprotocol/server';
import type { ServerContext } from '@modelcontextprotocol/server';
import { ClientRoots, ROOTS_INPUT_KEY } from '../mcp/client-roots.js';
import os from 'node:os';
import { Analyzer } from '../analysis/analyze-capture.js';
import { Comparer } from '../analysis/comparer.js';
import { PacketMatcher } from '../analysis/packet-match.js';
import { EXPORT_MEMORY_ROOM, Exporter } from '../analysis/exports.js';
import { FieldFinder } from '../analysis/field-search.js';
import { StreamFollower } from '../analysis/follow.js';
import { ProtocolInspector } from '../analysis/inspect.js';
import { Plotter } from '../analysis/plot/index.js';
import { CaptureStatistics } from '../analysis/statistics.js';
import { ConfigStore, defaultConfigDir } from '../config/config-store.js';
import { listInterfaces } from '../capture/interfaces.js';
import { OwnedSessions } from '../capture/owned-sessions.js';
import { SessionManager } from '../capture/sessions.js';
import { SocketSampler } from '../processes/sampler.js';
import {
  ANALYSIS_TIMEOUT_MS,
  MAX_RUNNING_SESSIONS,
  MAX_TOTAL_CAPTURE_BYTES,
  UPLOAD_LIMITS,
} from '../limits.js';
import { namesAPath } from '../mcp/tool.js';
import type { Connection, ServerDeps } from '../mcp/tool.js';
import { promptArguments, registerPrompts } from '../mcp/prompts.js';
import { registerCompletions } from '../mcp/completions.js';
import { serveSubscriptions } from '../mcp/subscriptions.js';
import { registerResources } from '../mcp/resources.js';
import { KnownCaptures } from '../storage/known-captures.js';
import { TOOLS } from '../mcp/tools/index.js';
import { parseToolsets, servedTools, toolsetsAdvice, unknownToolsets } from '../mcp/toolsets.js';
import { renderInstructions, renderToolReference } from '../mcp/reference.js';
import { PACKAGE } from '../version.js';
import { locateWiresharkTools } from '../wireshark/locate.js';
import { positiveIntFromEnv, startEarly } from './early-start.js';
import type { EarlyStart } from './early-start.js';
import type { WiresharkTools } from '../wireshark/locate.js';
import type { ProcessGroup } from '../wireshark/process.js';
import { describeWait } from '../wireshark/slots.js';
import { RuntimeDir } from '../storage/runtime-dir.js';
import { UploadStore } from '../capture/uploads.js';
import { defaultChunking, Summarizer } from '../analysis/summary/index.js';
import { allowedDirsFromEnv, FileSandbox } from '../storage/sandbox.js';
import { Logger } from '../util/log.js';
import { conversationCounter } from '../wireshark/native.js';

export interface ServerOptions {
  /** Environment to read overrides from (SHARKMCP_*, SSLKEYLOGFILE). Default: process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Where saved configurations live. Default: SHARKMCP_CONFIG_DIR, else the user's config directory. */
  readonly configDir?: string;
  /** Longest one tshark analysis may run. */
  readonly analysisTimeoutMs?: number;
  /** Where the server's private directory is made. Default: the system temp directory. */
  readonly runtimeParent?: string;
  /** Capture sessions running at once. */
  readonly maxRunningSessions?: number;
  /** Where domain events are logged (besides each client's logging notifications). */
  readonly logger?: Logger;
  /** Directories every caller may use besides its MCP roots. Default: SHARKMCP_ALLOWED_DIRS. */
  readonly allowedDirs?: readonly string[];
  /** All capture files together, in bytes. */
  readonly maxTotalCaptureBytes?: number;
  /** Wireshark analysis processes (all but dumpcap) running at once. Default: SHARKMCP_MAX_TSHARK, else defaultProcessCap(). */
  readonly maxTsharkProcesses?: number;
  /** The process group and tool search, when begun before this module loaded (startEarly); maxTsharkProcesses is then theirs. */
  readonly early?: EarlyStart;
  /** Toolsets to serve (mcp/toolsets.ts); the seed's tools always. Default: SHARKMCP_TOOLSETS, else all. */
  readonly toolsets?: readonly string[];
}

/** What the transport knows about the connection a server instance serves. */
export interface ConnectionOptions {
  /** The protocol era: a 2025-era connection, or one 2026-07-28 request. Default: legacy. */
  readonly era?: 'legacy' | 'modern';
  /**
   * Whose capture sessions this connection sees (and starts): an HTTP client's MCP session, read
   * when a call comes (it is known only after the handshake). Default: the shared pool.
   */
  readonly owner?: () => string | undefined;
}

export interface SharkServer {
  /** Problems with the server's own settings (environment), to report at start-up. */
  readonly warnings: readonly string[];
  /** A new MCP server over the shared services, for one connection (or one 2026-07-28 request). */
  createMcpServer(connection?: ConnectionOptions): McpServer;
  /** Wireshark's tools, located once at start-up. */
  readonly tools: Promise<WiresharkTools>;
  readonly processes: ProcessGroup;
  readonly configs: ConfigStore;
  readonly sessions: SessionManager;
  /** Captures sent over HTTP (served by http.ts). */
  readonly uploads: UploadStore;
  readonly logger: Logger;
  /** Stops every child process this server owns and refuses new ones. */
  close(): Promise<void>;
}

/** The whole tool reference (sharkmcp://reference/tools), made when it is first read. */
let reference: string | undefined;
const toolReference = (): string => (reference ??= renderToolReference(TOOLS));

export function createServer(options: ServerOptions = {}): SharkServer {
  const env = options.env ?? process.env;
  const warnings: string[] = [];
  const early = options.early ?? startEarly(env, options.maxTsharkProcesses);
  warnings.push(...early.warnings);
  const { processes, tools } = early;
  // The tools this server serves: a toolset name it does not know is said, and left out.
  const toolsets = options.toolsets ?? parseToolsets(env['SHARKMCP_TOOLSETS'] ?? '');
  const unknown = unknownToolsets(toolsets);
  if (unknown.length > 0) warnings.push(`SHARKMCP_TOOLSETS: ${toolsetsAdvice(unknown)}`);
  const servedList = servedTools(TOOLS, toolsets);
  const instructions = renderInstructions(servedList);
  const configs = new ConfigStore(options.configDir ?? defaultConfigDir(env));
  const runtimeDir = new RuntimeDir(options.runtimeParent);
  const analysisTimeoutMs = options.analysisTimeoutMs ?? ANALYSIS_TIMEOUT_MS;
  const logger = options.logger ?? new Logger();
  // Each index built is logged: what it cost and holds is seen (npm run bench reads the line).
  const analyzer = new Analyzer(processes, () => tools, {
    timeoutMs: analysisTimeoutMs,
    runtimeDir,
    // Drill-downs deep in large captures read cuts, told by each capture's stream index.
    buildStreams: true,
    onIndexBuilt: (file, f) =>
      logger.info(
        `${f.kind} index of ${file}: ${f.frames} frames, ${f.bytes} bytes held, built in ${Math.round(f.ms)} ms${f.from ? ` ${f.from}` : ''} (all indexes: ${f.heldBytes} bytes)`,
      ),
  });
  const follower = new StreamFollower(
    processes,
    () => tools,
    analysisTimeoutMs,
    analyzer.sparse && { sparse: analyzer.sparse, dir: () => runtimeDir.path() },
  );
  const inspector = new ProtocolInspector(processes, () => tools, analyzer, analysisTimeoutMs);
  const plotter = new Plotter(processes, () => tools, analyzer, analysisTimeoutMs);
  const summarizer = new Summarizer(
    processes,
    () => tools,
    () => runtimeDir.path(),
    defaultChunking(positiveIntFromEnv(env, 'SHARKMCP_SUMMARY_WORKERS', os.availableParallelism(), warnings)),
    (tsharkVersion) => conversationCounter(tsharkVersion, env),
  );
  if (analyzer.frameIndexes) summarizer.keepStreamsIn(analyzer.frameIndexes, analysisTimeoutMs);
  const comparer = new Comparer(
    inspector,
    summarizer,
    new PacketMatcher(processes, () => tools, analysisTimeoutMs),
  );
  const statistics = new CaptureStatistics(processes, () => tools, analyzer, analysisTimeoutMs);
  // editcap is looked for on the first export that embeds a keylog: nothing else needs it.
  let editcap: Promise<WiresharkTools> | undefined;
  const exporter = new Exporter(
    processes,
    {
      tools: () => tools,
      editcap: async () =>
        (await (editcap ??= locateWiresharkTools(processes, env, undefined, ['editcap']))).require('editcap'),
      workDir: () => runtimeDir.path(),
    },
    analyzer,
    analysisTimeoutMs,
    positiveIntFromEnv(env, 'SHARKMCP_EXPORT_MEMORY_MB', EXPORT_MEMORY_ROOM / 1e6, warnings) * 1e6,
  );
  const fields = new FieldFinder(analyzer.glossary);
  // Process attribution on Linux, unless SHARKMCP_PROCESS_ATTRIBUTION=0 turns it off.
  const sampler =
    env['SHARKMCP_PROCESS_ATTRIBUTION'] !== '0' && SocketSampler.available()
      ? new SocketSampler()
      : undefined;
  const sessions = new SessionManager(
    processes,
    () => tools,
    runtimeDir,
    {
      maxRunning:
        options.maxRunningSessions ??
        positiveIntFromEnv(env, 'SHARKMCP_MAX_SESSIONS', MAX_RUNNING_SESSIONS, warnings),
      totalBytes:
        options.maxTotalCaptureBytes ??
        positiveIntFromEnv(env, 'SHARKMCP_MAX_CAPTURE_MB', MAX_TOTAL_CAPTURE_BYTES / 1e6, warnings) * 1e6,
    },
    { logger, sampler },
  );
  const uploads = new UploadStore(processes, () => tools, runtimeDir, {
    maxBytes: positiveIntFromEnv(env, 'SHARKMCP_MAX_UPLOAD_MB', UPLOAD_LIMITS.maxMB, warnings) * 1e6,
    quotaBytes: positiveIntFromEnv(env, 'SHARKMCP_UPLOAD_QUOTA_MB', UPLOAD_LIMITS.quotaMB, warnings) * 1e6,
    ttlMs:
      positiveIntFromEnv(env, 'SHARKMCP_UPLOAD_TTL_MINUTES', UPLOAD_LIMITS.ttlMinutes, warnings) * 60_000,
  });
  // Made now rather than on first use, so leftovers of a server that died are swept at start-up.
  void runtimeDir.path().catch(() => undefined);
  const allowedDirs = options.allowedDirs ?? allowedDirsFromEnv(env);
  const captures = new KnownCaptures();
  const shared: Omit<ServerDeps, 'sandbox' | 'sessions'> = {
    captures,
    uploads,
    analyzer,
    summarizer,
    comparer,
    exporter,
    follower,
    inspector,
    plotter,
    statistics,
    fields,
    configs,
    env,
    calls: {
      withinCall: (onWait, fn) =>
        processes.withinCall(onWait && ((notice) => onWait(describeWait(notice))), fn),
    },
    listInterfaces: async (signal) => {
      const t = await tools;
      const tshark = t.status('tshark');
      return listInterfaces(
        processes,
        { dumpcap: t.require('dumpcap'), tshark: tshark.found ? tshark.path : undefined },
        signal,
      );
    },
  };

  return {
    warnings,
    tools,
    processes,
    configs,
    sessions,
    uploads,
    logger,
    createMcpServer(connection: ConnectionOptions = {}) {
      const era = connection.era ?? 'legacy';
      const owner = connection.owner ?? ((): undefined => undefined);
      const server = new McpServer(
        { name: 'SharkMCP', version: PACKAGE.version },
        { capabilities: { tools: {}, logging: {}, prompts: {}, resources: {} }, instructions },
      );
      // Each connection has its own client, so its own roots; each call its own sandbox over them.
      const roots = new ClientRoots(server, era, logger);
      server.server.setNotificationHandler('notifications/roots/list_changed', () => roots.invalidate());
      const sandboxFor = (ctx: ServerContext): FileSandbox =>
        new FileSandbox(
          allowedDirs,
          () => runtimeDir.path(),
          () => roots.forCall(ctx),
        );
      const served: Connection = {
        era,
        depsFor: (ctx) => ({
          ...shared,
          sessions: new OwnedSessions(sessions, owner()),
          sandbox: sandboxFor(ctx),
        }),
        askFirst: (args, ctx) =>
          roots.mustAskInBand(ctx) && namesAPath(args, (id) => sessions.get(id, owner()) !== undefined)
            ? inputRequired({ inputRequests: { [ROOTS_INPUT_KEY]: inputRequired.listRoots() } })
            : undefined,
      };
      if (era === 'legacy') {
        // This client's logging notifications, filtered by the level it sets. (A 2026-07-28 request
        // has no connection to log to: its instance lives for one call.)
        const removeSink = logger.add((level, message, about) => {
          // Another client's capture is none of this client's business.
          if (!server.isConnected() || (about !== undefined && about.owner !== owner())) return;
          void server.sendLoggingMessage({ level, logger: 'sharkmcp', data: message }).catch(() => undefined);
        });
        // Resources are the captures: tell the client when its list changes.
        const unwatch = sessions.onChange((session) => {
          if (server.isConnected() && session.owner === owner()) server.sendResourceListChanged();
        });
        // A client that subscribes to a running session's resource hears its packets arrive.
        const unsubscribe = serveSubscriptions(server, sessions, owner);
        const previousOnClose = server.server.onclose;
        server.server.onclose = () => {
          removeSink();
          unwatch();
          unsubscribe();
          previousOnClose?.();
        };
      }
      for (const tool of servedList) tool.register(server, served);
      registerPrompts(server);
      registerResources(server, served, toolReference);
      registerCompletions(server, served, promptArguments);
      return server;
    },
    close: async () => {
      sampler?.close();
      uploads.close();
      await processes.close();
      await runtimeDir.close();
    },
  };
}
