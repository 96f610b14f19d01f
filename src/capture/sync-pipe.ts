// dumpcap's machine interface in child mode (-Z none): on stderr it writes messages of one
// indicator byte, a 3-byte big-endian length and a payload. This reads them as they stream.
// Pure, so it is tested on recorded bytes.

export type SyncMessage =
  /** The capture file is open: capture has begun. */
  | { readonly kind: 'file'; readonly path: string }
  /** This many more packets have been written. */
  | { readonly kind: 'packets'; readonly count: number }
  | { readonly kind: 'drops'; readonly text: string }
  | { readonly kind: 'error'; readonly primary: string; readonly secondary: string }
  | { readonly kind: 'badFilter'; readonly message: string }
  | { readonly kind: 'success'; readonly text: string }
  | { readonly kind: 'other'; readonly indicator: string; readonly text: string };

const HEADER = 4;

function cString(b: Buffer): string {
  const end = b.indexOf(0);
  return (end === -1 ? b : b.subarray(0, end)).toString('utf8');
}

/** Splits a buffer of back-to-back messages (also used for the nested parts of an error). */
function readFrames(buf: Buffer): { frames: { indicator: string; payload: Buffer }[]; rest: Buffer } {
  const frames: { indicator: string; payload: Buffer }[] = [];
  let at = 0;
  while (buf.length - at >= HEADER) {
    const len = buf.readUIntBE(at + 1, 3);
    if (buf.length - at - HEADER < len) break;
    frames.push({
      indicator: String.fromCharCode(buf[at] ?? 0),
      payload: buf.subarray(at + HEADER, at + HEADER + len),
    });
    at += HEADER + len;
  }
  return { frames, rest: buf.subarray(at) };
}

function decode(indicator: string, payload: Buffer): SyncMessage {
  switch (indicator) {
    case 'F':
      return { kind: 'file', path: cString(payload) };
    case 'P':
      return { kind: 'packets', count: Number(cString(payload)) || 0 };
    case 'D':
      return { kind: 'drops', text: cString(payload) };
    case 'E': {
      const parts = readFrames(payload).frames.map((f) => cString(f.payload));
      return { kind: 'error', primary: parts[0] ?? cString(payload), secondary: parts[1] ?? '' };
    }
    case 'B': {
      const text = cString(payload);
      return { kind: 'badFilter', message: text.replace(/^\d+:/, '') };
    }
    case 'S':
      return { kind: 'success', text: cString(payload) };
    default:
      return { kind: 'other', indicator, text: cString(payload) };
  }
}

export class SyncPipeReader {
  private pending = Buffer.alloc(0);

  push(chunk: Buffer): SyncMessage[] {
    const { frames, rest } = readFrames(
      this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]),
    );
    this.pending = Buffer.from(rest);
    return frames.map((f) => decode(f.indicator, f.payload));
  }
}
