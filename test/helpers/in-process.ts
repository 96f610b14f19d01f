// The server inside the test's own process: the createServer() and createMcpServer() that
// `sharkmcp` runs, reached by the SDK's client through the SDK's in-memory transport. For tests of
// what the tools answer, which need no process boundary: no node to start for each test file. Tests
// about the process itself (stdio, signals, stderr, orphans after a kill) spawn it with
// mcp-client.ts instead; both give the same Session.
import assert from 'node:assert/strict';
import { Client, InMemoryTransport } from '@modelcontextprotocol/client';
import { createServer } from '../../src/server/create-server.js';
import { readAnswer, serverEnv, useServer as useSpawnedServer } from './mcp-client.js';
import type { Session } from './mcp-client.js';
import { childPids } from './processes.js';

// What tests read answers with, so that a test moves here by changing its import alone.
export { readAnswer, resultBody } from './mcp-client.js';
export type { Session, ToolAnswer } from './mcp-client.js';

/**
 * A server in this process, with the environment a spawned one would have (`env` on top), and a
 * client connected to it. close() ends the connection and every child process the server started,
 * and checks that none of them is left. `pid` is this process's: the server's children are ours.
 */
export async function connect(env: Record<string, string> = {}): Promise<Session> {
  const app = createServer({ env: serverEnv(env) });
  const server = app.createMcpServer();
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'sharkmcp-tests', version: '1.0.0' });
  try {
    await server.connect(serverSide);
    await client.connect(clientSide);
  } catch (err) {
    await app.close();
    throw err;
  }
  let closed: Promise<void> | undefined;
  return {
    client,
    pid: process.pid,
    async call(name, args) {
      return readAnswer(await client.callTool({ name, arguments: args }));
    },
    close() {
      closed ??= (async () => {
        const started = app.processes.pids();
        try {
          await client.close();
          await server.close();
        } finally {
          // As the stdio server does when its client leaves: every child stopped and waited for.
          await app.close();
        }
        const left = childPids(process.pid).filter((pid) => started.includes(pid));
        assert.deepEqual(left, [], 'child processes of the server outlived it');
      })();
      return closed;
    },
  };
}

/** useServer() of mcp-client.ts, with the server in this process. */
export function useServer(env: Record<string, string> = {}): { readonly mcp: Session; readonly dir: string } {
  return useSpawnedServer(env, connect);
}
