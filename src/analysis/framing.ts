// The record framing of pcap and pcapng files: record lengths and kinds read from their headers,
// never the packets. The summary cuts files into ranges with it (summary/chunks.ts); a damaged
// file's reader finds with it where the damage begins (damage.ts).
import { open } from 'node:fs/promises';

const READ_SIZE = 1024 * 1024;

const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_PACKET_BLOCKS = new Set([2, 3, 6]);
/** Interface, name resolution, interface statistics, decryption secrets, custom blocks. */
const PCAPNG_METADATA_BLOCKS = new Set([1, 4, 5, 0x0a, 0x0bad, 0x40000bad]);
const PCAPNG_ISB = 5;
const PCAPNG_IDB = 1;

/** Sequential reads of a file in 1 MiB buffers, with random access to the bytes just read. */
export class Reader {
  private buffer = Buffer.alloc(READ_SIZE);
  private from = 0;
  private length = 0;

  constructor(
    private readonly file: Awaited<ReturnType<typeof open>>,
    readonly size: number,
  ) {}

  /** `n` bytes at `offset` if they are in the buffer already (no await per record). */
  peek(offset: number, n: number): Buffer | undefined {
    if (offset < this.from || offset + n > this.from + this.length) return undefined;
    return this.buffer.subarray(offset - this.from, offset - this.from + n);
  }

  /**
   * The record whose header is at `offset`, parsed where it lies in the buffer (no Buffer made per
   * record: a walk of a million records made a million, which cost a summary a second of the
   * server's CPU); null when the header is not held (then `bytes` reads it), undefined when the
   * record cannot be trusted.
   */
  recordAt(offset: number, framing: Framing, size: number): FramedRecord | undefined | null {
    const at = offset - this.from;
    if (at < 0 || at + framing.headerBytes > this.length) return null;
    return framing.parseAt(this.buffer, at, offset, size);
  }

  /** `n` bytes at `offset`, or undefined past the end of the file. */
  async bytes(offset: number, n: number): Promise<Buffer | undefined> {
    if (offset + n > this.size) return undefined;
    const held = this.peek(offset, n);
    if (held) return held;
    if (n > this.buffer.length) this.buffer = Buffer.alloc(n);
    const { bytesRead } = await this.file.read(this.buffer, 0, this.buffer.length, offset);
    this.from = offset;
    this.length = bytesRead;
    return bytesRead < n ? undefined : this.buffer.subarray(0, n);
  }
}

export interface Framing {
  readonly format: 'pcap' | 'pcapng';
  /** Offset of the first record. */
  readonly first: number;
  /** Bytes of a record header. */
  readonly headerBytes: number;
  /** One record from its header at `offset`: its length and kind. Undefined: stop trusting the file. */
  parse(h: Buffer, offset: number, size: number): FramedRecord | undefined;
  /** The same, from a header that starts at `at` in `b`. */
  parseAt(b: Buffer, at: number, offset: number, size: number): FramedRecord | undefined;
}

/** A framing from its parseAt. */
function framingOf(
  format: Framing['format'],
  first: number,
  headerBytes: number,
  parseAt: Framing['parseAt'],
): Framing {
  return { format, first, headerBytes, parseAt, parse: (h, offset, size) => parseAt(h, 0, offset, size) };
}

export interface FramedRecord {
  readonly length: number;
  readonly packet: boolean;
  /** A metadata record's kind: 'section' starts a new section, 'skip' is not needed in headers. */
  readonly kind?: 'section' | 'metadata' | 'skip';
  /** A pcapng interface statistics block, and its section's byte order, to read its drop counts. */
  readonly statistics?: { readonly little: boolean };
  /** A pcapng interface description block. */
  readonly interface?: true;
}

async function pcapFraming(reader: Reader): Promise<Framing | undefined> {
  const head = await reader.bytes(0, 24);
  if (!head) return undefined;
  const magic = head.readUInt32LE(0);
  let little: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) little = true;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) little = false;
  else return undefined;
  const snaplen = little ? head.readUInt32LE(16) : head.readUInt32BE(16);
  const maxRecord = Math.max(snaplen, 262_144) + 16;
  return framingOf('pcap', 24, 16, (b, at) => {
    const included = little ? b.readUInt32LE(at + 8) : b.readUInt32BE(at + 8);
    if (16 + included > maxRecord) return undefined;
    return { length: 16 + included, packet: true };
  });
}

async function pcapngFraming(reader: Reader): Promise<Framing | undefined> {
  const head = await reader.bytes(0, 12);
  if (!head || head.readUInt32LE(0) !== PCAPNG_SHB) return undefined;
  let little = head.readUInt32LE(8) === 0x1a2b3c4d;
  if (!little && head.readUInt32BE(8) !== 0x1a2b3c4d) return undefined;
  return framingOf('pcapng', 0, 12, (b, at, offset, size) => {
    const type = little ? b.readUInt32LE(at) : b.readUInt32BE(at);
    if (type === PCAPNG_SHB) {
      // Each section says its own byte order.
      if (b.readUInt32LE(at + 8) === 0x1a2b3c4d) little = true;
      else if (b.readUInt32BE(at + 8) === 0x1a2b3c4d) little = false;
      else return undefined;
    }
    const length = little ? b.readUInt32LE(at + 4) : b.readUInt32BE(at + 4);
    if (length < 12 || length % 4 !== 0 || offset + length > size) return undefined;
    if (PCAPNG_PACKET_BLOCKS.has(type)) return { length, packet: true };
    if (type === PCAPNG_SHB) return { length, packet: false, kind: 'section' };
    if (type === PCAPNG_ISB) return { length, packet: false, kind: 'skip', statistics: { little } };
    if (type === PCAPNG_IDB) return { length, packet: false, kind: 'metadata', interface: true };
    if (PCAPNG_METADATA_BLOCKS.has(type)) return { length, packet: false, kind: 'metadata' };
    // A block tshark may or may not count as a frame (journal export, future types): no plan.
    return undefined;
  });
}

/** Opens a file and reads its framing for `use`; undefined when it is neither pcap nor pcapng. */
export async function withFraming<T>(
  path: string,
  use: (reader: Reader, framing: Framing, size: number) => Promise<T | undefined>,
): Promise<T | undefined> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const reader = new Reader(handle, size);
    const framing = (await pcapFraming(reader)) ?? (await pcapngFraming(reader));
    return framing ? await use(reader, framing, size) : undefined;
  } finally {
    await handle.close();
  }
}

/**
 * The capture interfaces a file describes before its first packet: 1 for pcap; for pcapng its
 * first section's interface blocks there (where dumpcap and mergecap write them all). Undefined
 * when the file is neither, or its head cannot be followed.
 */
export async function interfacesAtHead(path: string): Promise<number | undefined> {
  return withFraming(path, async (reader, framing, size) => {
    if (framing.format === 'pcap') return 1;
    let interfaces = 0;
    for (let offset = framing.first, n = 0; offset < size; n++) {
      const h = await reader.bytes(offset, framing.headerBytes);
      const record = h && framing.parse(h, offset, size);
      if (!record) return interfaces > 0 ? interfaces : undefined;
      if (record.packet || (record.kind === 'section' && n > 0)) break;
      if (record.interface) interfaces++;
      offset += record.length;
    }
    return interfaces;
  });
}

/**
 * Where the records after the first `packets` packets begin: the place a reader that read those
 * packets and no more stopped, for naming where a file is damaged or cut short. Undefined when the
 * file's framing cannot be followed that far (not pcap or pcapng, or a block this scanner does not
 * know).
 */
export async function offsetAfterPackets(path: string, packets: number): Promise<number | undefined> {
  return withFraming(path, async (reader, framing, size) => {
    let offset = framing.first;
    for (let seen = 0; ;) {
      let record = reader.recordAt(offset, framing, size);
      if (record === null) record = await readRecord(reader, framing, offset, size);
      // The file ends (in a record header, or just after a record): nothing more to read.
      if (record === null) return seen === packets ? offset : undefined;
      // A record that cannot be read is where the reader stopped, if it had read its packets by then.
      if (record === undefined) return seen === packets ? offset : undefined;
      if (record.packet) {
        if (seen === packets) return offset;
        seen++;
      }
      offset += record.length;
    }
  });
}

/**
 * The record whose header is at `offset`, for a walk that has found it is not held
 * (Reader.recordAt said null): null at the end of the file, undefined when it cannot be trusted.
 */
export async function readRecord(
  reader: Reader,
  framing: Framing,
  offset: number,
  size: number,
): Promise<FramedRecord | undefined | null> {
  return (await reader.bytes(offset, framing.headerBytes)) ? reader.recordAt(offset, framing, size) : null;
}
