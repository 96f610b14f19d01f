// SharkMCP's own package.json, found by walking up from this module wherever the code runs from:
// tsc's modules in dist/src/<dir>/ and the bundle's files in dist/bundle/ sit at different depths,
// so the package's files (dist/native) are found from its root, never by counting "..".
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface OwnPackage {
  readonly name: string;
  readonly version: string;
  /** The directory of its package.json; undefined when none was found above this module. */
  readonly root: string | undefined;
}

function findOwnPackage(): OwnPackage {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'package.json');
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'sharkmcp' && pkg.version) return { name: pkg.name, version: pkg.version, root: dir };
    }
    const parent = path.dirname(dir);
    if (parent === dir) return { name: 'sharkmcp', version: '0.0.0', root: undefined };
    dir = parent;
  }
}

export const OWN_PACKAGE: OwnPackage = findOwnPackage();
