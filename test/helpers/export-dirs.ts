// The server's private export directories (an in-process server's, under the OS temp directory):
// tests check none is left behind, and watch how much an export writes there while it runs.
import { readdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** The export-* working directories of the servers in this process. */
export async function exportDirs(): Promise<string[]> {
  const mine = (await readdir(os.tmpdir())).filter((n) => n.startsWith(`sharkmcp-${process.pid}-`));
  const dirs: string[] = [];
  for (const d of mine) {
    for (const n of await readdir(path.join(os.tmpdir(), d)).catch(() => [])) {
      if (n.startsWith('export-')) dirs.push(path.join(d, n));
    }
  }
  return dirs;
}

/** Bytes in the files under the export directories now (files vanishing meanwhile count 0). */
export async function exportBytes(): Promise<number> {
  let total = 0;
  for (const d of await exportDirs()) {
    const entries = await readdir(path.join(os.tmpdir(), d), { recursive: true }).catch(() => []);
    for (const e of entries) {
      const info = await stat(path.join(os.tmpdir(), d, e)).catch(() => undefined);
      if (info?.isFile()) total += info.size;
    }
  }
  return total;
}
