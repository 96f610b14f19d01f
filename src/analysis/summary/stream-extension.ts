// A stream index extended over the frames a running capture's file gained since it was made: one
// pass of the summary's kind over the new frames, with a warm-up of the frames before them (the
// rule each range of a summary follows), fed through a FIFO from where the frame index says they
// are. The assembler that made the index maps the pass's stream numbers onto the whole file's, as
// it maps each range's; the frames before are not read again.
import { mkdtemp, open, rm } from 'node:fs/promises';
import path from 'node:path';
import { feedFifo, makeFifo } from '../../wireshark/fifo.js';
import type { FifoFeed } from '../../wireshark/fifo.js';
import type { ConversationCounter } from '../../wireshark/native.js';
import type { ProcessGroup } from '../../wireshark/process.js';
import type { StreamExtension } from '../index/frame-indexes.js';
import type { Assembled } from '../index/stream-assembly.js';
import { runPass } from './pass.js';

export interface ExtensionRun {
  readonly group: ProcessGroup;
  readonly tshark: string;
  readonly counter: ConversationCounter | undefined;
  readonly file: string;
  readonly extension: StreamExtension;
  /** Frames read before the new ones for context (the summary's range warm-up). */
  readonly warmup: number;
  readonly workDir: () => Promise<string>;
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
}

/**
 * The index extended to the frames the file holds now, or why it cannot be (then the assembler
 * takes no more and the index held stays as it was).
 */
export async function extendStreams(run: ExtensionRun): Promise<Assembled> {
  const { assembler, frames } = run.extension;
  const from = assembler.frames + 1;
  const warmup = Math.min(run.warmup, assembler.frames);
  const start = frames.offsetOf(from - warmup);
  const end = frames.endOf(frames.count);
  if (start === undefined || end === undefined)
    return { index: undefined, reason: 'the frame index does not hold the new frames' };
  const dir = await mkdtemp(path.join(await run.workDir(), 'streams-'));
  try {
    const fifo = path.join(dir, 'range');
    await makeFifo(fifo);
    const handle = await open(run.file, 'r');
    let feed: FifoFeed | undefined;
    try {
      const output = await runPass(run.group, run.tshark, fifo, {
        keylogFile: undefined,
        warmup,
        streamsFile: path.join(dir, 'streams'),
        timeoutMs: run.timeoutMs,
        signal: run.signal,
        counter: run.counter,
        onStart: () => {
          feed = feedFifo(fifo, frames.headerBefore(start), handle, start, end);
        },
      });
      const streams = output.streams;
      if (!streams) return { index: undefined, reason: 'the pass over the new frames was cut short' };
      const problem = assembler.append(streams, `the frames from ${from}`);
      return problem === undefined
        ? { index: assembler.index(), assembler }
        : { index: undefined, reason: problem };
    } finally {
      feed?.stop();
      await feed?.done.catch(() => undefined);
      await handle.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
