// How this copy of SharkMCP was installed, for advice that fits: a clone (sources and tsconfig
// beside it) builds with npm; the npm package builds its native parts with `sharkmcp setup`.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { OWN_PACKAGE } from './package-root.js';

/** Whether this copy is a clone of the repository (it has its TypeScript sources). */
export function isClone(root = OWN_PACKAGE.root): boolean {
  return (
    root !== undefined && existsSync(path.join(root, 'tsconfig.json')) && existsSync(path.join(root, 'src'))
  );
}

/** The command that builds the native parts, for this kind of install. */
export function buildCommand(root = OWN_PACKAGE.root): string {
  return isClone(root) ? 'npm run build' : 'sharkmcp setup';
}
