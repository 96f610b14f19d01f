// Cuts a pcap or pcapng file into packet ranges at record boundaries, reading only the framing
// (record lengths, never the packets), so that several tshark workers can each read one range
// through a FIFO with the file's header in front. Each range also names a warm-up: the records just
// before it, which its worker dissects for context (TCP state, reassembly, TLS sessions) but does not
// count. Anything the scanner does not recognise or trust gives no plan: the caller does one pass.
import { readRecord, withFraming } from '../framing.js';

export interface ChunkSizing {
  /** Records in one range at most. */
  readonly chunkPackets: number;
  /** Bytes of records in one range at most. */
  readonly chunkBytes: number;
  /** Records before a range that its worker dissects without counting. */
  readonly warmupPackets: number;
  /**
   * The workers that read the ranges. When set, the packet bound is lowered as soon as the first
   * records (ESTIMATE_AFTER, or half a range if fewer) have shown their average size, so that the packets the file is then
   * estimated to hold make whole rounds of this many even ranges: on a file of small packets the
   * packet bound, not the byte bound, cuts the ranges, and a short last range would leave one
   * worker idle while the other reads a whole one.
   */
  readonly evenWorkers?: number | undefined;
}

/** Records whose average size estimates a file's packets (the scan reads them in milliseconds). */
const ESTIMATE_AFTER = 20_000;

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

const MAX_METADATA_BYTES = 16 * 1024 * 1024;

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
    let packetBound = sizing.chunkPackets;
    // Before the first range can be full, so that it is cut even with the others.
    const estimateAt = Math.max(1, Math.min(ESTIMATE_AFTER, Math.floor(sizing.chunkPackets / 2)));
    const evenPackets = (): number => {
      const workers = sizing.evenWorkers ?? 0;
      if (workers < 1) return packetBound;
      const estimate = ((size - framing.first) / (offset - framing.first)) * packetsSeen;
      const rounds = Math.max(1, Math.ceil(estimate / (workers * sizing.chunkPackets)));
      // 1% more, as the byte bound is made even: the estimate's error must not make a tiny last range.
      return Math.min(sizing.chunkPackets, Math.ceil((estimate / (rounds * workers)) * 1.01));
    };

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
      let record = reader.recordAt(offset, framing, size);
      if (record === null) record = await readRecord(reader, framing, offset, size);
      if (record === null) break;
      if (record === undefined) return undefined;
      if (record.packet) {
        if (packetsSeen === estimateAt) packetBound = evenPackets();
        if (current && (packets >= packetBound || bytes + record.length > sizing.chunkBytes)) closeAt(offset);
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
