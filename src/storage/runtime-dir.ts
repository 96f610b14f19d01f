// The server's private working directory (mode 0700) under the system temp directory, named
// sharkmcp-<pid>-<random> so that a later server can tell a leftover of a dead one and sweep it.
// Created on first use, removed on close.
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isProcessAlive } from '../util/pid.js';

const PREFIX = 'sharkmcp-';

export class RuntimeDir {
  private dir: Promise<string> | undefined;

  constructor(private readonly parent: string = os.tmpdir()) {}

  /** The directory, created (and leftovers of dead servers swept) on first call. */
  path(): Promise<string> {
    this.dir ??= (async () => {
      await sweepLeftovers(this.parent);
      return mkdtemp(path.join(this.parent, `${PREFIX}${process.pid}-`));
    })();
    return this.dir;
  }

  /** Writes a file into the directory under a name the server chooses; returns its path. */
  async writeFile(name: string, data: Buffer): Promise<string> {
    const file = path.join(await this.path(), path.basename(name));
    await writeFile(file, data, { mode: 0o600 });
    return file;
  }

  async close(): Promise<void> {
    if (this.dir === undefined) return;
    const dir = await this.dir.catch(() => undefined);
    this.dir = undefined;
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }
}

/** Removes sharkmcp-<pid>-* directories whose pid no longer runs. Returns what it removed. */
export async function sweepLeftovers(parent: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(parent);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = name.match(/^sharkmcp-(\d+)-[A-Za-z0-9]{6}$/);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || isProcessAlive(pid)) continue;
    // Another user's leftover (a root server's, seen by a server run as a user) cannot be removed:
    // it is theirs to sweep, and no reason for this server not to start.
    try {
      await rm(path.join(parent, name), { recursive: true, force: true });
      removed.push(name);
    } catch {
      continue;
    }
  }
  return removed;
}
