// Capture files sent to the server over HTTP by clients on other machines (PUT or POST /uploads
// beside /mcp): streamed to the server's private directory under a name the server chooses, with a
// size cap, a quota per client and an expiry. A file is kept only once capinfos has read it as a
// capture; anything else, or an upload cut short, is removed. Each gets an id that every tool takes
// as its source.
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { UPLOAD_LIMITS } from '../limits.js';
import type { RuntimeDir } from '../storage/runtime-dir.js';
import { countPackets } from '../wireshark/capinfos.js';
import type { WiresharkTools } from '../wireshark/locate.js';
import type { ProcessGroup } from '../wireshark/process.js';

/** The ids uploads get, as tools recognise them in `source`. */
export const UPLOAD_ID = /^upload_[0-9a-f]{32}$/;

export interface Upload {
  readonly id: string;
  readonly file: string;
  readonly bytes: number;
  readonly packets: number;
  /** Who sent it: the MCP session, else the client's address. Quotas are counted per owner. */
  readonly owner: string;
  /** The name the client gave, if any (shown, never used as a path). */
  readonly name: string | undefined;
  readonly receivedAt: Date;
  /** Removed this long after it was last used. */
  expiresAt: Date;
}

export interface UploadLimits {
  readonly maxBytes: number;
  readonly quotaBytes: number;
  readonly ttlMs: number;
}

/** An upload refused: the HTTP status and what to do. */
export class UploadError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'UploadError';
  }
}

/** What is read and dropped of a body past its bound, so the client hears the refusal. */
const DRAIN_BYTES = 64 * 1024 * 1024;

const mb = (n: number): string => `${Math.round(n / 1e6)} MB`;

export class UploadStore {
  private readonly uploads = new Map<string, Upload>();
  /** Bytes being received now, per owner (they count against the quota too). */
  private readonly incoming = new Map<string, number>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly group: ProcessGroup,
    private readonly tools: () => Promise<WiresharkTools>,
    private readonly runtimeDir: RuntimeDir,
    readonly limits: UploadLimits = {
      maxBytes: UPLOAD_LIMITS.maxMB * 1e6,
      quotaBytes: UPLOAD_LIMITS.quotaMB * 1e6,
      ttlMs: UPLOAD_LIMITS.ttlMinutes * 60_000,
    },
  ) {
    this.sweeper = setInterval(() => void this.sweep(), Math.max(1_000, Math.min(limits.ttlMs / 4, 60_000)));
    this.sweeper.unref();
  }

  /** The file of upload `id` (its expiry starts again), or undefined when there is none. */
  file(id: string): string | undefined {
    const upload = this.uploads.get(id);
    if (!upload) return undefined;
    upload.expiresAt = new Date(Date.now() + this.limits.ttlMs);
    return upload.file;
  }

  get(id: string): Upload | undefined {
    return this.uploads.get(id);
  }

  private used(owner: string): number {
    let n = this.incoming.get(owner) ?? 0;
    for (const u of this.uploads.values()) if (u.owner === owner) n += u.bytes;
    return n;
  }

  /** Refuses, before any of the body is read, an upload whose declared size is over a bound. */
  admit(owner: string, declaredBytes: number | undefined): void {
    if (declaredBytes !== undefined && declaredBytes > this.room(owner))
      throw this.tooBig(owner, declaredBytes);
  }

  private room(owner: string): number {
    return Math.min(this.limits.maxBytes, this.limits.quotaBytes - this.used(owner));
  }

  private tooBig(owner: string, bytes: number): UploadError {
    const { maxBytes, quotaBytes } = this.limits;
    return bytes > maxBytes
      ? new UploadError(
          413,
          `The capture is larger than the ${mb(maxBytes)} this server takes in one upload. Cut it first (editcap -c, or a display filter with tshark -w), or ask the operator to raise SHARKMCP_MAX_UPLOAD_MB.`,
        )
      : new UploadError(
          413,
          `Your uploads would pass your quota of ${mb(quotaBytes)} (${mb(this.used(owner))} in use). Delete ones you no longer need (DELETE /uploads/<id>) or wait for them to expire.`,
        );
  }

  /**
   * Receives one capture from `body`. Refused before a byte is written when the declared length is
   * over a bound; past a bound while it streams, nothing more is written and the upload is removed.
   */
  async receive(
    body: Readable,
    o: {
      readonly owner: string;
      readonly name?: string | undefined;
      readonly declaredBytes?: number | undefined;
    },
  ): Promise<Upload> {
    this.admit(o.owner, o.declaredBytes);
    const id = `upload_${randomBytes(16).toString('hex')}`;
    const file = path.join(await this.runtimeDir.path(), `${id}.capture`);
    const limit = this.room(o.owner);
    let received = 0;
    let over: UploadError | undefined;
    const counter = new Transform({
      transform: (chunk: Buffer, _enc, done) => {
        received += chunk.length;
        if (received > limit) {
          // Past the bound nothing more is written; a little more is read and dropped so the
          // client hears why instead of a reset, then the connection is cut.
          over ??= this.tooBig(o.owner, received);
          done(received > limit + DRAIN_BYTES ? over : null);
          return;
        }
        this.incoming.set(o.owner, (this.incoming.get(o.owner) ?? 0) + chunk.length);
        done(null, chunk);
      },
    });
    try {
      await pipeline(body, counter, createWriteStream(file, { mode: 0o600, flags: 'wx' }));
    } catch (err) {
      await rm(file, { force: true });
      if (over) throw over;
      throw new UploadError(
        400,
        `The upload was cut short (${(err as Error).message}); nothing was kept. Send it again.`,
      );
    } finally {
      this.incoming.set(o.owner, Math.max(0, (this.incoming.get(o.owner) ?? 0) - Math.min(received, limit)));
    }
    if (over) {
      await rm(file, { force: true });
      throw over;
    }
    const packets = await this.packetsIn(file);
    if (packets === undefined) {
      await rm(file, { force: true });
      throw new UploadError(
        415,
        `What was sent (${received} bytes) is not a capture file Wireshark can read, so it was not kept. Send a pcap or pcapng file (or another format tshark reads), as the request's raw body.`,
      );
    }
    const upload: Upload = {
      id,
      file,
      bytes: (await stat(file)).size,
      packets,
      owner: o.owner,
      name: o.name,
      receivedAt: new Date(),
      expiresAt: new Date(Date.now() + this.limits.ttlMs),
    };
    this.uploads.set(id, upload);
    return upload;
  }

  private async packetsIn(file: string): Promise<number | undefined> {
    const capinfos = (await this.tools()).status('capinfos');
    if (!capinfos.found) return undefined;
    return countPackets(this.group, capinfos.path, file).catch(() => undefined);
  }

  /** Removes `owner`'s upload `id`; false when it has none of that id. */
  async delete(id: string, owner: string): Promise<boolean> {
    const upload = this.uploads.get(id);
    if (!upload || upload.owner !== owner) return false;
    this.uploads.delete(id);
    await rm(upload.file, { force: true });
    return true;
  }

  /** Removes the uploads whose time is up. */
  async sweep(now = Date.now()): Promise<void> {
    for (const [id, u] of this.uploads) {
      if (u.expiresAt.getTime() > now) continue;
      this.uploads.delete(id);
      await rm(u.file, { force: true });
    }
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}
