// The client's MCP roots, asked for the way each protocol era lets them arrive. On a 2025-era
// connection the server sends roots/list inside the first call that needs a path, related to that
// call, so over HTTP it travels on that call's own response stream; the answer is kept until the
// client says its roots changed. A client that does not answer within a few seconds, or fails, is
// not asked again until it announces a change, and its calls use the operator's directories. On a
// 2026-07-28 request there is no server-to-client request: the call is answered with an
// input_required result that embeds roots/list, and the client's retry carries the answer.
import { fileURLToPath } from 'node:url';
import type { McpServer, ServerContext } from '@modelcontextprotocol/server';
import type { Logger } from '../util/log.js';

/** How long the server waits for a client's roots/list answer. */
export const ROOTS_TIMEOUT_MS = 3_000;
/** The key of the embedded roots/list request in an input_required result. */
export const ROOTS_INPUT_KEY = 'roots';

type Fetched = { readonly ok: true; readonly paths: readonly string[] } | { readonly ok: false };

export class ClientRoots {
  private fetched: Promise<Fetched> | undefined;

  constructor(
    private readonly server: McpServer,
    private readonly era: 'legacy' | 'modern',
    private readonly logger: Logger,
    private readonly timeoutMs = ROOTS_TIMEOUT_MS,
  ) {}

  /** Whether the client says it has roots at all. */
  declared(): boolean {
    return this.server.server.getClientCapabilities()?.roots !== undefined;
  }

  /**
   * On a 2026-07-28 request from a client with roots: the call must first come back with them
   * (answer it with an input_required result that embeds roots/list).
   */
  mustAskInBand(ctx: ServerContext): boolean {
    return (
      this.era === 'modern' && this.declared() && ctx.mcpReq.inputResponses?.[ROOTS_INPUT_KEY] === undefined
    );
  }

  /** The client changed its roots: the next call asks again. */
  invalidate(): void {
    this.fetched = undefined;
  }

  /**
   * The client's roots as paths, for the call `ctx` (undefined: it offers none, or did not answer,
   * and the operator's directories apply).
   */
  async forCall(ctx: ServerContext): Promise<readonly string[] | undefined> {
    if (!this.declared()) return undefined;
    const embedded = ctx.mcpReq.inputResponses?.[ROOTS_INPUT_KEY];
    if (embedded !== undefined) return pathsOf(embedded);
    if (this.era === 'modern') return undefined;
    this.fetched ??= this.ask(ctx);
    const result = await this.fetched;
    return result.ok ? result.paths : undefined;
  }

  private async ask(ctx: ServerContext): Promise<Fetched> {
    try {
      const answer = await ctx.mcpReq.send({ method: 'roots/list' }, { timeout: this.timeoutMs });
      return { ok: true, paths: pathsOf(answer) ?? [] };
    } catch (err) {
      const why =
        (err as { code?: unknown }).code === 'REQUEST_TIMEOUT'
          ? `did not answer roots/list within ${this.timeoutMs / 1000} s`
          : `answered roots/list with an error (${err instanceof Error ? err.message : String(err)})`;
      this.logger.warning(
        `The MCP client ${why}; its calls use the operator's directories (--allow-dir) until it sends notifications/roots/list_changed.`,
      );
      return { ok: false };
    }
  }
}

/** The file:// roots of a roots/list answer as paths; undefined when it is not such an answer. */
export function pathsOf(answer: unknown): string[] | undefined {
  const roots = (answer as { roots?: unknown } | undefined)?.roots;
  if (!Array.isArray(roots)) return undefined;
  return roots.flatMap((r: unknown) => {
    const uri = (r as { uri?: unknown }).uri;
    if (typeof uri !== 'string' || !uri.startsWith('file://')) return [];
    try {
      return [fileURLToPath(uri)];
    } catch {
      return [];
    }
  });
}
