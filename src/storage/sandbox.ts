// Which files the server may read or write for a caller: inside the client's MCP roots, the
// directories the operator allows (--allow-dir, SHARKMCP_ALLOWED_DIRS), and the server's own
// capture directory; with neither roots nor allowed directories, the working directory. Paths are
// compared as real paths, so a symlink cannot lead out, and judged before anything else is looked
// at, so a refusal never says whether a path outside the roots exists.
import { lstat, readlink, realpath } from 'node:fs/promises';
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

  /**
   * Throws a UserError that says how to allow it when `real` (a real path) is outside every root;
   * the message names the path as `shown` (default: the real path).
   */
  async check(real: string, param: string, shown = real): Promise<void> {
    const roots = await this.roots();
    if (roots.some((root) => isInside(real, root))) return;
    throw new UserError(
      `${param}: "${shown}" is outside the directories this server may use (${roots.join(', ')}). To allow another directory, add it to your MCP client's roots, or start the server with --allow-dir <dir> (or SHARKMCP_ALLOWED_DIRS).`,
    );
  }

  /**
   * Judges a path a call names before anything else is looked at: where it really leads (the real
   * path of its deepest existing part, symlinks followed, plus the rest) must be inside a root.
   * Returns the absolute path; the refusal names it as given, the same whether it exists or not.
   */
  async admit(p: string, param: string): Promise<string> {
    const absolute = path.resolve(this.cwd, p);
    await this.check(await leadsTo(absolute), param, absolute);
    return absolute;
  }

  /** Checks a path that is about to be written: it must be inside a root, and its folder exist. */
  async checkTarget(target: string, param: string): Promise<string> {
    // A relative path would be written wherever the server happened to start: a file an agent
    // cannot find again, or one where it did not mean to write. Reads keep the seed's rule.
    if (!path.isAbsolute(target))
      throw new UserError(
        `${param}: give an absolute path (inside the directories this server may use), not "${target}": a relative one would land wherever the server was started.`,
      );
    const absolute = await this.admit(target, param);
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

/**
 * Where an absolute path really leads, whether or not it exists: its real path when it exists,
 * otherwise the real path of its parent plus its name, a dangling symlink followed to its target.
 */
async function leadsTo(absolute: string, hops = 0): Promise<string> {
  try {
    return await realpath(absolute);
  } catch {
    // Missing (or not reachable): resolved part by part below.
  }
  const parent = path.dirname(absolute);
  if (parent === absolute) return absolute;
  const dir = await leadsTo(parent, hops);
  const here = path.join(dir, path.basename(absolute));
  try {
    // A symlink here dangles (realpath failed): what matters is where it points. 40 as the kernel's ELOOP.
    if (hops < 40 && (await lstat(here)).isSymbolicLink())
      return await leadsTo(path.resolve(dir, await readlink(here)), hops + 1);
  } catch {
    // Nothing here: the path is judged as written.
  }
  return here;
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
