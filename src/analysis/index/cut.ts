// A cut of a capture: a temporary file holding only the frames a read needs, records copied byte
// for byte, so that tshark dissects those instead of the whole file. It holds the file's header
// (the pcapng one with every interface, name-resolution and decryption-secrets block before the
// cut), the file's first frame, a warm-up of the frames just before the range (for TCP state,
// reassembly, TLS sessions: the summary's ranges warm up the same way), then the range.
//
// Why the first frame: tshark's frame.time_relative (and the time column of its text lines) counts
// from the first frame it reads. With the file's own first frame in front, every time it prints is
// the whole file's, to the digit, with no arithmetic on printed decimals. Frame numbers are mapped
// back: frame n of the cut is frame n + delta of the file, for every frame after the first.
import { open, writeFile } from 'node:fs/promises';
import type { FrameIndex } from './frame-index.js';

const COPY_BYTES = 1024 * 1024;

export interface CutPlan {
  /** The range, in the file's frame numbers. */
  readonly first: number;
  readonly last: number;
  /** Frames of the cut before the range (the first frame and the warm-up): read, not shown. */
  readonly skip: number;
  /** Frame n of the cut (n > 1, or any n when `anchored` is false) is frame n + delta of the file. */
  readonly delta: number;
  /** The file's first frame was put in front of the warm-up. */
  readonly anchored: boolean;
}

/**
 * The plan of a cut of frames first..last (1-based, inclusive) with `warmup` frames before, or
 * undefined when the index cannot give one (several pcapng sections, whose interfaces a cut would
 * number differently; metadata past its bound; frames not indexed).
 */
export function planCut(index: FrameIndex, first: number, last: number, warmup: number): CutPlan | undefined {
  if (index.sections !== 1 || index.metadataOverflow) return undefined;
  if (first < 1 || last < first || last > index.count) return undefined;
  const warmFirst = Math.max(1, first - warmup);
  // Anchored: frame 1, then warmFirst..last. Unanchored: 1..last, the file's own start.
  const anchored = warmFirst > 2;
  const from = anchored ? warmFirst : 1;
  return {
    first,
    last,
    skip: first - from + (anchored ? 1 : 0),
    delta: anchored ? warmFirst - 2 : 0,
    anchored,
  };
}

/** The file frame of the cut's frame `n`. */
export function fileFrame(plan: CutPlan, n: number): number {
  return plan.anchored && n === 1 ? 1 : n + plan.delta;
}

/** Writes the cut `plan` of `file` (indexed by `index`) to `out`, readable by its owner only. */
export async function writeCut(index: FrameIndex, file: string, plan: CutPlan, out: string): Promise<void> {
  const from = plan.anchored ? plan.delta + 2 : 1;
  const start = index.offsetOf(from);
  const end = index.endOf(plan.last);
  const firstStart = index.offsetOf(1);
  const firstEnd = index.endOf(1);
  if (start === undefined || end === undefined || firstStart === undefined || firstEnd === undefined)
    throw new Error('cut: frames not indexed');
  const handle = await open(file, 'r');
  try {
    const read = async (at: number, n: number): Promise<Buffer> => {
      const b = Buffer.alloc(n);
      const { bytesRead } = await handle.read(b, 0, n, at);
      if (bytesRead < n) throw new Error('cut: the file is shorter than its index');
      return b;
    };
    // The first frame's record alone: what follows it up to frame 2 may be metadata, which the
    // header already holds. Its length is the one its header gives (pcap: 16 + included length).
    const anchor = plan.anchored
      ? await read(firstStart, recordLength(index, await read(firstStart, 12)))
      : undefined;
    await writeFile(out, Buffer.concat([index.headerBefore(start), ...(anchor ? [anchor] : [])]), {
      mode: 0o600,
    });
    // The warm-up and the range, 1 MiB at a time: 10,000 records of up to 256 kB each must not
    // be held at once.
    const sink = await open(out, 'a');
    try {
      for (let at = start; at < end; at += COPY_BYTES) {
        await sink.write(await read(at, Math.min(COPY_BYTES, end - at)));
      }
    } finally {
      await sink.close();
    }
  } finally {
    await handle.close();
  }
}

/** A record's length from its first 12 bytes, in the file's byte order. */
function recordLength(index: FrameIndex, h: Buffer): number {
  const header = index.fileHeader;
  if (header) {
    const little = header.readUInt32LE(0) === 0xa1b2c3d4 || header.readUInt32LE(0) === 0xa1b23c4d;
    return 16 + (little ? h.readUInt32LE(8) : h.readUInt32BE(8));
  }
  const shb = index.metadata[0]?.bytes;
  const little = shb ? shb.readUInt32LE(8) === 0x1a2b3c4d : true;
  return little ? h.readUInt32LE(4) : h.readUInt32BE(4);
}
