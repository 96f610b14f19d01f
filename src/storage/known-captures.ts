// The captures this server has seen (session files, and files a call analysed), each under a
// stable URI, so they can be offered as MCP resources and linked from answers.
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
  private readonly files = new Map<string, KnownCapture>();

  /** Remembers an analysed file (at most `capacity`, oldest forgotten first). */
  addFile(file: string, capacity = 200): KnownCapture {
    const known = { uri: fileUri(file), name: path.basename(file), file };
    this.files.delete(known.uri);
    this.files.set(known.uri, known);
    if (this.files.size > capacity) {
      const oldest = this.files.keys().next().value;
      if (oldest !== undefined) this.files.delete(oldest);
    }
    return known;
  }

  fileByUri(uri: string): KnownCapture | undefined {
    return this.files.get(uri);
  }

  allFiles(): KnownCapture[] {
    return [...this.files.values()];
  }
}
