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
function globBasename(p: string): string {
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
 * The file tshark wrote for each HTTP object, in the order tshark met them: tshark takes the last
 * part of the request URI and, when a file of that name is already there, the first free "(n)".
 * Undefined when the files in `written` are not exactly those (the match would be a guess).
 */
export function matchHttpObjects(
  requestPaths: readonly string[],
  written: ReadonlySet<string>,
): string[] | undefined {
  const taken = new Set<string>();
  const names: string[] = [];
  for (const p of requestPaths) {
    const base = globBasename(p);
    let found: string | undefined;
    for (let dup = 0; dup <= requestPaths.length; dup++) {
      const candidate = tsharkObjectName(base, dup);
      if (taken.has(candidate)) continue;
      if (written.has(candidate)) found = candidate;
      break;
    }
    if (found === undefined) return undefined;
    taken.add(found);
    names.push(found);
  }
  return taken.size === written.size ? names : undefined;
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
