// Frame indexes whose stream indexes are built by the summary's pass (ensureStreams), as the
// server wires them: for tests that read cuts told by a stream index.
import { FrameIndexes } from '../../src/analysis/index/frame-indexes.js';
import { Summarizer } from '../../src/analysis/summary/index.js';
import { defaultChunking } from '../../src/analysis/summary/ranges.js';
import type { RuntimeDir } from '../../src/storage/runtime-dir.js';
import type { WiresharkTools } from '../../src/wireshark/locate.js';
import { group } from './loopback-capture.js';

/**
 * Frame indexes (new ones, or `indexes`) whose stream indexes come from a two-range summary pass
 * within `timeoutMs`.
 */
export function indexesWithStreams(
  tools: WiresharkTools,
  runtimeDir: RuntimeDir,
  timeoutMs: number,
  indexes = new FrameIndexes(),
): FrameIndexes {
  new Summarizer(
    group,
    () => Promise.resolve(tools),
    () => runtimeDir.path(),
    defaultChunking(2),
  ).keepStreamsIn(indexes, timeoutMs);
  return indexes;
}
