// Where things are, seen from the compiled tests (dist/test/...).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
// The server as users run it: the bundle (npm run build makes it from tsc's dist/src/cli.js).
export const CLI = path.join(REPO, 'dist', 'bundle', 'sharkmcp.js');
export const SRC = path.join(REPO, 'src');

/** The shared public captures beside the repo, when they are there. */
export const SHARED_CAPTURES = path.resolve(REPO, '..', 'shared', 'captures');

/** A corpus capture's path, or undefined when ../shared is absent (tests then skip). */
export function corpus(relative: string): string | undefined {
  const p = path.join(SHARED_CAPTURES, relative);
  return existsSync(p) ? p : undefined;
}
