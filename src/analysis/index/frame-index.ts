// Where each frame of a capture file starts, read from the record framing (../framing.ts), never
// the packets: the ground a drill-down stands on to read only the frames it needs (./cut.ts). One
// index takes 16 bytes a frame (its offset and its time, two Float64 values) plus the pcapng
// blocks a cut needs in front (interfaces, name resolution, decryption secrets). An index of a file
// that only grew (a running capture's) is extended from where its scan stopped, not rebuilt.
import { open } from 'node:fs/promises';
import { withFraming } from '../framing.js';
import type { Framing, Reader } from '../framing.js';

/** Bytes an index spends per frame: its record's offset and its time, as Float64. */
export const BYTES_PER_FRAME = 16;

/** The pcapng metadata a cut puts in front of its frames, bounded as the summary's chunks are. */
const MAX_METADATA_BYTES = 16 * 1024 * 1024;

/** The identity of one version of a file: a change of any of these drops or extends its index. */
export interface FileVersion {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
}

/** A pcapng non-packet block kept for the header of a cut. */
export interface MetadataBlock {
  readonly offset: number;
  readonly bytes: Buffer;
  /** A section header block (a new section starts here). */
  readonly section: boolean;
}

export class FrameIndex {
  private offsets: Float64Array;
  private times: Float64Array;
  private frames = 0;
  /** The pcap file header, or undefined for pcapng (its header is its metadata blocks). */
  fileHeader: Buffer | undefined;
  readonly metadata: MetadataBlock[] = [];
  private metadataBytes = 0;
  /** Where the scan stopped: the first byte of the first record not indexed. */
  scanned = 0;
  /** The scan met a record it cannot trust: frames after it are not indexed, and never will be. */
  damaged = false;
  /** The file has more frames than an index may hold: frames past maxFrames are not indexed. */
  full = false;
  /** The metadata outgrew its bound: a cut cannot carry it. */
  metadataOverflow = false;
  /** pcapng: the current section's byte order and each of its interfaces' seconds per tick. */
  private little = true;
  private resolutions: number[] = [];

  constructor(
    public version: FileVersion,
    capacity: number,
    /** Frames held at most, so that a file of tiny records cannot take memory without bound. */
    private readonly maxFrames = Number.POSITIVE_INFINITY,
  ) {
    this.offsets = new Float64Array(Math.max(16, capacity));
    this.times = new Float64Array(Math.max(16, capacity));
  }

  /** Frames indexed. */
  get count(): number {
    return this.frames;
  }

  /** Bytes held: the two arrays as allocated, and the metadata. */
  get bytes(): number {
    return this.offsets.byteLength + this.times.byteLength + this.metadataBytes;
  }

  /** pcapng sections seen (a pcap file has one). */
  get sections(): number {
    return this.fileHeader ? 1 : this.metadata.filter((m) => m.section).length;
  }

  /** The file offset of frame `n` (1-based), or undefined when it is not indexed. */
  offsetOf(n: number): number | undefined {
    return n >= 1 && n <= this.frames ? this.offsets[n - 1] : undefined;
  }

  /** Frame `n`'s time in seconds since the epoch (NaN for a pcapng simple packet block). */
  timeOf(n: number): number | undefined {
    return n >= 1 && n <= this.frames ? this.times[n - 1] : undefined;
  }

  /** Where frame `n`'s record ends: the next frame's start, or the end of the scan for the last. */
  endOf(n: number): number | undefined {
    if (n < 1 || n > this.frames) return undefined;
    return n < this.frames ? this.offsets[n] : this.scanned;
  }

  /**
   * The header a cut whose first record is at `at` needs: the pcap file header, or the pcapng
   * section header with every metadata block before `at` (the summary's ranges take the same).
   */
  headerBefore(at: number): Buffer {
    if (this.fileHeader) return this.fileHeader;
    return Buffer.concat(this.metadata.filter((m) => m.offset < at).map((m) => m.bytes));
  }

  /** Drops the unused tail of the arrays once a scan is done. */
  trim(): void {
    if (this.offsets.length > this.frames + 16) {
      this.offsets = this.offsets.slice(0, this.frames);
      this.times = this.times.slice(0, this.frames);
    }
  }

  /** Records up to the end of the file (`size`), from where the last scan stopped. */
  async scan(reader: Reader, framing: Framing, size: number, signal?: AbortSignal): Promise<void> {
    if (this.scanned === 0) {
      this.scanned = framing.first;
      if (framing.first > 0) this.fileHeader = Buffer.from((await reader.bytes(0, framing.first)) ?? []);
    }
    let offset = this.scanned;
    let steps = 0;
    while (!this.damaged && !this.full) {
      if (++steps % 65_536 === 0 && signal?.aborted) break;
      const h = reader.peek(offset, framing.headerBytes) ?? (await reader.bytes(offset, framing.headerBytes));
      if (!h) break; // the end, or a record header still being written
      const record = framing.parse(h, offset, size);
      if (record === undefined) {
        // A record cut off by the end of the file is not damage: a running capture writes it next.
        const whole = framing.parse(h, offset, Number.POSITIVE_INFINITY);
        if (whole === undefined) this.damaged = true;
        break;
      }
      if (offset + record.length > size) break;
      if (record.packet) {
        if (this.frames >= this.maxFrames) {
          this.full = true;
          break;
        }
        if (this.fileHeader) this.push(offset, pcapTime(h, this.fileHeader));
        else {
          const body = reader.peek(offset, 20) ?? (await reader.bytes(offset, 20));
          this.push(offset, body ? this.pcapngTime(body) : Number.NaN);
        }
      } else if (record.kind !== 'skip') {
        const block = await reader.bytes(offset, record.length);
        if (!block) break;
        this.keepMetadata(offset, Buffer.from(block), record.kind === 'section');
      }
      offset += record.length;
      this.scanned = offset;
    }
  }

  private push(offset: number, time: number): void {
    if (this.frames === this.offsets.length) {
      const grow = (a: Float64Array): Float64Array => {
        const b = new Float64Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.offsets = grow(this.offsets);
      this.times = grow(this.times);
    }
    this.offsets[this.frames] = offset;
    this.times[this.frames] = time;
    this.frames++;
  }

  private keepMetadata(offset: number, bytes: Buffer, section: boolean): void {
    const type = bytes.readUInt32LE(0);
    if (section) {
      this.little = bytes.readUInt32LE(8) === 0x1a2b3c4d;
      this.resolutions = [];
    } else if ((this.little ? type : bytes.readUInt32BE(0)) === 1) {
      this.resolutions.push(interfaceResolution(bytes, this.little));
    }
    this.metadataBytes += bytes.length;
    if (this.metadataBytes > MAX_METADATA_BYTES) {
      this.metadataOverflow = true;
      return;
    }
    this.metadata.push({ offset, bytes, section });
  }

  /** An enhanced (or obsolete) packet block's time; a simple packet block has none. */
  private pcapngTime(b: Buffer): number {
    const type = this.little ? b.readUInt32LE(0) : b.readUInt32BE(0);
    if (type !== 6 && type !== 2) return Number.NaN;
    const iface = type === 6 ? (this.little ? b.readUInt32LE(8) : b.readUInt32BE(8)) : 0;
    const high = this.little ? b.readUInt32LE(12) : b.readUInt32BE(12);
    const low = this.little ? b.readUInt32LE(16) : b.readUInt32BE(16);
    return (high * 2 ** 32 + low) * (this.resolutions[iface] ?? 1e-6);
  }
}

/** A pcap record's time: seconds and micro- or nanoseconds, as the file's magic says. */
function pcapTime(h: Buffer, fileHeader: Buffer): number {
  const magic = fileHeader.readUInt32LE(0);
  const little = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const nano = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  const seconds = little ? h.readUInt32LE(0) : h.readUInt32BE(0);
  const fraction = little ? h.readUInt32LE(4) : h.readUInt32BE(4);
  return seconds + fraction * (nano ? 1e-9 : 1e-6);
}

/** An interface description block's if_tsresol option (code 9), in seconds per tick. */
function interfaceResolution(block: Buffer, little: boolean): number {
  const u16 = (at: number): number => (little ? block.readUInt16LE(at) : block.readUInt16BE(at));
  // Options start after type, length, link type, reserved and snap length; the block ends with its length.
  for (let at = 16; at + 4 <= block.length - 4;) {
    const code = u16(at);
    const length = u16(at + 2);
    if (code === 0) break;
    if (code === 9 && length >= 1) {
      const v = block.readUInt8(at + 4);
      return v & 0x80 ? 2 ** -(v & 0x7f) : 10 ** -(v & 0x7f);
    }
    at += 4 + Math.ceil(length / 4) * 4;
  }
  return 1e-6;
}

/** The version of a file as its stat says it now. */
export async function fileVersion(file: string): Promise<FileVersion> {
  const handle = await open(file, 'r');
  try {
    const s = await handle.stat();
    return { dev: s.dev, ino: s.ino, size: s.size, mtimeMs: s.mtimeMs };
  } finally {
    await handle.close();
  }
}

/**
 * Builds `index` from where it stopped to the file's end (all of it for a new one). Undefined when
 * the file is neither pcap nor pcapng.
 */
export async function scanInto(
  file: string,
  index: FrameIndex | ((version: FileVersion) => FrameIndex),
  signal?: AbortSignal,
): Promise<FrameIndex | undefined> {
  return withFraming(file, async (reader, framing, size) => {
    const version = await fileVersion(file);
    const target = typeof index === 'function' ? index({ ...version, size }) : index;
    await target.scan(reader, framing, size, signal);
    target.version = { ...version, size };
    target.trim();
    return target;
  });
}
