// The bytes of a cut made of runs of frames, as pieces to copy in order: the file's header (pcap),
// then each run's records as one extent of the file, with every pcapng metadata block that lies in
// the gap before it (interfaces, name resolution, decryption secrets), once each and in file order,
// so interface numbers and secrets are those of the whole file. A run is copied whole, metadata
// blocks inside it included, in their place. Whoever writes a cut (a file, a FIFO) copies these.
import type { FrameIndex } from './frame-index.js';

/** Frames first..last (1-based, inclusive) of a file. */
export interface FrameRun {
  readonly first: number;
  readonly last: number;
}

/** Bytes held (the header, a metadata block), or bytes [from, to) of the file. */
export type CutPiece = Buffer | { readonly from: number; readonly to: number };

/** Ascending frames as runs of consecutive ones. */
export function framesToRuns(frames: readonly number[]): FrameRun[] {
  const runs: FrameRun[] = [];
  for (let i = 0; i < frames.length;) {
    let j = i;
    while (j + 1 < frames.length && frames[j + 1] === (frames[j] ?? 0) + 1) j++;
    runs.push({ first: frames[i] ?? 0, last: frames[j] ?? 0 });
    i = j + 1;
  }
  return runs;
}

/**
 * The pieces of a cut holding `runs` (ascending, not overlapping, all indexed) of the file indexed
 * by `index`. Throws when a run is not indexed.
 */
export function cutPieces(index: FrameIndex, runs: readonly FrameRun[]): CutPiece[] {
  const pieces: CutPiece[] = [];
  if (index.fileHeader) pieces.push(index.fileHeader);
  let done = 0;
  let m = 0;
  const metadata = index.metadata;
  for (const run of runs) {
    const start = index.offsetOf(run.first);
    const end = index.endOf(run.last);
    if (start === undefined || end === undefined) throw new Error('cut: frames not indexed');
    for (; m < metadata.length && (metadata[m]?.offset ?? 0) < start; m++) {
      const block = metadata[m];
      if (block && block.offset >= done) pieces.push(block.bytes);
    }
    const last = pieces.at(-1);
    // A run right after the previous one continues its extent.
    if (last && !Buffer.isBuffer(last) && last.to === start)
      pieces[pieces.length - 1] = { from: last.from, to: end };
    else pieces.push({ from: start, to: end });
    done = end;
  }
  return pieces;
}
