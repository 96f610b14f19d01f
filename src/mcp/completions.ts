// completion/complete: what a prompt argument or a resource template's variable can be, from what
// this server has now for the asking client: its capture sessions, the saved configurations, the
// inspect_protocol kinds, the interfaces dumpcap can capture on, and files inside its roots. The
// SDK's own completion handler cannot see the request (so neither this client's sessions nor its
// roots): this one is registered in its place, for every prompt and template.
import { readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import type { CompleteResult, McpServer, ServerContext } from '@modelcontextprotocol/server';
import { INSPECT_KINDS } from '../analysis/digests/index.js';
import { isInside } from '../storage/sandbox.js';
import type { Connection, ServerDeps } from './tool.js';

/** Names of the capture files a path completion offers (any file still works when typed). */
const CAPTURE_FILE = /\.(?:pcap|pcapng|cap|ntar|erf|snoop)(?:\.gz|\.zst|\.lz4)?$/i;

/** Values one answer carries at most (the protocol's own bound). */
const MAX_VALUES = 100;

/** What an argument or variable completes to. */
export type CompletionKind = 'source' | 'session' | 'kind' | 'interface' | 'config' | 'file' | 'capture-kind';

/** Prompt arguments and template variables that complete, by what they complete to. */
const ARGUMENT_KINDS: Readonly<Record<string, CompletionKind>> = {
  source: 'source',
  kind: 'kind',
  interface: 'interface',
  config: 'config',
  keylog: 'file',
};

/** The captures template's variables (resources.ts: sharkmcp://captures/{kind}/{id}). */
export const CAPTURES_TEMPLATE = 'sharkmcp://captures/{kind}/{id}';

type Candidates = (
  deps: ServerDeps,
  value: string,
  ctx: ServerContext,
) => readonly string[] | Promise<readonly string[]>;

const COMPLETERS: Readonly<Record<CompletionKind, Candidates>> = {
  kind: (_deps, value) => INSPECT_KINDS.filter((k) => k.startsWith(value)),
  'capture-kind': (_deps, value) => ['session', 'file'].filter((k) => k.startsWith(value)),
  session: (deps, value) => sessionIds(deps, value),
  source: async (deps, value) => [...sessionIds(deps, value), ...(await paths(deps, value, true))],
  file: async (deps, value) => paths(deps, value, false),
  config: async (deps, value) =>
    (await deps.configs.list()).map((c) => c.name).filter((n) => n.startsWith(value)),
  interface: async (deps, value, ctx) =>
    (await deps.listInterfaces(ctx.mcpReq.signal)).local
      .map((i) => i.name)
      .filter((n) => n.startsWith(value)),
};

function sessionIds(deps: ServerDeps, value: string): string[] {
  return deps.sessions
    .listSync()
    .map((s) => s.id)
    .filter((id) => id.startsWith(value));
}

/**
 * Paths inside the roots that start with `value`: the roots themselves for an empty or relative
 * value, else the entries of the directory it names (directories end with "/"); only capture files
 * (and directories) when `captures`. Nothing outside the roots is listed, nor does the answer say
 * whether such a path exists.
 */
async function paths(deps: ServerDeps, value: string, captures: boolean): Promise<string[]> {
  const roots = await deps.sandbox.roots();
  const matchingRoots = roots.map((r) => `${r}/`).filter((r) => r.startsWith(value));
  if (!path.isAbsolute(value)) return matchingRoots;
  const dir = value.endsWith('/') ? value : path.dirname(value);
  const prefix = value.endsWith('/') ? '' : path.basename(value);
  // Judged where the folder really is: a symlink inside a root must not list a folder outside.
  const real = await realpath(dir).catch(() => undefined);
  if (real === undefined || !roots.some((root) => isInside(real, root))) return matchingRoots;
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.name.startsWith(prefix) && !e.name.startsWith('.'))
    .filter((e) => e.isDirectory() || !captures || CAPTURE_FILE.test(e.name))
    .map((e) => path.join(dir, e.name) + (e.isDirectory() ? '/' : ''))
    .sort();
}

function result(values: readonly string[]): CompleteResult {
  return {
    completion: {
      values: values.slice(0, MAX_VALUES),
      total: values.length,
      hasMore: values.length > MAX_VALUES,
    },
  };
}

/** What the argument (or variable) `name` of `ref` completes to, if anything. */
export function completionKind(
  ref: { readonly type: string; readonly name?: string; readonly uri?: string },
  name: string,
  promptArguments: (prompt: string) => readonly string[] | undefined,
  context: Record<string, string> | undefined,
): CompletionKind | undefined {
  if (ref.type === 'ref/prompt') {
    if (!promptArguments(ref.name ?? '')?.includes(name)) return undefined;
    return ARGUMENT_KINDS[name];
  }
  if (ref.type === 'ref/resource' && ref.uri === CAPTURES_TEMPLATE) {
    if (name === 'kind') return 'capture-kind';
    if (name === 'id') return context?.['kind'] === 'file' ? undefined : 'session';
  }
  return undefined;
}

/**
 * Answers completion/complete for this connection's prompts and templates. An argument that does
 * not complete, or a prompt or template this server does not have, gets no values (not an error:
 * the client is only asking what it could type).
 */
export function registerCompletions(
  server: McpServer,
  connection: Connection,
  promptArguments: (prompt: string) => readonly string[] | undefined,
): void {
  server.server.registerCapabilities({ completions: {} });
  server.server.setRequestHandler('completion/complete', async (request, ctx) => {
    const { ref, argument, context } = request.params;
    const kind = completionKind(ref, argument.name, promptArguments, context?.arguments);
    if (kind === undefined) return result([]);
    const complete = COMPLETERS[kind];
    const deps = connection.depsFor(ctx);
    // A completion that fails (no dumpcap, a directory gone) offers nothing rather than an error.
    const candidates = await Promise.resolve()
      .then(() => complete(deps, argument.value, ctx))
      .catch((): readonly string[] => []);
    return result(candidates);
  });
}
