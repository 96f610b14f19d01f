// Which files the server may read or write for a caller: inside the client's MCP roots, the
// directories the operator allows (--allow-dir, SHARKMCP_ALLOWED_DIRS), and the server's own
// capture directory; with neither roots nor allowed directories, the working directory. Paths are
// compared as real paths, so a symlink cannot lead out.
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.js';

/** The client's roots as paths, asked for when a call first needs them; undefined: none offered. */
export type ClientRootsSource = () => Promise<readonly string[] | undefined>;

export class FileSandbox {
  constructor(
    private readonly operatorDirs: readonly string[],
    private readonly ownDir: () => Promise<string>,
    private readonly clientRoots: ClientRootsSource = () => Promise.resolve(undefined),
    private readonly cwd: string = process.cwd(),
  ) {}

  async roots(): Promise<string[]> {
    const client = await this.clientRoots().catch(() => undefined);
    const granted = [...(await realPaths(client ?? [])), ...(await realPaths(this.operatorDirs))];
    if (granted.length === 0) granted.push(...(await realPaths([this.cwd])));
    granted.push(...(await realPaths([await this.ownDir()])));
    return granted;
  }

  /** Throws a UserError that says how to allow it when `real` (a real path) is outside every root. */
  async check(real: string, param: string): Promise<void> {
    const roots = await this.roots();
    if (roots.some((root) => isInside(real, root))) return;
    throw new UserError(
      `${param}: "${real}" is outside the directories this server may use (${roots.join(', ')}). To allow another directory, add it to your MCP client's roots, or start the server with --allow-dir <dir> (or SHARKMCP_ALLOWED_DIRS).`,
    );
  }

  /** Checks a path that is about to be written: its folder must exist and be inside a root. */
  async checkTarget(target: string, param: string): Promise<string> {
    const absolute = path.resolve(this.cwd, target);
    let folder: string;
    try {
      folder = await realpath(path.dirname(absolute));
    } catch {
      throw new UserError(`${param}: the folder of "${absolute}" does not exist.`);
    }
    const real = path.join(folder, path.basename(absolute));
    await this.check(real, param);
    return real;
  }
}

export function isInside(child: string, root: string): boolean {
  const rel = path.relative(root, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

async function realPaths(dirs: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const d of dirs) {
    try {
      out.push(await realpath(path.resolve(d)));
    } catch {
      // A root that does not exist grants nothing.
    }
  }
  return out;
}

/** SHARKMCP_ALLOWED_DIRS: directories separated by the platform's path delimiter. */
export function allowedDirsFromEnv(env: NodeJS.ProcessEnv): string[] {
  return (env['SHARKMCP_ALLOWED_DIRS'] ?? '')
    .split(path.delimiter)
    .map((d) => d.trim())
    .filter((d) => d !== '');
}
