// Checks the files a request names (captures, keylogs) before any tool sees them: a clear answer
// for a path that is missing, a directory, unreadable or strange, and always an absolute real
// path afterwards, so no argument handed to tshark can start with '-'.
import type { Stats } from 'node:fs';
import { access, constants, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { formatBytes } from '../capture/sessions.js';
import { UserError } from '../errors.js';
import type { FileSandbox } from '../storage/sandbox.js';
import { hasControlChars } from '../util/text.js';

export type InputKind = 'capture' | 'keylog';

const WHAT: Record<InputKind, string> = {
  capture: 'capture file (.pcap or .pcapng)',
  keylog: 'TLS keylog file (the file SSLKEYLOGFILE names, NSS key log format)',
};

/** Below this size a file is read as it is, holes or not: reading it costs little. */
const SPARSE_MIN_BYTES = 64 * 1024 * 1024;
/**
 * A file whose stored data is less than this share of its length is mostly holes. File systems that
 * compress (btrfs, ZFS) store a capture in no less than about a third of its length.
 */
const SPARSE_SHARE = 1 / 16;

/**
 * Refuses a large file that is mostly holes (a sparse file): its holes read as zeros, which tshark
 * takes for empty packets, half a billion of them in 8 GB, minutes of a core for nothing.
 */
function refuseSparse(info: Stats, shown: string, param: string): void {
  if (process.platform === 'win32' || info.size < SPARSE_MIN_BYTES) return;
  const stored = info.blocks * 512;
  if (!Number.isFinite(stored) || stored >= info.size * SPARSE_SHARE) return;
  throw new UserError(
    `${param}: "${shown}" is a sparse file: it is ${formatBytes(info.size)} long but holds only ${formatBytes(stored)} of data; the rest are holes that read as zeros, not packets, and reading them would tie up a core for minutes. Give the capture file itself (a copy made with holes, or a file cut short and extended, has lost its packets).`,
  );
}

/**
 * Resolves `p` to the absolute real path of a readable regular file, or throws a UserError. With a
 * sandbox, the path is judged against it before anything about the file is looked at (so a path
 * outside the roots gets the same answer whether it exists or not), and the file found again after.
 */
export async function resolveInputFile(
  p: string,
  kind: InputKind,
  param: string,
  sandbox: FileSandbox | undefined,
): Promise<string> {
  if (p.trim() === '') throw new UserError(`${param} is empty: give the path of a ${WHAT[kind]}.`);
  if (hasControlChars(p)) {
    throw new UserError(
      `${param} contains a control character (a newline, tab or similar), so it cannot be a file name here. Give the path of a ${WHAT[kind]} as plain text.`,
    );
  }
  const absolute = sandbox ? await sandbox.admit(p, param) : path.resolve(p);
  let real: string;
  try {
    real = await realpath(absolute);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      const relative = path.isAbsolute(p)
        ? ''
        : ` (a relative path is taken from the server's working directory, ${process.cwd()})`;
      throw new UserError(
        `${param}: no file at "${absolute}"${relative}. Give the path of an existing ${WHAT[kind]}.`,
      );
    }
    throw new UserError(`${param}: "${absolute}" cannot be opened (${code ?? String(err)}).`);
  }
  const info = await stat(real);
  if (info.isDirectory()) {
    throw new UserError(
      `${param}: "${absolute}" is a directory. Give the path of a ${WHAT[kind]} inside it.`,
    );
  }
  if (!info.isFile()) {
    throw new UserError(`${param}: "${absolute}" is not a regular file. Give the path of a ${WHAT[kind]}.`);
  }
  if (kind === 'capture') refuseSparse(info, absolute, param);
  try {
    await access(real, constants.R_OK);
  } catch {
    throw new UserError(
      `${param}: "${absolute}" exists but this server may not read it (permission denied).`,
    );
  }
  // The file may have been swapped for a symlink since it was admitted.
  await sandbox?.check(real, param);
  return real;
}
