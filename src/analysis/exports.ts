// Exports (export_packets, export_objects' service): a new pcapng with just the packets a filter or
// a stream selects, and the files a capture carried. Everything is written first into a private
// directory under the server's runtime directory, then copied to where the caller asked, never
// over an existing file; the private directory is removed whatever happens (failure, cancel, time
// limit). Where the caller may write was judged before (storage/sandbox.ts).
import { constants } from 'node:fs';
import { copyFile, lstat, mkdir, mkdtemp, readdir, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import * as z from 'zod';
import { abortError, UserError } from '../errors.js';
import { formatBytes } from '../capture/sessions.js';
import { plural } from '../util/text.js';
import { countPackets } from '../wireshark/capinfos.js';
import type { WiresharkTools } from '../wireshark/locate.js';
import type { ProcessGroup, RunResult } from '../wireshark/process.js';
import { runCollect } from '../wireshark/process.js';
import { cleanStderr } from '../wireshark/tshark.js';
import {
  allOccurrenceFieldArgs,
  exportObjectsArgs,
  injectKeylogArgs,
  readArgs,
  writePcapngArgs,
} from '../wireshark/tshark-args.js';
import type { ExportObjectProtocol } from '../wireshark/tshark-args.js';
import type { SecondPassQuery } from '../wireshark/two-pass.js';
import { DEFAULT_PAGE, EXPORT_DEFAULTS, MAX_CHARS } from '../limits.js';
import { readOutcome } from './damage.js';
import { PageBuilder } from './page.js';
import { PagedAnswer, rowsShown } from './paged-answer.js';
import type { PageRequest } from './paged-answer.js';
import { matchHttpObjects, requestPathOf, uniqueSafeNames } from './object-names.js';
import type { CaptureRead } from './source.js';

export { EXPORT_OBJECT_PROTOCOLS } from '../wireshark/tshark-args.js';
export type { ExportObjectProtocol } from '../wireshark/tshark-args.js';

export const STREAM_PROTOCOLS = ['tcp', 'udp'] as const;

export interface PacketExportRequest extends CaptureRead {
  readonly displayFilter?: string | undefined;
  readonly stream?: number | undefined;
  readonly protocol?: (typeof STREAM_PROTOCOLS)[number] | undefined;
  /** The file to write: inside the roots, its folder there (checked by the caller). */
  readonly target: string;
  /** Embed the TLS keylog in the file (a pcapng Decryption Secrets Block). */
  readonly embedKeylog?: boolean | undefined;
}

export const packetExportSchema = z.object({
  source: z.string(),
  filter: z.string().describe('The display filter that chose the packets.'),
  file: z.string().describe('The file written.'),
  packets: z.number().int().describe('Packets in the file, as capinfos counts them.'),
  bytes: z.number().int().describe('Size of the file.'),
  keylogEmbedded: z.boolean(),
  warnings: z.array(z.string()),
});
export type PacketExport = z.infer<typeof packetExportSchema>;

export interface ObjectExportRequest extends CaptureRead {
  readonly protocol: ExportObjectProtocol;
  /** The directory to save into (inside the roots, checked by the caller); undefined: only list. */
  readonly targetDir?: string | undefined;
}

export const exportedObjectSchema = z.object({
  name: z.string().describe('A safe file name: the name it has (or would have) in saveTo.'),
  bytes: z.number().int(),
  contentType: z.string().nullable().describe('As the capture declared it (HTTP Content-Type).'),
  frame: z.number().int().nullable().describe('The frame that completed the object.'),
  uri: z.string().nullable().describe('The request URI it was fetched with (HTTP).'),
});
export type ExportedObject = z.infer<typeof exportedObjectSchema>;

export interface ObjectExport {
  readonly objects: readonly ExportedObject[];
  /** The directory the objects were saved in, when they were. */
  readonly savedIn: string | undefined;
  readonly warnings: readonly string[];
}

/** HTTP fields read beside the export: one row per message that carried a body (an object). */
const HTTP_OBJECT_FIELDS = [
  'frame.number',
  'http.content_type',
  'http.request.uri',
  'http.response_for.uri',
  'http.request.full_uri',
] as const;
const OBJECT_OUTPUT_BYTES = 64 * 1024 * 1024;

/** The tools an export runs and where it works. */
export interface ExportPlaces {
  readonly tools: () => Promise<WiresharkTools>;
  /** editcap, looked for on first use (the server does not need it otherwise). */
  readonly editcap: () => Promise<string>;
  /** The server's private directory, where each export is made before it is copied out. */
  readonly workDir: () => Promise<string>;
}

/** export_packets' and export_objects' service. */
export class Exporter {
  constructor(
    private readonly group: ProcessGroup,
    private readonly where: ExportPlaces,
    private readonly filters: {
      checkDisplayFilter(displayFilter: string | undefined, signal?: AbortSignal): Promise<void>;
      secondPassNeeded(query: SecondPassQuery, signal?: AbortSignal): Promise<boolean>;
    },
    private readonly timeoutMs: number,
  ) {}

  async exportPackets(req: PacketExportRequest, signal?: AbortSignal): Promise<PacketExport> {
    const filter = packetFilter(req);
    await this.filters.checkDisplayFilter(req.displayFilter, signal);
    if (req.embedKeylog && req.keylog.keylogFile === undefined)
      throw new UserError(
        'embedKeylog needs a TLS keylog: give sslKeylogFile (or start the server with SSLKEYLOGFILE set), or leave embedKeylog out.',
      );
    await refuseExisting(req.target, 'saveTo');
    const tools = await this.where.tools();
    return this.inWorkDir(async (work) => {
      const written = path.join(work, 'packets.pcapng');
      const twoPass = await this.filters.secondPassNeeded({ displayFilter: filter }, signal);
      const { warnings } = await this.readCapture(
        tools,
        req,
        [
          ...readArgs({
            file: req.source.file,
            keylogFile: req.keylog.keylogFile,
            dissection: req.keylog.dissection,
            displayFilter: filter,
            twoPass,
          }),
          ...writePcapngArgs(written),
        ],
        'write the packets',
        signal,
      );
      const packets = await fileExists(written).then((there) =>
        there ? countPackets(this.group, tools.require('capinfos'), written, signal) : 0,
      );
      if (packets === undefined) throw new UserError('tshark wrote a file capinfos cannot read.');
      if (packets === 0)
        throw new UserError(
          `No packet of ${req.source.label} matches ${filter}, so nothing was written. Check the filter (or the stream index) with analyze_pcap_file first.`,
        );
      let final = written;
      if (req.embedKeylog && req.keylog.keylogFile !== undefined) {
        final = path.join(work, 'with-keylog.pcapng');
        const injected = await this.run(
          await this.where.editcap(),
          injectKeylogArgs(req.keylog.keylogFile, written, final),
          signal,
        );
        if (injected.result.exitCode !== 0)
          throw new UserError(
            `editcap could not embed the keylog: ${cleanStderr(injected.result.stderr) || `exit code ${injected.result.exitCode}`}`,
          );
      }
      await copyExclusive(final, req.target, 'saveTo');
      return {
        source: req.source.label,
        filter,
        file: req.target,
        packets,
        bytes: (await stat(req.target)).size,
        keylogEmbedded: final !== written,
        warnings,
      };
    });
  }

  async exportObjects(req: ObjectExportRequest, signal?: AbortSignal): Promise<ObjectExport> {
    if (req.targetDir !== undefined) await refuseNonDirectory(req.targetDir);
    const tools = await this.where.tools();
    return this.inWorkDir(async (work) => {
      const dir = path.join(work, 'objects');
      await mkdir(dir);
      const http = req.protocol === 'http';
      const { stdout, warnings } = await this.readCapture(
        tools,
        req,
        [
          ...readArgs({
            file: req.source.file,
            keylogFile: req.keylog.keylogFile,
            dissection: req.keylog.dissection,
            // The same messages the HTTP export saves: those with a body. Filtering the printed
            // rows does not narrow the export, which taps every packet.
            displayFilter: http ? 'http.file_data' : undefined,
          }),
          ...(http ? allOccurrenceFieldArgs(HTTP_OBJECT_FIELDS, ',') : ['-q']),
          ...exportObjectsArgs(req.protocol, dir),
        ],
        `export ${req.protocol} objects`,
        signal,
      );
      const files = new Map<string, number>();
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        // tshark writes plain files; anything else is not an object of ours to hand out.
        if (entry.isFile()) files.set(entry.name, (await lstat(path.join(dir, entry.name))).size);
      }
      const found = http
        ? httpObjects(stdout, files, warnings)
        : [...files.keys()].sort().map((f) => ({ written: f, contentType: null, frame: null, uri: null }));
      const names = uniqueSafeNames(found.map((o) => o.written));
      const objects = found.map((o, i) => ({
        name: names[i] ?? o.written,
        bytes: files.get(o.written) ?? 0,
        contentType: o.contentType,
        frame: o.frame,
        uri: o.uri,
      }));
      if (req.targetDir === undefined || objects.length === 0)
        return { objects, savedIn: undefined, warnings };
      await saveAll(
        found.map((o, i) => ({ from: path.join(dir, o.written), name: objects[i]?.name ?? o.written })),
        req.targetDir,
      );
      return { objects, savedIn: req.targetDir, warnings };
    });
  }

  /**
   * One tshark pass over the capture: its output, and what the keylog and the read left to say (a
   * file cut short). A read that failed outright is an error that says what tshark said.
   */
  private async readCapture(
    tools: WiresharkTools,
    req: CaptureRead,
    args: string[],
    what: string,
    signal: AbortSignal | undefined,
  ): Promise<{ stdout: string; warnings: string[] }> {
    const { stdout, result } = await this.run(tools.require('tshark'), args, signal);
    const read = await readOutcome(
      this.group,
      tools,
      { stderr: result.stderr, file: req.source.file, live: req.source.live },
      signal,
    );
    if (read.other !== undefined && result.exitCode !== 0)
      throw new UserError(`tshark could not ${what}: ${read.other}`);
    return { stdout, warnings: [...req.keylog.warnings, ...read.warnings] };
  }

  /** Runs `fn` with a new private directory, removed afterwards whatever happens. */
  private async inWorkDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
    const work = await mkdtemp(path.join(await this.where.workDir(), 'export-'));
    try {
      return await fn(work);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  /** One run of a Wireshark tool within the time limit: cancelled and timed-out runs are errors. */
  private async run(
    command: string,
    args: string[],
    signal: AbortSignal | undefined,
  ): Promise<{ stdout: string; result: RunResult }> {
    const { stdout, result } = await runCollect(this.group, {
      command,
      args,
      timeoutMs: this.timeoutMs,
      signal,
      maxBytes: OBJECT_OUTPUT_BYTES,
    });
    if (result.aborted) throw abortError();
    if (result.timedOut)
      throw new UserError(
        `${path.basename(command)} did not finish within ${this.timeoutMs / 1000} s, so nothing was written. Export a narrower selection (a display filter, one stream).`,
      );
    if (result.stoppedEarly)
      throw new UserError('tshark printed more than 64 MB of object listing; nothing was written.');
    return { stdout, result };
  }
}

/** The display filter export_packets applies: the call's filter, its stream, or both. */
export function packetFilter(
  req: Pick<PacketExportRequest, 'displayFilter' | 'stream' | 'protocol'>,
): string {
  const parts: string[] = [];
  if (req.displayFilter !== undefined && req.displayFilter.trim() !== '') parts.push(req.displayFilter);
  if (req.stream !== undefined)
    parts.push(`${req.protocol ?? EXPORT_DEFAULTS.protocol}.stream eq ${req.stream}`);
  else if (req.protocol !== undefined)
    throw new UserError('protocol goes with stream: give the stream index too (tcp.stream or udp.stream).');
  if (parts.length === 0)
    throw new UserError(
      'Give the packets to export: a displayFilter (e.g. "http.request.uri contains \\"/login\\"") or a stream (with protocol tcp or udp).',
    );
  return parts.length === 1 ? (parts[0] ?? '') : parts.map((p) => `(${p})`).join(' && ');
}

/** HTTP objects with the frame, content type and URI of each, matched to tshark's files. */
function httpObjects(
  stdout: string,
  files: ReadonlyMap<string, number>,
  warnings: string[],
): { written: string; contentType: string | null; frame: number | null; uri: string | null }[] {
  const rows = stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t'));
  const uris = rows.map((r) => r[3] || r[4] || null);
  const matched = matchHttpObjects(
    rows.map((r, i) => r[2] || requestPathOf(uris[i] ?? '')),
    new Set(files.keys()),
  );
  if (matched === undefined) {
    warnings.push(
      `The ${plural(files.size, 'file')} tshark saved could not be matched to the HTTP messages that carried them, so frames and content types are not shown.`,
    );
    return [...files.keys()].sort().map((f) => ({ written: f, contentType: null, frame: null, uri: null }));
  }
  return rows.map((r, i) => ({
    written: matched[i] ?? '',
    contentType: r[1] || null,
    frame: Number(r[0]),
    uri: uris[i] ?? null,
  }));
}

/** Copies each file into `dir` under its name; none may exist there. All or nothing. */
async function saveAll(files: readonly { from: string; name: string }[], dir: string): Promise<void> {
  const created = !(await fileExists(dir));
  if (created) await mkdir(dir, { mode: 0o755 });
  const clashes: string[] = [];
  for (const f of files) if (await fileExists(path.join(dir, f.name))) clashes.push(f.name);
  if (clashes.length > 0) {
    if (created) await rmdir(dir).catch(() => undefined);
    throw clashError(dir, clashes);
  }
  const done: string[] = [];
  try {
    for (const f of files) {
      const to = path.join(dir, f.name);
      await copyExclusive(f.from, to, 'saveTo', () => clashError(dir, [f.name]));
      done.push(to);
    }
  } catch (err) {
    // Nothing half-saved: the files this call wrote go, and the directory if it made it.
    await Promise.all(done.map((f) => rm(f, { force: true })));
    if (created) await rmdir(dir).catch(() => undefined);
    throw err;
  }
}

function clashError(dir: string, names: readonly string[]): UserError {
  const shown = names.slice(0, 5).map((n) => JSON.stringify(n));
  const more = names.length > 5 ? ` and ${names.length - 5} more` : '';
  return new UserError(
    `saveTo: "${dir}" already holds ${shown.join(', ')}${more}; export_objects never overwrites a file, and wrote nothing. Give a new or empty directory as saveTo (it is made when its parent exists).`,
  );
}

/** Copies `from` to `to`, refusing to replace anything there (a file, a directory, a symlink). */
async function copyExclusive(
  from: string,
  to: string,
  param: string,
  clash: () => UserError = () => existsError(to, param),
): Promise<void> {
  try {
    await copyFile(from, to, constants.COPYFILE_EXCL);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw clash();
    if (code === 'ENOENT') throw new UserError(`${param}: the folder of "${to}" does not exist.`);
    throw new UserError(`${param}: cannot write "${to}" (${code ?? String(err)}).`);
  }
}

function existsError(target: string, param: string): UserError {
  return new UserError(
    `${param}: "${target}" already exists, and exports never overwrite a file. Choose another file name (or delete that file first).`,
  );
}

async function refuseExisting(target: string, param: string): Promise<void> {
  if (await fileExists(target)) throw existsError(target, param);
}

async function refuseNonDirectory(dir: string): Promise<void> {
  const info = await lstat(dir).catch(() => undefined);
  if (info !== undefined && !info.isDirectory())
    throw new UserError(
      `saveTo: "${dir}" is ${info.isSymbolicLink() ? 'a symbolic link' : 'a file'}, not a directory. Give a directory (a new one is made when its parent exists).`,
    );
}

async function fileExists(p: string): Promise<boolean> {
  return lstat(p).then(
    () => true,
    () => false,
  );
}

/** The size of a file as answers print it. */
export function sizeText(bytes: number): string {
  return `${formatBytes(bytes)} (${bytes.toLocaleString('en-US')} bytes)`;
}

/** A page of the objects a capture carried, as structured content: export_objects' output schema. */
export const objectsFactsSchema = z.object({
  source: z.string(),
  protocol: z.string(),
  total: z.number().int().describe('Objects in the capture.'),
  totalBytes: z.number().int(),
  savedIn: z.string().nullable().describe('The directory every object was saved in, or null (listed only).'),
  objects: z.array(exportedObjectSchema).describe('The objects of this page.'),
  offset: z.number().int(),
  nextOffset: z.number().int().nullable(),
  warnings: z.array(z.string()),
});
export type ObjectsFacts = z.infer<typeof objectsFactsSchema>;

/** One page of the objects, one tab-separated row each, within maxChars. Pure. */
export function objectsPage(
  result: ObjectExport,
  req: PageRequest & { readonly protocol: string; readonly source: { readonly label: string } },
): { text: string; facts: ObjectsFacts } {
  const offset = req.offset ?? 0;
  const limit = req.limit ?? DEFAULT_PAGE.rows;
  const totalBytes = result.objects.reduce((s, o) => s + o.bytes, 0);
  const answer = new PagedAnswer('rows', {
    call: req.call,
    head: [
      `${req.protocol.toUpperCase()} objects in ${req.source.label}: ${plural(result.objects.length, 'object')}, ${sizeText(totalBytes)}`,
      ...(result.objects.length === 0
        ? []
        : [
            result.savedIn === undefined
              ? 'Listed only: give saveTo (a new or empty directory) to save them.'
              : `Saved every object in ${result.savedIn} under the names below.`,
          ]),
    ],
    warnings: [...result.warnings],
    lead:
      result.objects.length === 0 ? [] : ['', ['name', 'bytes', 'content type', 'frame', 'uri'].join('\t')],
  });
  const builder = new PageBuilder('fields', {
    offset,
    limit,
    maxChars: answer.bodyBudget(req.maxChars ?? MAX_CHARS.default, offset, limit),
  });
  for (const o of result.objects) {
    const text = [o.name, o.bytes, o.contentType, o.frame, o.uri]
      .map((v) => (v === null || v === '' ? '-' : String(v).replace(/[\t\n\r]/g, ' ')))
      .join('\t');
    if (builder.add({ text, length: text.length }) === 'stop') break;
  }
  const page = builder.finish();
  const nextOffset = page.moreMatch ? offset + page.shown : null;
  const shown =
    result.objects.length === 0
      ? `Rows: none. No ${req.protocol} object found in the capture.`
      : rowsShown({ offset, shown: page.shown, total: result.objects.length });
  const { text, warnings } = answer.render({ shown, nextOffset: nextOffset ?? undefined, body: [page.body] });
  return {
    text,
    facts: {
      source: req.source.label,
      protocol: req.protocol,
      total: result.objects.length,
      totalBytes,
      savedIn: result.savedIn ?? null,
      objects: result.objects.slice(offset, offset + page.shown),
      offset,
      nextOffset,
      warnings,
    },
  };
}
