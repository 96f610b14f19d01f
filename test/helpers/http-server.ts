// Starts the built `sharkmcp --http` on a free port, as an operator would, and remembers it so the
// test file can stop every server it started.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import { CLI } from './paths.js';

export interface HttpChild {
  readonly child: ChildProcess;
  readonly url: string;
  /** What the server has written to stderr so far. */
  stderr(): string;
}

const children: ChildProcess[] = [];

/**
 * Stops every server this file started (register with after()): SIGTERM, so that each ends its
 * captures and removes its private directory as an operator's Ctrl-C would; SIGKILL for one that
 * has not ended within a few seconds.
 */
export async function stopChildren(): Promise<void> {
  await Promise.all(
    children.map(async (c) => {
      if (c.exitCode !== null || c.signalCode !== null) return;
      const ended = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), 8_000);
      await ended;
      clearTimeout(timer);
    }),
  );
}

export function startHttpServer(
  args: readonly string[],
  env: Record<string, string> = {},
  options: { cwd?: string } = {},
): Promise<HttpChild> {
  const child = spawn(process.execPath, [CLI, '--http', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SHARKMCP_ALLOWED_DIRS: os.tmpdir(), ...env },
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  children.push(child);
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
      const m = /at (http:\/\/\S+\/mcp)/.exec(err);
      if (m?.[1]) resolve({ child, url: m[1], stderr: () => err });
    });
    child.on('exit', (code) => reject(new Error(`sharkmcp --http exited (${code}): ${err}`)));
  });
}
