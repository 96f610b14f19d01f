// The process sidecar: what the sampler saw during one capture, in a JSON-lines file beside the
// capture (<capture>.processes.jsonl), so it goes wherever the capture is copied and is found again
// by anyone who reads the capture by its path. Written a poll at a time (a crash keeps what was
// seen), bounded (after MAX_SIDECAR_SOCKETS sockets it says it stopped, and stops), read back with
// every line checked: a torn last line or a foreign line is skipped, never trusted.
import { closeSync, openSync, writeSync } from 'node:fs';
import { copyFile, constants, open, rm } from 'node:fs/promises';
import os from 'node:os';
import * as z from 'zod';
import type { ProcessInfo } from './owners.js';
import type { SamplerFigures, SeenSocket, SocketSink } from './sampler.js';

/** Sockets one sidecar records at most (about 200 bytes each). */
export const MAX_SIDECAR_SOCKETS = 50_000;
/** The most of a sidecar that is read back: a larger file is not one we wrote. */
const MAX_SIDECAR_BYTES = 64 * 1024 * 1024;
const VERSION = 1;

/** Where the sidecar of `captureFile` lives. */
export function sidecarPath(captureFile: string): string {
  return `${captureFile}.processes.jsonl`;
}

const processLine = z.object({
  t: z.literal('process'),
  key: z.string().max(64),
  pid: z.number().int().positive(),
  comm: z.string().max(64),
  cmdline: z.string().max(2048),
  uid: z.number().int().nonnegative().nullable(),
  user: z.string().max(256).nullable(),
});

const endpoint = z.string().max(64);
const openLine = z.object({
  t: z.literal('open'),
  inode: z.number().int().positive(),
  protocol: z.enum(['tcp', 'udp']),
  local: endpoint,
  remote: endpoint,
  wildcard: z.boolean(),
  uid: z.number().int().nonnegative(),
  at: z.number(),
  /** The process's key; null when no owner was found. */
  process: z.string().max(64).nullable(),
});

const closeLine = z.object({ t: z.literal('close'), inode: z.number().int().positive(), at: z.number() });

const headerLine = z.object({
  t: z.literal('header'),
  version: z.number().int(),
  at: z.number(),
  host: z.string().max(256),
  pollMs: z.number(),
  maxSockets: z.number().int(),
  /** This machine's addresses when the recording began: which end of a conversation is local. */
  addresses: z.array(z.string().max(64)).max(1024).optional(),
});

const cappedLine = z.object({ t: z.literal('capped'), at: z.number() });

const endLine = z.object({
  t: z.literal('end'),
  at: z.number(),
  polls: z.number(),
  walks: z.number(),
  cpuMicros: z.number(),
  sampledMs: z.number(),
  walkMicros: z.number().optional(),
  searchMicros: z.number().optional(),
  processesScanned: z.number().optional(),
  linksRead: z.number().optional(),
  fullScans: z.number().optional(),
  helperMicros: z.number().optional(),
  slowedMs: z.number().optional(),
  tables: z.enum(['netlink', 'proc']).optional(),
});

const sidecarLine = z.discriminatedUnion('t', [
  processLine,
  openLine,
  closeLine,
  headerLine,
  cappedLine,
  endLine,
]);
export type ProcessRecord = z.infer<typeof processLine>;
export type OpenRecord = z.infer<typeof openLine>;

/** A sidecar as read back. */
export interface SidecarContents {
  readonly header: z.infer<typeof headerLine> | undefined;
  readonly processes: ReadonlyMap<string, ProcessRecord>;
  /** Each socket with when it was first and last seen (last undefined: open when recording ended). */
  readonly sockets: readonly (OpenRecord & { readonly last: number | undefined })[];
  /** When the socket cap stopped the recording, if it did. */
  readonly cappedAt: number | undefined;
  readonly end: z.infer<typeof endLine> | undefined;
  /** Lines that were not sidecar lines (a torn last line after a crash). */
  readonly skipped: number;
}

/** Records what the sampler tells it into a capture's sidecar, a poll at a time. */
export class SidecarWriter implements SocketSink {
  private fd: number | undefined;
  private lines: string[] = [];
  private readonly processes = new Set<string>();
  private sockets = 0;
  private capped = false;

  private constructor(
    readonly file: string,
    private readonly maxSockets: number,
  ) {}

  /** Creates the sidecar (mode 0600, never over an existing file) and writes its header. */
  static create(captureFile: string, pollMs: number, maxSockets = MAX_SIDECAR_SOCKETS): SidecarWriter {
    const writer = new SidecarWriter(sidecarPath(captureFile), maxSockets);
    writer.fd = openSync(writer.file, 'wx', 0o600);
    writer.add({
      t: 'header',
      version: VERSION,
      at: Date.now(),
      host: os.hostname(),
      pollMs,
      maxSockets,
      addresses: localAddresses(),
    });
    writer.flush();
    return writer;
  }

  get counts(): { sockets: number; processes: number; capped: boolean } {
    return { sockets: this.sockets, processes: this.processes.size, capped: this.capped };
  }

  opened(socket: SeenSocket): void {
    if (this.capped) return;
    if (this.sockets >= this.maxSockets) {
      this.capped = true;
      this.add({ t: 'capped', at: Date.now() });
      return;
    }
    this.sockets++;
    const owner = socket.owner;
    if (owner && !this.processes.has(owner.key)) {
      this.processes.add(owner.key);
      this.add(processRecord(owner));
    }
    this.add({
      t: 'open',
      inode: socket.inode,
      protocol: socket.protocol,
      local: socket.local,
      remote: socket.remote,
      wildcard: socket.wildcard,
      uid: socket.uid,
      at: socket.firstSeen,
      process: owner?.key ?? null,
    });
  }

  closed(inode: number, lastSeen: number): void {
    if (!this.capped) this.add({ t: 'close', inode, at: lastSeen });
  }

  flush(): void {
    if (this.fd === undefined || this.lines.length === 0) return;
    const text = this.lines.join('');
    this.lines = [];
    try {
      writeSync(this.fd, text);
    } catch {
      // The folder went away (the server is closing): nothing more to keep.
      this.close();
    }
  }

  /** Writes the sampler's figures and closes the file. */
  finish(figures: SamplerFigures): void {
    this.add({ t: 'end', at: Date.now(), ...figures });
    this.flush();
    this.close();
  }

  private close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      closeSync(fd);
    } catch {
      // already closed with its folder
    }
  }

  private add(line: z.infer<typeof sidecarLine>): void {
    this.lines.push(`${JSON.stringify(line)}\n`);
  }
}

function processRecord(p: ProcessInfo): ProcessRecord {
  return {
    t: 'process',
    key: p.key,
    pid: p.pid,
    comm: p.comm,
    cmdline: p.cmdline,
    uid: p.uid ?? null,
    user: p.user ?? null,
  };
}

/** Reads the sidecar beside `captureFile`; undefined when there is none (or it is not ours). */
export async function readSidecar(captureFile: string): Promise<SidecarContents | undefined> {
  let text: string;
  try {
    // Beside a file the caller named, anything may sit under that name: a link, a FIFO (whose
    // open would wait for a writer), a device that never ends. Only a plain file of ours is read.
    const handle = await open(
      sidecarPath(captureFile),
      constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
    );
    try {
      const info = await handle.stat();
      if (!info.isFile() || info.size > MAX_SIDECAR_BYTES) return undefined;
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    return undefined;
  }
  return parseSidecar(text);
}

/** A sidecar's text, read line by line; undefined when its first line is not our header. */
export function parseSidecar(text: string): SidecarContents | undefined {
  const processes = new Map<string, ProcessRecord>();
  const sockets: (OpenRecord & { last: number | undefined })[] = [];
  const open = new Map<number, OpenRecord & { last: number | undefined }>();
  let header: z.infer<typeof headerLine> | undefined;
  let end: z.infer<typeof endLine> | undefined;
  let cappedAt: number | undefined;
  let skipped = 0;
  for (const raw of text.split('\n')) {
    if (raw === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      skipped++;
      continue;
    }
    const line = sidecarLine.safeParse(parsed);
    if (!line.success) {
      skipped++;
      continue;
    }
    const l = line.data;
    if (header === undefined && l.t !== 'header') return undefined;
    switch (l.t) {
      case 'header':
        header ??= l;
        break;
      case 'process':
        processes.set(l.key, l);
        break;
      case 'open': {
        // The same inode listed again (it connected after it was seen bound) ends its earlier record.
        const before = open.get(l.inode);
        if (before && before.last === undefined) before.last = l.at;
        const socket = { ...l, last: undefined };
        open.set(l.inode, socket);
        sockets.push(socket);
        break;
      }
      case 'close': {
        const socket = open.get(l.inode);
        if (socket) socket.last = l.at;
        open.delete(l.inode);
        break;
      }
      case 'capped':
        cappedAt = l.at;
        break;
      case 'end':
        end = l;
        break;
    }
  }
  return header === undefined ? undefined : { header, processes, sockets, cappedAt, end, skipped };
}

/** Copies the sidecar of `from` (if it has one) beside `to`; never over an existing file. */
export async function copySidecar(from: string, to: string): Promise<void> {
  try {
    await copyFile(sidecarPath(from), sidecarPath(to), constants.COPYFILE_EXCL);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

export async function removeSidecar(captureFile: string): Promise<void> {
  await rm(sidecarPath(captureFile), { force: true });
}

/** The addresses of this machine's interfaces, at most 1,024. */
function localAddresses(): string[] {
  const all = Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
  return [...new Set(all)].slice(0, 1024);
}
