// Cuts a pcap or pcapng file into packet ranges at record boundaries, reading only the framing
// (record lengths, never the packets), so that several tshark workers can each read one range
// through a FIFO with the file's header in front. Each range also names a warm-up: the records just
// before it, which its worker dissects for context (TCP state, reassembly, TLS sessions) but does not
// count. Anything the scanner does not recognise or trust gives no plan: the caller does one pass.
import { open } from 'node:fs/promises';

export interface ChunkSizing {
  /** Records in one range at most. */
  readonly chunkPackets: number;
  /** Bytes of records in one range at most. */
  readonly chunkBytes: number;
  /** Records before a range that its worker dissects without counting. */
  readonly warmupPackets: number;
}

export interface Chunk {
  readonly index: number;
  /**
   * Bytes a worker reads first: the pcap file header, or the pcapng section header block with the
   * interface, name-resolution, decryption-secrets and other non-packet blocks before the warm-up.
   */
  readonly header: Buffer;
  /** File offset where the warm-up records begin (== start for the first range). */
  readonly warmupStart: number;
  readonly warmupPackets: number;
  readonly start: number;
  /** Exclusive; the last range ends at the end of the file, partial record included. */
  readonly end: number;
  readonly packets: number;
}

/** A file cut into ranges. */
export interface ChunkPlan {
  readonly chunks: Chunk[];
  /**
   * The file without its packets: the pcap file header, or the pcapng section header with every
   * interface, name-resolution and decryption-secrets block of the file, wherever they were. What
   * capinfos says of the file's type, encapsulation and interfaces, it says of this.
   */
  readonly head: Buffer;
  /** pcapng sections (a pcap file has one). */
  readonly sections: number;
}

const READ_SIZE = 1024 * 1024;
const MAX_METADATA_BYTES = 16 * 1024 * 1024;

const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_PACKET_BLOCKS = new Set([2, 3, 6]);
/** Interface, name resolution, interface statistics, decryption secrets, custom blocks. */
const PCAPNG_METADATA_BLOCKS = new Set([1, 4, 5, 0x0a, 0x0bad, 0x40000bad]);
const PCAPNG_ISB = 5;

/** Sequential reads of a file in 1 MiB buffers, with random access to the bytes just read. */
class Reader {
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

interface Framing {
  /** Offset of the first record. */
  readonly first: number;
  /** Bytes of a record header. */
  readonly headerBytes: number;
  /** One record from its header at `offset`: its length and kind. Undefined: stop trusting the file. */
  parse(h: Buffer, offset: number, size: number): FramedRecord | undefined;
}

interface FramedRecord {
  readonly length: number;
  readonly packet: boolean;
  /** A metadata record's kind: 'section' starts a new section, 'skip' is not needed in headers. */
  readonly kind?: 'section' | 'metadata' | 'skip';
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
  return {
    first: 24,
    headerBytes: 16,
    parse(h) {
      const included = little ? h.readUInt32LE(8) : h.readUInt32BE(8);
      if (16 + included > maxRecord) return undefined;
      return { length: 16 + included, packet: true };
    },
  };
}

async function pcapngFraming(reader: Reader): Promise<Framing | undefined> {
  const head = await reader.bytes(0, 12);
  if (!head || head.readUInt32LE(0) !== PCAPNG_SHB) return undefined;
  let little = head.readUInt32LE(8) === 0x1a2b3c4d;
  if (!little && head.readUInt32BE(8) !== 0x1a2b3c4d) return undefined;
  return {
    first: 0,
    headerBytes: 12,
    parse(h, offset, size) {
      const type = little ? h.readUInt32LE(0) : h.readUInt32BE(0);
      if (type === PCAPNG_SHB) {
        // Each section says its own byte order.
        if (h.readUInt32LE(8) === 0x1a2b3c4d) little = true;
        else if (h.readUInt32BE(8) === 0x1a2b3c4d) little = false;
        else return undefined;
      }
      const length = little ? h.readUInt32LE(4) : h.readUInt32BE(4);
      if (length < 12 || length % 4 !== 0 || offset + length > size) return undefined;
      if (PCAPNG_PACKET_BLOCKS.has(type)) return { length, packet: true };
      if (type === PCAPNG_SHB) return { length, packet: false, kind: 'section' };
      if (PCAPNG_METADATA_BLOCKS.has(type))
        return { length, packet: false, kind: type === PCAPNG_ISB ? 'skip' : 'metadata' };
      // A block tshark may or may not count as a frame (journal export, future types): no plan.
      return undefined;
    },
  };
}

/**
 * Ranges of about `sizing` each, or undefined when the file is not a pcap or pcapng file whose
 * framing can be trusted (then one tshark pass reads it, and reports any damage itself).
 * `onChunk` is told of each range as soon as its end is known, so that work on it can start while
 * the rest of the file is scanned; an undefined answer at the end voids them all.
 */
export async function planChunks(
  path: string,
  sizing: ChunkSizing,
  signal?: AbortSignal,
  onChunk?: (chunk: Chunk) => void,
): Promise<ChunkPlan | undefined> {
  return withFraming(path, async (reader, framing, size) => {
    const fileHeader =
      framing.first > 0 ? Buffer.from((await reader.bytes(0, framing.first)) ?? []) : undefined;

    // pcapng metadata blocks seen so far, with where they are, for the headers of later ranges.
    const metadata: { offset: number; bytes: Buffer; section: boolean }[] = [];
    let metadataBytes = 0;
    // Offsets of the last warmupPackets + 1 packet records, to find where a warm-up begins.
    const ring = new Float64Array(sizing.warmupPackets + 1);
    let packetsSeen = 0;

    const chunks: Chunk[] = [];
    let current: Omit<Chunk, 'end' | 'packets'> | undefined;
    let packets = 0;
    let bytes = 0;
    let offset = framing.first;

    const headerBefore = (warmupStart: number): Buffer => {
      if (fileHeader) return fileHeader;
      let from = 0;
      metadata.forEach((m, i) => {
        if (m.section && m.offset <= warmupStart) from = i;
      });
      return Buffer.concat(metadata.slice(from).flatMap((m) => (m.offset < warmupStart ? [m.bytes] : [])));
    };
    const openAt = (at: number): void => {
      // The ring still holds the offsets of the warmupPackets records before this one.
      const warmupPackets = Math.min(sizing.warmupPackets, packetsSeen);
      const warmupStart =
        warmupPackets === 0 ? at : (ring[(packetsSeen - warmupPackets) % ring.length] ?? at);
      // The first range starts with the file itself (a pcapng file's section header and interfaces).
      const first = chunks.length === 0;
      current = {
        index: chunks.length,
        header: first ? (fileHeader ?? Buffer.alloc(0)) : headerBefore(warmupStart),
        warmupStart: first ? framing.first : warmupStart,
        warmupPackets: first ? 0 : warmupPackets,
        start: first ? framing.first : at,
      };
      packets = 0;
      bytes = 0;
    };
    const closeAt = (end: number): void => {
      if (current) {
        const chunk = { ...current, end, packets };
        chunks.push(chunk);
        onChunk?.(chunk);
      }
      current = undefined;
    };

    for (;;) {
      if (signal?.aborted) return undefined;
      // A record header cut off by the end of the file goes with the last range.
      const h = reader.peek(offset, framing.headerBytes) ?? (await reader.bytes(offset, framing.headerBytes));
      if (!h) break;
      const record = framing.parse(h, offset, size);
      if (record === undefined) return undefined;
      if (record.packet) {
        if (current && (packets >= sizing.chunkPackets || bytes + record.length > sizing.chunkBytes))
          closeAt(offset);
        if (!current) openAt(offset);
        ring[packetsSeen % ring.length] = offset;
        packetsSeen++;
        packets++;
        bytes += record.length;
      } else if (record.kind !== 'skip') {
        const block = await reader.bytes(offset, record.length);
        if (!block) return undefined;
        metadataBytes += record.length;
        if (metadataBytes > MAX_METADATA_BYTES) return undefined;
        metadata.push({ offset, bytes: Buffer.from(block), section: record.kind === 'section' });
      }
      offset += record.length;
    }
    if (!current) return undefined;
    closeAt(size);
    return {
      chunks,
      head: fileHeader ?? Buffer.concat(metadata.map((m) => m.bytes)),
      sections: fileHeader ? 1 : metadata.filter((m) => m.section).length,
    };
  });
}

/** Opens a file and reads its framing for `use`; undefined when it is neither pcap nor pcapng. */
async function withFraming<T>(
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
 * Where the records after the first `packets` packets begin: the place a reader that read those
 * packets and no more stopped, for naming where a file is damaged or cut short. Undefined when the
 * file's framing cannot be followed that far (not pcap or pcapng, or a block this scanner does not
 * know).
 */
export async function offsetAfterPackets(path: string, packets: number): Promise<number | undefined> {
  return withFraming(path, async (reader, framing, size) => {
    let offset = framing.first;
    for (let seen = 0; ;) {
      const h = reader.peek(offset, framing.headerBytes) ?? (await reader.bytes(offset, framing.headerBytes));
      // The file ends (in a record header, or just after a record): nothing more to read.
      if (!h) return seen === packets ? offset : undefined;
      const record = framing.parse(h, offset, size);
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
