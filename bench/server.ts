// The built server over stdio for a benchmark: a real MCP client connected to it, the server's pid
// for /proc readings, and a watch on the peak memory of the tshark processes it starts.
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { processTree, programName, residentBytes } from './proc.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bundle', 'sharkmcp.js');

/** Starts the built server with `allowedDirs` and connects a client named `name` to it. */
export async function benchServer(
  name: string,
  allowedDirs: readonly string[],
): Promise<{ client: Client; pid: number }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI],
    env: {
      ...(process.env as Record<string, string>),
      SHARKMCP_ALLOWED_DIRS: allowedDirs.join(path.delimiter),
    },
    stderr: 'ignore',
  });
  const client = new Client({ name, version: '1' });
  await client.connect(transport);
  if (transport.pid === null) throw new Error('the server did not start');
  return { client, pid: transport.pid };
}

/** Samples the resident memory of the server's tshark children every 100 ms; the result stops it and gives the peak. */
export function watchTsharkPeak(serverPid: number): () => number {
  let peak = 0;
  const timer = setInterval(() => {
    for (const pid of processTree(serverPid).keys()) {
      if (pid !== serverPid && programName(pid) === 'tshark') peak = Math.max(peak, residentBytes(pid) ?? 0);
    }
  }, 100);
  return () => {
    clearInterval(timer);
    return peak;
  };
}
