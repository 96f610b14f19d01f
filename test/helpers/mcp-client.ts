// A real MCP client (the SDK's) that spawns the built `sharkmcp` bin over stdio, as a user's MCP
// client would.
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { CLI, SHARED_CAPTURES } from './paths.js';

export interface ToolAnswer {
  readonly text: string;
  readonly isError: boolean;
  readonly structured: Record<string, unknown> | undefined;
  /** The URIs of the resource links that came with it. */
  readonly links: readonly string[];
}

export interface Session {
  readonly client: Client;
  readonly pid: number | null;
  call(name: string, args: Record<string, unknown>): Promise<ToolAnswer>;
  close(): Promise<void>;
}

/** The environment a test server runs with: this one's, with `env` on top. */
export function serverEnv(env: Record<string, string>): Record<string, string> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      (e): e is [string, string] => e[1] !== undefined && e[0] !== 'SSLKEYLOGFILE',
    ),
  );
  // Tests keep their captures in the temp directory and read the shared corpus.
  return { ...base, SHARKMCP_ALLOWED_DIRS: [os.tmpdir(), SHARED_CAPTURES].join(path.delimiter), ...env };
}

/** Spawns the built server (behind `wrapper`, e.g. a command that drops privileges) and connects. */
export async function connect(
  env: Record<string, string> = {},
  wrapper: readonly string[] = [],
): Promise<Session> {
  const transport = new StdioClientTransport({
    command: wrapper[0] ?? process.execPath,
    args: wrapper.length > 0 ? [...wrapper.slice(1), process.execPath, CLI] : [CLI],
    env: serverEnv(env),
    stderr: 'pipe',
  });
  const client = new Client({ name: 'sharkmcp-tests', version: '1.0.0' });
  await client.connect(transport);
  return {
    client,
    pid: transport.pid,
    async call(name, args) {
      return readAnswer(await client.callTool({ name, arguments: args }));
    },
    close: () => client.close(),
  };
}

/** A tool result as tests read it: its text, whether it is an error, its structured content. */
export function readAnswer(result: {
  readonly content?: unknown;
  readonly isError?: unknown;
  readonly structuredContent?: unknown;
}): ToolAnswer {
  const content = (result.content ?? []) as { type: string; text?: string; uri?: string }[];
  return {
    text: content
      .filter((c) => c.type === 'text')
      .map((c) => c.text ?? '')
      .join('\n'),
    isError: result.isError === true,
    structured: result.structuredContent as Record<string, unknown> | undefined,
    links: content.filter((c) => c.type === 'resource_link').map((c) => c.uri ?? ''),
  };
}

/** The packet lines of an analysis answer (everything after "Packet Analysis Results:"). */
export function resultBody(text: string): string {
  const marker = 'Packet Analysis Results:\n';
  const at = text.indexOf(marker);
  if (at === -1) throw new Error(`not an analysis answer:\n${text}`);
  return text.slice(at + marker.length);
}

/**
 * Registers before/after hooks that give the enclosing suite a temporary directory and a server
 * (storing configurations in that directory; spawned by `open`), and remove both afterwards.
 */
export function useServer(
  env: Record<string, string> = {},
  open: (env: Record<string, string>) => Promise<Session> = connect,
): { readonly mcp: Session; readonly dir: string } {
  const state: { mcp?: Session; dir?: string } = {};
  before(async () => {
    state.dir = await mkdtemp(path.join(os.tmpdir(), 'sharkmcp-test-'));
    state.mcp = await open({ SHARKMCP_CONFIG_DIR: path.join(state.dir, 'config'), ...env });
  });
  after(async () => {
    try {
      await state.mcp?.close();
    } finally {
      if (state.dir) await rm(state.dir, { recursive: true, force: true });
    }
  });
  return {
    get mcp(): Session {
      if (!state.mcp) throw new Error('the server starts in before()');
      return state.mcp;
    },
    get dir(): string {
      if (!state.dir) throw new Error('the directory is made in before()');
      return state.dir;
    },
  };
}
