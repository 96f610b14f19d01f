// Exports (export_packets, export_objects' service): a new pcapng with just the packets a filter or
// a stream selects, and the files a capture carried. Everything is written first into a private
// directory under the server's runtime directory, then copied to where the caller asked, never
// over an existing file; the private directory is removed whatever happens (failure, cancel, time
// limit). Where the caller may write was judged before (storage/sandbox.ts).
import { constants, watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { copyFile, lstat, mkdir, mkdtemp, readdir, readFile, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import * as z from 'zod';
import { abortError, UserError } from '../errors.js';
import { formatBytes } from '../capture/sessions.js';
import { plural } from '../util/text.js';
import { captureFacts, countPackets } from '../wireshark/capinfos.js';
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
import { DEFAULT_PAGE, EXPORT_DEFAULTS, EXPORT_OBJECT_BYTES, MAX_CHARS } from '../limits.js';
import { readOutcome } from './damage.js';
import { PageBuilder } from './page.js';
import { PagedAnswer, rowsShown } from './paged-answer.js';
import type { PageRequest } from './paged-answer.js';
import {
  globBasename,
  imfObject,
  matchObjects,
  requestPathOf,
  dicomFrameOf,
  framesByName,
  tftpObjects,
  uniqueSafeNames,
} from './object-names.js';
import type { TappedObject } from './object-names.js';
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
  /** Bytes tshark may write before it is stopped (EXPORT_OBJECT_BYTES.default when undefined). */
  readonly maxBytes?: number | undefined;
}

export const exportedObjectSchema = z.object({
  name: z.string().describe('A safe file name: the name it has (or would have) in saveTo.'),
  bytes: z.number().int(),
  contentType: z
    .string()
    .nullable()
    .describe(
      'The media type: as declared (HTTP Content-Type; message/rfc822 for a mail; application/dicom), else sniffed from the saved bytes (contentTypeFrom says which); null when neither tells.',
    ),
  contentTypeFrom: z
    .enum(['declared', 'sniffed'])
    .nullable()
    .describe(
      'declared: the capture or the protocol said so; sniffed: read from the first bytes of the file.',
    ),
  frame: z
    .number()
    .int()
    .nullable()
    .describe(
      'The frame the object came from: the HTTP message or mail that carried it, the last TFTP block or DICOM fragment, the SMB Create that opened the file; null when it cannot be told exactly (an SMB file opened more than once; a warning says so).',
    ),
  uri: z.string().nullable().describe('The request URI it was fetched with (HTTP).'),
});
export type ExportedObject = z.infer<typeof exportedObjectSchema>;

export interface ObjectExport {
  readonly objects: readonly ExportedObject[];
  /** The directory the objects were saved in, when they were. */
  readonly savedIn: string | undefined;
  readonly warnings: readonly string[];
}

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
    /** What tshark may hold in memory beyond maxBytes while it exports objects. */
    private readonly memoryRoom: number = EXPORT_MEMORY_ROOM,
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
        { what: 'write the packets' },
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

  /**
   * Runs `fn` on a private pcapng of the packets of `file` that `filter` keeps (a frame-level filter
   * such as one host's interface: no decryption or decode-as is needed to choose them), with how
   * many there are; the copy is removed afterwards whatever happens.
   */
  async withPacketsOf<T>(
    file: string,
    filter: string,
    signal: AbortSignal | undefined,
    fn: (selected: string, packets: number) => Promise<T>,
  ): Promise<T> {
    const tools = await this.where.tools();
    return this.inWorkDir(async (work) => {
      const written = path.join(work, 'selected.pcapng');
      const { result } = await this.run(
        tools.require('tshark'),
        [...readArgs({ file, displayFilter: filter, numeric: true }), ...writePcapngArgs(written)],
        signal,
      );
      const there = await fileExists(written);
      if (result.exitCode !== 0 && !there)
        throw new UserError(
          `tshark could not read the packets (${filter}): ${cleanStderr(result.stderr) || `exit code ${result.exitCode}`}`,
        );
      const packets = there ? await countPackets(this.group, tools.require('capinfos'), written, signal) : 0;
      if (packets === undefined) throw new UserError('tshark wrote a file capinfos cannot read.');
      return fn(written, packets);
    });
  }

  /** The names of a capture's interfaces (a merged remote capture's hosts), as capinfos tells them. */
  async interfaceNames(file: string, signal?: AbortSignal): Promise<string[]> {
    const tools = await this.where.tools();
    const facts = await captureFacts(this.group, tools.require('capinfos'), file, signal);
    return facts.interfaces.flatMap((i) => (i.name === undefined ? [] : [i.name]));
  }

  async exportObjects(req: ObjectExportRequest, signal?: AbortSignal): Promise<ObjectExport> {
    if (req.targetDir !== undefined) await refuseNonDirectory(req.targetDir);
    const tools = await this.where.tools();
    const maxBytes = req.maxBytes ?? EXPORT_OBJECT_BYTES.default;
    return this.inWorkDir(async (work) => {
      const dir = path.join(work, 'objects');
      await mkdir(dir);
      const fields = OBJECT_FIELDS[req.protocol];
      // tshark keeps every object in memory and writes them all once the capture is read; the
      // watch stops it as soon as what it wrote passes the budget, before the disk fills.
      const budget = watchBudget(dir, maxBytes, this.memoryRoom);
      let read: { stdout: string; warnings: string[] };
      try {
        read = await this.readCapture(
          tools,
          req,
          [
            ...readArgs({
              file: req.source.file,
              keylogFile: req.keylog.keylogFile,
              dissection: req.keylog.dissection,
              // The packets whose fields tell each object's frame and name. Filtering the printed
              // rows does not narrow the export, which taps every packet.
              displayFilter: fields?.filter,
            }),
            ...(fields
              ? allOccurrenceFieldArgs(fields.fields, fields.aggregator ?? FIELD_AGGREGATOR)
              : ['-q']),
            ...exportObjectsArgs(req.protocol, dir),
          ],
          // tshark finishes writing every object on SIGTERM; only SIGKILL stops it mid-way.
          { what: `export ${req.protocol} objects`, killGraceMs: 0, onStart: budget.watchMemory },
          AbortSignal.any([budget.signal, ...(signal ? [signal] : [])]),
        );
      } catch (err) {
        if (budget.signal.aborted && !signal?.aborted)
          throw budgetError(req, maxBytes, budget.reached(), budget.memory(), this.memoryRoom);
        throw err;
      } finally {
        await budget.stop();
      }
      const files = new Map<string, number>();
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        // tshark writes plain files; anything else is not an object of ours to hand out.
        if (entry.isFile()) files.set(entry.name, (await lstat(path.join(dir, entry.name))).size);
      }
      const total = [...files.values()].reduce((sum, n) => sum + n, 0);
      if (total > maxBytes) throw budgetError(req, maxBytes, { files: files.size, bytes: total });
      const { stdout, warnings } = read;
      const found = matchFrames(req.protocol, fields?.parse(rows(stdout)), files, warnings);
      const names = uniqueSafeNames(found.map((o) => o.written));
      const objects: ExportedObject[] = [];
      for (const [i, o] of found.entries()) {
        const declared = o.contentType ?? DECLARED_TYPE[req.protocol];
        const sniffed = declared ? undefined : await sniffType(path.join(dir, o.written));
        objects.push({
          name: names[i] ?? o.written,
          bytes: files.get(o.written) ?? 0,
          contentType: declared ?? sniffed ?? null,
          contentTypeFrom: declared ? 'declared' : sniffed ? 'sniffed' : null,
          frame: o.frame,
          uri: o.uri,
        });
      }
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
    how: {
      readonly what: string;
      readonly killGraceMs?: number;
      readonly onStart?: (pid: number) => void;
    },
    signal: AbortSignal | undefined,
  ): Promise<{ stdout: string; warnings: string[] }> {
    const { what, ...running } = how;
    const { stdout, result } = await this.run(tools.require('tshark'), args, signal, running);
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
    running: { readonly killGraceMs?: number; readonly onStart?: (pid: number) => void } = {},
  ): Promise<{ stdout: string; result: RunResult }> {
    const { stdout, result } = await runCollect(this.group, {
      command,
      args,
      timeoutMs: this.timeoutMs,
      signal,
      maxBytes: OBJECT_OUTPUT_BYTES,
      ...running,
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

/** One written file, and what the capture's fields tell about it (null: nothing exact). */
interface FoundObject {
  readonly written: string;
  readonly contentType: string | null;
  readonly frame: number | null;
  readonly uri: string | null;
}

/** A tapped object with what only HTTP tells: its declared type and URI. */
interface ObjectFacts extends TappedObject {
  readonly contentType?: string | null;
  readonly uri?: string | null;
}

/** Between values of one field that occurs more than once in a packet (a byte names never hold). */
const FIELD_AGGREGATOR = '\u001f';

/**
 * Per protocol, the packets and fields that tell which frame each object came from, read beside
 * the export in the same pass. DICOM needs none: its export puts the frame in each file's name
 * (dicomFrames). SMB's export names a file after the path its Create asked for, so the frame given is that
 * Create request's, when exactly one asked for that path (`byName`).
 */
const OBJECT_FIELDS: Partial<
  Record<
    ExportObjectProtocol,
    {
      filter: string;
      fields: readonly string[];
      /** Between repeated values, when the parse does not split them (as HTTP printed them before). */
      aggregator?: string;
      parse: (rows: string[][]) => ObjectFacts[];
      /**
       * The facts are not one per object in tshark's order but candidates by name (SMB: every
       * Create): a file gets the frame of the one candidate of its name, none when several.
       */
      byName?: boolean;
    }
  >
> = {
  // The messages with a body, as the HTTP export saves them.
  http: {
    filter: 'http.file_data',
    aggregator: ',',
    fields: [
      'frame.number',
      'http.content_type',
      'http.request.uri',
      'http.response_for.uri',
      'http.request.full_uri',
    ],
    parse: (rows) =>
      rows.map((r) => {
        const uri = r[3] || r[4] || null;
        return {
          name: globBasename(r[2] || requestPathOf(uri ?? '')),
          frame: Number(r[0]),
          contentType: r[1] || null,
          uri,
        };
      }),
  },
  // packet-imf.c hands over each message it dissects, named after its Subject.
  imf: {
    filter: 'imf',
    fields: ['frame.number', 'imf.subject'],
    parse: (rows) => rows.map((r) => imfObject(Number(r[0]), (r[1] ?? '').split(FIELD_AGGREGATOR))),
  },
  // packet-smb.c / packet-smb2.c name a file after its Create's path, with a leading backslash.
  smb: {
    filter: '(smb2.cmd == 5 && smb2.flags.response == 0) || (smb.cmd == 0xa2 && smb.flags.response == 0)',
    fields: ['frame.number', 'smb2.filename', 'smb.file'],
    byName: true,
    parse: (rows) =>
      rows.flatMap((r) => {
        const name = r[1] || r[2] || '';
        return name === '' ? [] : [{ name: name.startsWith('\\') ? name : `\\${name}`, frame: Number(r[0]) }];
      }),
  },
  tftp: {
    filter: 'tftp',
    fields: [
      'frame.number',
      'tftp.opcode',
      'tftp.destination_file',
      'tftp.request_frame',
      'tftp.block.full',
      'udp.length',
      'tftp.option.name',
      'tftp.option.value',
    ],
    parse: (rows) =>
      tftpObjects(
        rows.map((r) => {
          const names = (r[6] ?? '').split(FIELD_AGGREGATOR);
          const values = (r[7] ?? '').split(FIELD_AGGREGATOR);
          return {
            frame: Number(r[0]),
            opcode: Number(r[1]),
            file: r[2] ?? '',
            request: Number(r[3]),
            block: Number(r[4]),
            udpLength: Number(r[5]),
            options: names.map((n, i) => [n, values[i] ?? ''] as const),
          };
        }),
      ),
  },
};

/**
 * Each written file with the frame of the one candidate whose name tshark gives that file (its
 * first copy's name: a "(1)" copy shares its candidates, so it gets none); null when no candidate
 * or several have that name, with a warning counting them.
 */
function matchByName(
  protocol: ExportObjectProtocol,
  facts: readonly ObjectFacts[],
  files: ReadonlyMap<string, number>,
  warnings: string[],
): FoundObject[] {
  const frames = framesByName(facts, [...files.keys()]);
  const found = [...files.keys()]
    .sort()
    .map((written) => ({ written, contentType: null, frame: frames.get(written) ?? null, uri: null }));
  const unknown = found.filter((o) => o.frame === null).length;
  if (unknown > 0)
    warnings.push(
      `${plural(unknown, `${protocol.toUpperCase()} object`)} ${unknown === 1 ? 'has' : 'have'} no frame: the file was opened more than once (or under no name the capture shows), so which open it came from is not certain.`,
    );
  return found;
}

/**
 * DICOM objects with their frames: packet-dcm.c names each file after the frame that completed it
 * ("000123-1-<SOP instance UID>.dcm"), so the name tells it exactly.
 */
function dicomFrames(files: ReadonlyMap<string, number>, warnings: string[]): FoundObject[] {
  const found = [...files.keys()]
    .sort()
    .map((written) => ({ written, contentType: null, frame: dicomFrameOf(written), uri: null }));
  const unknown = found.filter((o) => o.frame === null).length;
  if (unknown > 0)
    warnings.push(
      `${plural(unknown, 'DICOM object')} ${unknown === 1 ? 'is' : 'are'} not named "<frame>-<n>-<uid>.dcm" as tshark names them, so ${unknown === 1 ? 'its frame is' : 'their frames are'} not shown.`,
    );
  return found;
}

/** What a protocol declares of every object it carries. */
const DECLARED_TYPE: Partial<Record<ExportObjectProtocol, string>> = {
  imf: 'message/rfc822',
  dicom: 'application/dicom',
};

function rows(stdout: string): string[][] {
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t'));
}

/**
 * Each written file with the frame (and, for HTTP, the content type and URI) the capture's fields
 * give it: matched exactly (names in tshark's order, sizes where the fields tell them) or not at
 * all, with a warning saying so.
 */
function matchFrames(
  protocol: ExportObjectProtocol,
  facts: readonly ObjectFacts[] | undefined,
  files: ReadonlyMap<string, number>,
  warnings: string[],
): FoundObject[] {
  const unmatched = (): FoundObject[] =>
    [...files.keys()].sort().map((f) => ({ written: f, contentType: null, frame: null, uri: null }));
  if (files.size === 0) return [];
  if (protocol === 'dicom') return dicomFrames(files, warnings);
  if (facts === undefined) {
    warnings.push(
      `tshark does not tell which frame each ${protocol.toUpperCase()} object came from in a way that can be matched exactly, so frames are not shown.`,
    );
    return unmatched();
  }
  if (OBJECT_FIELDS[protocol]?.byName) return matchByName(protocol, facts, files, warnings);
  const matched = matchObjects(
    facts.map((f) => f.name),
    new Set(files.keys()),
  );
  const sizesAgree = facts.every(
    (f, i) => f.bytes === undefined || files.get(matched?.[i] ?? '') === f.bytes,
  );
  if (matched === undefined || !sizesAgree) {
    warnings.push(
      `The ${plural(files.size, 'file')} tshark saved could not be matched exactly to the ${protocol.toUpperCase()} packets that carried them, so frames${protocol === 'http' ? ', declared content types and URIs' : ''} are not shown.`,
    );
    return unmatched();
  }
  return facts.map((f, i) => ({
    written: matched[i] ?? '',
    contentType: f.contentType ?? null,
    frame: f.frame,
    uri: f.uri ?? null,
  }));
}

/** The media type the first bytes of a file show (magic numbers), or undefined. */
async function sniffType(file: string): Promise<string | undefined> {
  // Loaded by the first export, not at start-up.
  const { fileTypeFromFile } = await import('file-type');
  return (await fileTypeFromFile(file).catch(() => undefined))?.mime;
}

/** How far tshark got before the budget stopped it. */
interface Reached {
  readonly files: number;
  readonly bytes: number;
}

/**
 * Watches what tshark writes into `dir`: a change (fs.watch) or a short poll sums the files, and
 * past `limit` bytes the signal aborts, which stops tshark.
 */
function watchBudget(
  dir: string,
  limit: number,
  memoryRoom: number,
): {
  signal: AbortSignal;
  reached: () => Reached;
  memory: () => number | undefined;
  watchMemory: (pid: number) => void;
  stop: () => Promise<void>;
} {
  const over = new AbortController();
  let reached: Reached = { files: 0, bytes: 0 };
  // tshark holds each object in memory until the capture is read: a body that inflates without
  // end fills memory long before a byte reaches the disk. Its resident memory past the budget
  // (and room for the dissection itself) stops it the same way.
  let pid: number | undefined;
  let memoryOver: number | undefined;
  const memoryLimit = limit + memoryRoom;
  const checkMemory = async (): Promise<void> => {
    if (pid === undefined) return;
    const rss = await residentBytes(pid);
    if (rss !== undefined && rss > memoryLimit) {
      memoryOver = rss;
      over.abort();
    }
  };
  let checking: Promise<void> | undefined;
  let again = false;
  const check = (): void => {
    if (checking) {
      again = true;
      return;
    }
    checking = Promise.all([dirSize(dir), checkMemory()])
      .then(([now]) => {
        if (now.bytes >= reached.bytes) reached = now;
        if (now.bytes > limit) over.abort();
      })
      .finally(() => {
        checking = undefined;
        if (again && !over.signal.aborted) {
          again = false;
          check();
        }
      });
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, check);
    watcher.on('error', () => undefined);
  } catch {
    // The poll below still watches.
  }
  const poll = setInterval(check, BUDGET_POLL_MS);
  return {
    signal: over.signal,
    reached: () => reached,
    memory: () => memoryOver,
    watchMemory: (started) => {
      pid = started;
    },
    stop: async () => {
      clearInterval(poll);
      watcher?.close();
      await checking;
    },
  };
}
const BUDGET_POLL_MS = 50;
/** What tshark may hold beyond the objects themselves, by default: the dissection of a large capture. */
export const EXPORT_MEMORY_ROOM = 1e9;

/** A process's resident memory (VmRSS, Linux), or undefined where that cannot be read. */
async function residentBytes(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  const kb = status?.match(/^VmRSS:\s+(\d+) kB/m)?.[1];
  return kb === undefined ? undefined : Number(kb) * 1024;
}

async function dirSize(dir: string): Promise<Reached> {
  let bytes = 0;
  let files = 0;
  for (const name of await readdir(dir).catch(() => [])) {
    const info = await lstat(path.join(dir, name)).catch(() => undefined);
    if (info === undefined) continue;
    files++;
    bytes += info.size;
  }
  return { files, bytes };
}

function budgetError(
  req: ObjectExportRequest,
  maxBytes: number,
  reached: Reached,
  memory?: number,
  memoryRoom = EXPORT_MEMORY_ROOM,
): UserError {
  const how =
    memory === undefined
      ? `the ${req.protocol} objects it was writing passed maxBytes (${sizeText(maxBytes)}) after ${plural(reached.files, 'file')} (whole or begun) and ${sizeText(reached.bytes)}`
      : `it held ${formatBytes(memory)} in memory while reading the capture (it keeps every ${req.protocol} object in memory until the end), more than maxBytes (${sizeText(maxBytes)}) and ${formatBytes(memoryRoom)} for the dissection`;
  return new UserError(
    `export_objects stopped tshark: ${how}, so nothing was saved. A compressed body can inflate far beyond its size on the wire. To go on, give a larger maxBytes (at most ${formatBytes(EXPORT_OBJECT_BYTES.max)}), or cut the capture first with export_packets (a display filter or one stream) and export the objects of that file.`,
  );
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

/** Characters of a URI the text shows; the full URI is in structuredContent. */
const URI_TEXT_CHARS = 160;

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
    const type =
      o.contentType === null
        ? null
        : o.contentTypeFrom === 'sniffed'
          ? `${o.contentType} (sniffed)`
          : o.contentType;
    // A URI can run to thousands of characters: the text keeps its start, structuredContent all of it.
    const uri =
      o.uri !== null && o.uri.length > URI_TEXT_CHARS ? `${o.uri.slice(0, URI_TEXT_CHARS)}…` : o.uri;
    const text = [o.name, o.bytes, type, o.frame, uri]
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
