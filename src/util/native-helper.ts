// Where the programs and libraries built from native/*.c by `npm run build` live: dist/native,
// found from the package's root, whichever module asks (tsc's modules and the bundle's sit at
// different depths).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OWN_PACKAGE } from './package-root.js';

/** dist/native (without a package.json above: beside dist/src, as tsc lays it out). */
export const NATIVE_DIR =
  OWN_PACKAGE.root === undefined
    ? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'native')
    : path.join(OWN_PACKAGE.root, 'dist', 'native');

/** dist/native/<name>. */
export function nativeHelperPath(name: string): string {
  return path.join(NATIVE_DIR, name);
}
