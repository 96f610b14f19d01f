// Names of the files a capture carried (export_objects). tshark names each object after what the
// capture says (an HTTP request's URI, an SMB path, a mail's subject), so a name is hostile input:
// these functions make it one harmless file name in the chosen directory, and work out which of
// tshark's files came from which packet. Pure.

/** Longest name tshark gives an exported object (EXPORT_OBJECT_MAXFILELEN). */
const TSHARK_MAX_NAME = 255;
/** Bytes a name saved by this server may take: room under the 255 of most file systems for a suffix. */
const SAFE_MAX_BYTES = 200;
/** Characters tshark writes as %xx in an object's name (ui/export_object_ui.c, eo_massage_str). */
// eslint-disable-next-line no-control-regex -- control characters are what these names must not hold
const TSHARK_REJECT = /[<>:"/\\|?*\x01-\x1f]/g;

/** The last part of a path as GLib's g_path_get_basename gives it (trailing '/' ignored). */
export function globBasename(p: string): string {
  if (p === '') return '.';
  const trimmed = p.replace(/\/+$/, '');
  if (trimmed === '') return '/';
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/** tshark's name for an object named `name` in the capture, the `dup`th of that name (0: first). */
export function tsharkObjectName(name: string, dup: number): string {
  let out = name.replace(TSHARK_REJECT, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  if (out.length > TSHARK_MAX_NAME) {
    const dot = out.lastIndexOf('.');
    out =
      dot >= 0
        ? out.slice(0, TSHARK_MAX_NAME - (out.length - dot)) + out.slice(dot)
        : out.slice(0, TSHARK_MAX_NAME);
  }
  if (dup === 0) return out;
  const dot = out.lastIndexOf('.');
  return dot >= 0 ? `${out.slice(0, dot)}(${dup})${out.slice(dot)}` : `${out}(${dup})`;
}

/**
 * The file tshark wrote for each object, given the name each had in the capture, in the order
 * tshark met them: ui/cli/tap-exportobject.c writes them in that order, each under the first of
 * "name", "name(1)", "name(2)"... not already there. Undefined when the files in `written` are not
 * exactly those (the match would be a guess).
 */
export function matchObjects(names: readonly string[], written: ReadonlySet<string>): string[] | undefined {
  const taken = new Set<string>();
  const files: string[] = [];
  for (const name of names) {
    let found: string | undefined;
    for (let dup = 0; dup <= names.length; dup++) {
      const candidate = tsharkObjectName(name, dup);
      if (taken.has(candidate)) continue;
      if (written.has(candidate)) found = candidate;
      break;
    }
    if (found === undefined) return undefined;
    taken.add(found);
    files.push(found);
  }
  return taken.size === written.size ? files : undefined;
}

/** matchObjects for HTTP, whose export names each object after the last part of its request path. */
export function matchHttpObjects(
  requestPaths: readonly string[],
  written: ReadonlySet<string>,
): string[] | undefined {
  return matchObjects(requestPaths.map(globBasename), written);
}

/** An object as the capture's fields tell it: its name before tshark's escaping, and its frame. */
export interface TappedObject {
  readonly name: string;
  readonly frame: number;
  /** Its size when the fields tell it exactly (a check on the match), else undefined. */
  readonly bytes?: number | undefined;
}

/**
 * For each written file, the frame of the one candidate tshark would name so (first copy: a "(1)"
 * copy shares its candidates, so it gets none); null when none or several have that name.
 */
export function framesByName(
  candidates: readonly TappedObject[],
  written: readonly string[],
): Map<string, number | null> {
  const frames = new Map<string, number[]>();
  for (const c of candidates) {
    const name = tsharkObjectName(c.name, 0);
    frames.set(name, [...(frames.get(name) ?? []), c.frame]);
  }
  return new Map(
    written.map((w) => {
      const found = frames.get(w) ?? [];
      return [w, found.length === 1 ? (found[0] ?? null) : null];
    }),
  );
}

/**
 * The frame a DICOM object came from: packet-dcm.c names it "%06d-%d-%s.dcm" after the frame that
 * completed it, the PDV's place in that frame and its SOP instance UID (letters, digits, "-", ".").
 * Null for a name not of that form (tshark's "(1)" copy of a name met before among them).
 */
export function dicomFrameOf(written: string): number | null {
  const m = /^(\d{6,})-\d+-[A-Za-z0-9.-]*\.dcm$/.exec(written);
  return m?.[1] === undefined ? null : Number(m[1]);
}

/** A mail (IMF) as tshark's export names it: its Subject (the last one) and ".eml". */
export function imfObject(frame: number, subjects: readonly string[]): TappedObject {
  return { name: `${subjects[subjects.length - 1] ?? ''}.eml`, frame };
}

/** One TFTP packet's fields, as export_objects reads them. */
export interface TftpPacket {
  readonly frame: number;
  readonly opcode: number;
  /** The transfer's file (tftp.destination_file, which tshark also puts on DATA packets). */
  readonly file: string;
  /** The frame of the transfer's read or write request (tftp.request_frame). */
  readonly request: number;
  readonly block: number;
  /** The UDP length: the block's data is 12 bytes less (UDP and TFTP headers). */
  readonly udpLength: number;
  /** An OACK's options, name and value. */
  readonly options: readonly (readonly [string, string])[];
}

/** TFTP's block size unless an OACK says otherwise (RFC 1350; packet-tftp.c keeps 8..65464). */
const TFTP_BLOCK = { default: 512, min: 8, max: 65_464 } as const;

/**
 * The files tshark's TFTP export writes, in its order: packet-tftp.c hands over a transfer at its
 * first block shorter than the block size, named after the basename of the requested file, as
 * long as the size (all blocks before, then that one) adds up.
 */
export function tftpObjects(packets: readonly TftpPacket[]): TappedObject[] {
  const blockSize = new Map<number, number>();
  const done = new Set<number>();
  const out: TappedObject[] = [];
  for (const p of packets) {
    if (p.opcode === 6) {
      const size = Number(p.options.find(([n]) => n.toLowerCase() === 'blksize')?.[1]);
      if (Number.isInteger(size) && size >= TFTP_BLOCK.min && size <= TFTP_BLOCK.max)
        blockSize.set(p.request, size);
      continue;
    }
    if (p.opcode !== 3 || p.file === '' || done.has(p.request)) continue;
    const size = blockSize.get(p.request) ?? TFTP_BLOCK.default;
    const data = p.udpLength - 12;
    if (data < 0 || data >= size) continue;
    done.add(p.request);
    out.push({ name: globBasename(p.file), frame: p.frame, bytes: (p.block - 1) * size + data });
  }
  return out;
}

/** The request path within an absolute HTTP URI ("http://host:port/a/b?q" gives "/a/b?q"). */
export function requestPathOf(uri: string): string {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*(\/.*)?$/s.exec(uri);
  return m ? (m[1] ?? '/') : uri;
}

/** Names Windows refuses for a file whatever its extension. */
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;

/** Cuts `s` to at most `max` bytes of UTF-8 without splitting a character. */
function cutBytes(s: string, max: number): string {
  let out = '';
  let bytes = 0;
  for (const ch of s) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > max) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/**
 * One harmless file name from a name a capture gave: no separator, no control character, not "."
 * or "..", not hidden, not one of Windows's device names, no trailing dot or space, within 200
 * bytes (the extension kept). Never empty.
 */
export function safeFileName(name: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what these names must not hold
  let out = name.replace(/[/\\\x00-\x1f\x7f<>:"|?*]/g, '_').replace(/[. ]+$/, '');
  if (out.startsWith('.')) out = `_${out}`;
  if (WINDOWS_RESERVED.test(out)) out = `_${out}`;
  if (out === '') out = 'object';
  if (Buffer.byteLength(out) > SAFE_MAX_BYTES) {
    const dot = out.lastIndexOf('.');
    const ext = dot > 0 && out.length - dot <= 16 ? out.slice(dot) : '';
    out = cutBytes(out.slice(0, out.length - ext.length), SAFE_MAX_BYTES - Buffer.byteLength(ext)) + ext;
  }
  return out;
}

/**
 * Safe names for several objects that will sit in one directory: each made safe, and a name met
 * before (letter case ignored, as Windows and macOS do) given "-2", "-3" before its extension.
 */
export function uniqueSafeNames(names: readonly string[]): string[] {
  const used = new Set<string>();
  return names.map((n) => {
    const safe = safeFileName(n);
    let candidate = safe;
    const dot = safe.lastIndexOf('.');
    const [stem, ext] = dot > 0 ? [safe.slice(0, dot), safe.slice(dot)] : [safe, ''];
    for (let i = 2; used.has(candidate.toLowerCase()); i++) candidate = `${stem}-${i}${ext}`;
    used.add(candidate.toLowerCase());
    return candidate;
  });
}
