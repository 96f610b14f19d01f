// Where the Linux helper programs built from native/*.c by `npm run build` live: dist/native,
// beside dist/src, whichever module asks.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/native/<name>. */
export function nativeHelperPath(name: string): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'native', name);
}
