// The versions Wireshark's tools printed for `--version`, remembered between server starts in the
// config directory (tool-versions.json) by the identity of the binary that printed them (device,
// inode, size, modification and change times): an upgrade or a rebuild replaces the file and so
// is asked again. tshark links all of libwireshark up front (BIND_NOW) to print its banner, a
// quarter of a CPU second that otherwise competes with the server's own start on every start.
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const VERSION_MEMORY_FILE = 'tool-versions.json';

/** Remembered versions; recall() and remember() work in memory, save() writes what was learnt. */
export interface VersionMemory {
  /** The version `toolPath` printed while it had `identity`, if remembered. */
  recall(toolPath: string, identity: string): Promise<string | undefined>;
  remember(toolPath: string, identity: string, version: string): Promise<void>;
  /** Writes the memory when something was learnt; a failure to write is not an error (asked again). */
  save(): Promise<void>;
}

/** What identifies one build of a binary: replaced or rebuilt, it changes. */
export async function binaryIdentity(file: string): Promise<string> {
  const s = await stat(file, { bigint: true });
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
}

type Entries = Record<string, { identity: string; version: string }>;

/** The file's entries; none when it is missing or not what this module writes (every version is asked for). */
async function readEntries(file: string): Promise<Entries> {
  try {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Entries) : {};
  } catch {
    return {};
  }
}

/** A VersionMemory kept in `dir`/tool-versions.json. */
export class VersionMemoryFile implements VersionMemory {
  private entries: Promise<Entries> | undefined;
  private learnt = false;

  constructor(private readonly dir: string) {}

  private load(): Promise<Entries> {
    this.entries ??= readEntries(path.join(this.dir, VERSION_MEMORY_FILE));
    return this.entries;
  }

  async recall(toolPath: string, identity: string): Promise<string | undefined> {
    const entry = (await this.load())[toolPath];
    return entry?.identity === identity && typeof entry.version === 'string' ? entry.version : undefined;
  }

  async remember(toolPath: string, identity: string, version: string): Promise<void> {
    (await this.load())[toolPath] = { identity, version };
    this.learnt = true;
  }

  async save(): Promise<void> {
    const entries = await this.load();
    if (!this.learnt) return;
    const file = path.join(this.dir, VERSION_MEMORY_FILE);
    // Written aside and renamed into place: two servers starting at once never read half a file.
    const aside = `${file}.${process.pid}.tmp`;
    try {
      await mkdir(this.dir, { recursive: true });
      await writeFile(aside, `${JSON.stringify(entries, null, 2)}\n`);
      await rename(aside, file);
      this.learnt = false;
    } catch {
      // A read-only config directory: the versions are asked for at each start, as before.
      await rm(aside, { force: true }).catch(() => undefined);
    }
  }
}
