// A sparse cut of a capture: any ascending list of its frames, records copied byte for byte, in a
// file tshark reads instead of the whole capture. Where ./cut.ts takes one contiguous run (a page
// of a listing), a drill-down needs scattered frames: each TCP/UDP stream it shows from the
// stream's first packet (handshake, relative sequence numbers, reassembly, TLS records in order),
// a short contiguous warm-up before each frame asked for (state outside streams), and the file's
// first frame (tshark counts frame.time_relative from the first frame it reads). The planners here
// choose those frames from the frame index and a stream index; the writer keeps every pcapng
// metadata block (interfaces, name resolution, decryption secrets) before the last frame copied,
// once each and in file order, so interface numbers and secrets are those of the whole file.
import { open } from 'node:fs/promises';
import { cutPieces, framesToRuns } from './cut-pieces.js';
import type { FrameIndex } from './frame-index.js';
import type { StreamIndex, StreamKind } from './stream-index.js';
import { NO_STREAM } from './stream-index.js';

const COPY_BYTES = 1024 * 1024;

export interface SparseLimits {
  /** Frames a cut may hold: past it the read takes the whole file (a stream of a million frames). */
  readonly maxFrames: number;
  /** Contiguous frames before each frame asked for, for state that no stream carries. */
  readonly warmup: number;
}

/** 20,000 frames (about a second of tshark) and a 200-frame warm-up. */
export const DEFAULT_SPARSE_LIMITS: SparseLimits = { maxFrames: 20_000, warmup: 200 };

/** Why a plan could not be made, in words an answer can show. */
export type SparseRefusal = { readonly refused: string };

/** Whether the index can give sparse cuts at all: one section, its metadata kept. */
function cuttable(index: FrameIndex): string | undefined {
  if (index.sections !== 1) return 'the file has several pcapng sections';
  if (index.metadataOverflow) return "the file's metadata blocks are too large to copy";
  return undefined;
}

const KINDS: readonly StreamKind[] = ['tcp', 'udp'];

/**
 * The frames (ascending, file numbers) a cut needs to show frames `targets` as a whole-file pass
 * shows them: frame 1, each target's TCP and UDP streams from their first frame up to the target,
 * the frame before it (frame.time_delta) and `warmup` frames before it, and the target (and, for a
 * SYN on reused ports, the first frames of the stream whose ports it reused).
 */
export function planDetailsFrames(
  index: FrameIndex,
  streams: StreamIndex,
  targets: readonly number[],
  limits: SparseLimits = DEFAULT_SPARSE_LIMITS,
): number[] | SparseRefusal {
  const why = cuttable(index);
  if (why) return { refused: why };
  const chosen = new Set<number>([1]);
  for (const f of targets) {
    if (f < 1 || f > index.count) return { refused: `frame ${f} is not indexed` };
    if (f > streams.frames) return { refused: `frame ${f} is past the stream index` };
    for (let n = Math.max(1, f - limits.warmup); n <= f; n++) chosen.add(n);
    for (const kind of KINDS) {
      const s = streams.streamOf(kind, f);
      if (s === NO_STREAM) continue;
      const span = streams.span(kind, s);
      if (!span) return { refused: `the ${kind} stream of frame ${f} is not indexed` };
      // Bounded before the frames are listed: the span is an upper bound of the stream's frames.
      if (chosen.size > limits.maxFrames) break;
      for (const n of streams.framesOf(kind, s, span.first, f)) chosen.add(n);
      // Its SYN reused the ports of an earlier stream: that stream's first packets (each direction's
      // first sequence number) make tshark flag it so in the cut too.
      const earlier = kind === 'tcp' && f === span.first ? streams.reusedFrom?.(s) : undefined;
      const from = earlier === undefined ? undefined : streams.span(kind, earlier)?.first;
      if (earlier !== undefined && from !== undefined)
        for (const n of streams.framesOf(kind, earlier, from, from + 1_000).slice(0, 3)) chosen.add(n);
    }
    if (chosen.size > limits.maxFrames)
      return { refused: `the frames needed before frame ${f} are more than ${limits.maxFrames}` };
  }
  return [...chosen].sort((a, b) => a - b);
}

/** The frames of one stream (what a follow reads), or a refusal. */
export function planStreamFrames(
  index: FrameIndex,
  streams: StreamIndex,
  kind: StreamKind,
  stream: number,
  limits: SparseLimits = DEFAULT_SPARSE_LIMITS,
): number[] | SparseRefusal {
  const why = cuttable(index);
  if (why) return { refused: why };
  const span = streams.span(kind, stream);
  if (!span) return { refused: `${kind} stream ${stream} is not in the stream index` };
  if (span.last > index.count) return { refused: `${kind} stream ${stream} runs past the frames indexed` };
  const frames = streams.framesOf(kind, stream);
  if (frames.length > limits.maxFrames)
    return { refused: `${kind} stream ${stream} has more than ${limits.maxFrames} frames` };
  return frames;
}

/**
 * Writes frames `frames` (ascending, file numbers, all indexed) of `file` to `out`, readable by its
 * owner only. Frame n of the cut is frame frames[n - 1] of the file.
 */
export async function writeSparseCut(
  index: FrameIndex,
  file: string,
  frames: readonly number[],
  out: string,
): Promise<void> {
  // Contiguous frames are copied as one extent, with the metadata blocks between them in their
  // place; the blocks in the gaps come once each, in file order (cut-pieces.ts).
  const pieces = cutPieces(index, framesToRuns(frames));
  const source = await open(file, 'r');
  const sink = await open(out, 'w', 0o600);
  try {
    const read = async (at: number, n: number): Promise<Buffer> => {
      const b = Buffer.alloc(n);
      const { bytesRead } = await source.read(b, 0, n, at);
      if (bytesRead < n) throw new Error('cut: the file is shorter than its index');
      return b;
    };
    // Pieces are gathered up to 1 MiB and written at once, and the reads of a batch run together:
    // a cut of a few thousand scattered records is as many small reads.
    let batch: Promise<Buffer>[] = [];
    let batchBytes = 0;
    const flush = async (): Promise<void> => {
      if (batch.length > 0) await sink.write(Buffer.concat(await Promise.all(batch)));
      batch = [];
      batchBytes = 0;
    };
    const add = async (piece: Promise<Buffer>, bytes: number): Promise<void> => {
      batch.push(piece);
      batchBytes += bytes;
      if (batchBytes >= COPY_BYTES) await flush();
    };
    for (const p of pieces) {
      if (Buffer.isBuffer(p)) {
        await add(Promise.resolve(p), p.length);
        continue;
      }
      for (let at = p.from; at < p.to; at += COPY_BYTES) {
        const n = Math.min(COPY_BYTES, p.to - at);
        const piece = read(at, n);
        // Awaited at the flush; a failure before then must not count as unhandled.
        piece.catch(() => undefined);
        await add(piece, n);
      }
    }
    await flush();
  } finally {
    await sink.close();
    await source.close();
  }
}
