// Every tshark argument list the analysis runs is built here, from what the caller wants rather
// than from flags: one place to read which options a pass gives tshark, and one place to change
// when a Wireshark release renames one. Nothing here runs a process.
import type { Dissection } from './dissection.js';

/** A file to read, and how: what every tshark pass over a capture starts with. */
export interface ReadSpec {
  /** The capture file, or a FIFO fed with one. */
  readonly file: string;
  /** A TLS keylog that decrypts what it can. */
  readonly keylogFile?: string | undefined;
  /** Keep addresses as numbers (-n): no name lookups, which can wait on DNS. */
  readonly numeric?: boolean;
  /** Preferences the analysis itself needs, "name:value" (-o): they win over the caller's. */
  readonly preferences?: readonly string[];
  /** The caller's decode-as rules and preferences, checked (dissection.ts). */
  readonly dissection?: Dissection | undefined;
  /** A display filter (-Y); empty means none. */
  readonly displayFilter?: string | undefined;
  /** Stop after this frame (-c: in read mode it counts packets read, matching or not). */
  readonly lastFrame?: number | undefined;
  /**
   * Read the file twice (-2), so fields that point at a later frame are filled (see two-pass.ts).
   * Files only: tshark refuses -2 on a pipe or FIFO.
   */
  readonly twoPass?: boolean | undefined;
}

/**
 * The arguments that read `spec.file` with its keylog, decode-as rules, preferences and filter.
 * tshark applies -o in order and the last setting of a name wins, so the caller's preferences come
 * first and the analysis's own after them: where a pass needs a preference to be right (the
 * summary's counters, the HTTP digest's second look, the checksum pass), its value stands.
 */
export function readArgs(spec: ReadSpec): string[] {
  const args = spec.numeric ? ['-n', '-r', spec.file] : ['-r', spec.file];
  if (spec.twoPass) args.unshift('-2');
  args.push(...dissectionArgs(spec.dissection));
  for (const p of spec.preferences ?? []) args.push('-o', p);
  if (spec.keylogFile) args.push('-o', `tls.keylog_file:${spec.keylogFile}`);
  if (spec.displayFilter) args.push('-Y', spec.displayFilter);
  if (spec.lastFrame !== undefined) args.push('-c', String(spec.lastFrame));
  return args;
}

/** How a packet list is printed: tshark's JSON, chosen fields, or its dissection trees. */
export type PacketOutput =
  | { readonly kind: 'text' }
  | { readonly kind: 'json' }
  | { readonly kind: 'fields'; readonly fields: readonly string[] }
  | {
      readonly kind: 'details';
      /** Only these protocols' trees (-O); all of them (-V) when empty. */
      readonly protocols: readonly string[];
      /** The packet bytes as a hex dump too (-x). */
      readonly bytes: boolean;
    };

/** The arguments that print each packet as `output` says. */
export function packetOutputArgs(output: PacketOutput): string[] {
  switch (output.kind) {
    case 'text':
      return [];
    case 'json':
      return ['-T', 'json', '--no-duplicate-keys'];
    case 'fields':
      return ['-T', 'fields', ...output.fields.flatMap((f) => ['-e', f])];
    case 'details':
      return [
        ...(output.protocols.length > 0 ? ['-O', output.protocols.join(',')] : ['-V']),
        ...(output.bytes ? ['-x'] : []),
      ];
  }
}

/**
 * One line per packet of tab-separated fields, every occurrence of a field kept and joined by
 * `aggregator` (a field that repeats in a packet, like dns.a, keeps all its values).
 */
export function allOccurrenceFieldArgs(fields: readonly string[], aggregator: string): string[] {
  return [
    '-T',
    'fields',
    '-E',
    'occurrence=a',
    '-E',
    `aggregator=${aggregator}`,
    ...fields.flatMap((f) => ['-e', f]),
  ];
}

/**
 * One tab-separated line per packet of these custom columns (faster than -T fields: the columns
 * are filled by the dissection tshark does anyway).
 */
export function columnArgs(fields: readonly string[]): string[] {
  const format = fields.map((f, i) => `"c${i}","%Cus:${f}"`).join(',');
  return ['-o', `gui.column.format:${format}`, '-T', 'tabs'];
}

/**
 * Statistics (-z ...), printed when the pass ends; with `packets: 'quiet'` (-q) no packet lines
 * come before them.
 */
export function statisticsArgs(
  statistics: readonly string[],
  packets: 'quiet' | 'print' = 'quiet',
): string[] {
  return [...(packets === 'quiet' ? ['-q'] : []), ...statistics.flatMap((z) => ['-z', z])];
}

/** A tshark statistic restricted by a display filter: "conv,tcp" becomes "conv,tcp,<filter>". */
export function filteredStatistic(statistic: string, filter: string | undefined): string {
  return filter ? `${statistic},${filter}` : statistic;
}

/** The caller's preferences (-o) and decode-as rules (-d), each one argument after its flag. */
export function dissectionArgs(dissection: Dissection | undefined): string[] {
  if (!dissection) return [];
  return [
    ...dissection.preferences.flatMap((p) => ['-o', p]),
    ...dissection.decodeAs.flatMap((d) => ['-d', d]),
  ];
}

/**
 * One of tshark's reports instead of a read (-G): every field it knows, its folders, its
 * preferences with their kinds and defaults, or its dissector tables with their key types.
 */
export function glossaryArgs(report: 'fields' | 'folders' | 'defaultprefs' | 'dissector-tables'): string[] {
  return ['-G', report];
}

/** A protocol name no dissector has: asking -d for it makes tshark list what a layer takes. */
export const NO_SUCH_PROTOCOL = 'sharkmcp-no-such-protocol';

/**
 * Arguments that make tshark refuse a decode-as rule and list what it takes instead: the layers
 * (for `layer` undefined, "-d ." names none) or the protocols one layer can be decoded as. The
 * empty capture `file` is read if tshark ever took the rule, so it never captures.
 */
export function decodeAsListArgs(file: string, layer?: { name: string; selector: string }): string[] {
  return ['-r', file, '-d', layer ? `${layer.name}==${layer.selector},${NO_SUCH_PROTOCOL}` : '.'];
}

/** Runs a Lua script inside tshark with its arguments (-X lua_script, -X lua_script1:...). */
export function luaScriptArgs(script: string, scriptArgs: readonly string[]): string[] {
  return ['-X', `lua_script:${script}`, ...scriptArgs.flatMap((a) => ['-X', `lua_script1:${a}`])];
}

/**
 * One tab-separated line per packet of these fields, the first occurrence of each (a tunnelled
 * packet's outer header, as Wireshark's columns show it).
 */
export function firstOccurrenceFieldArgs(fields: readonly string[]): string[] {
  return ['-T', 'fields', '-E', 'occurrence=f', ...fields.flatMap((f) => ['-e', f])];
}

/**
 * tshark's I/O graph as numbers (-q -z io,stat): frames and bytes per `intervalSeconds`, one
 * column pair per filter (all packets when there is none). tshark splits the statistic at commas
 * and takes quotes literally, so a filter must not contain a comma (the caller refuses one).
 */
export function ioStatArgs(intervalSeconds: number, filters: readonly string[]): string[] {
  return statisticsArgs([['io', 'stat', String(intervalSeconds), ...filters].join(',')]);
}

/** Writes the packets read (those that pass the display filter) to `file` as pcapng (-w, -F). */
export function writePcapngArgs(file: string): string[] {
  return ['-w', file, '-F', 'pcapng'];
}

/** The protocols whose carried files tshark can save (--export-objects), as tshark names them. */
export const EXPORT_OBJECT_PROTOCOLS = ['http', 'smb', 'imf', 'tftp', 'dicom'] as const;
export type ExportObjectProtocol = (typeof EXPORT_OBJECT_PROTOCOLS)[number];

/** Saves every `protocol` object the read carries into `dir`, a directory that exists. */
export function exportObjectsArgs(protocol: ExportObjectProtocol, dir: string): string[] {
  return ['--export-objects', `${protocol},${dir}`];
}

/**
 * editcap's arguments that copy `input` to `output` with a TLS keylog embedded as a Decryption
 * Secrets Block (pcapng), so whoever opens the file decrypts it without the keylog beside it.
 */
export function injectKeylogArgs(keylog: string, input: string, output: string): string[] {
  return ['--inject-secrets', `tls,${keylog}`, input, output];
}

/**
 * One tab-separated line a packet: its number, its protocol column, its TCP stream, whether it is
 * a SYN ("Set") and its UDP stream; what tells whether a cut holds each stream's start.
 */
export function streamStartArgs(): string[] {
  const columns = [
    '%m',
    '%p',
    '%Cus:tcp.stream',
    '%Cus:tcp.flags.syn',
    '%Cus:udp.stream',
    '%Cus:tcp.analysis.reused_ports',
  ];
  return ['-o', `gui.column.format:${columns.map((c, i) => `"c${i}","${c}"`).join(',')}`, '-T', 'tabs'];
}
