// The captures this server has seen (session files, and files a call analysed), each under a
// stable URI, so they can be offered as MCP resources and linked from answers. A file is known to
// the client (owner) whose call analysed it, not to every client.
import path from 'node:path';

export interface KnownCapture {
  readonly uri: string;
  readonly name: string;
  readonly file: string;
}

export function sessionUri(id: string): string {
  return `sharkmcp://captures/session/${encodeURIComponent(id)}`;
}

export function fileUri(file: string): string {
  return `sharkmcp://captures/file/${encodeURIComponent(file)}`;
}

export class KnownCaptures {
  private readonly files = new Map<string, KnownCapture & { readonly owner: string | undefined }>();

  /** Remembers a file `owner` analysed (at most `capacity` in all, oldest forgotten first). */
  addFile(file: string, owner: string | undefined, capacity = 200): KnownCapture {
    const known = { uri: fileUri(file), name: path.basename(file), file };
    const key = keyOf(known.uri, owner);
    this.files.delete(key);
    this.files.set(key, { ...known, owner });
    if (this.files.size > capacity) {
      const oldest = this.files.keys().next().value;
      if (oldest !== undefined) this.files.delete(oldest);
    }
    return known;
  }

  fileByUri(uri: string, owner: string | undefined): KnownCapture | undefined {
    return this.files.get(keyOf(uri, owner));
  }

  allFiles(owner: string | undefined): KnownCapture[] {
    return [...this.files.values()].filter((f) => f.owner === owner);
  }
}

function keyOf(uri: string, owner: string | undefined): string {
  return `${owner ?? ''}\u0000${uri}`;
}
