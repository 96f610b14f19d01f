// Summaries compared across ways of reading one file (in ranges, in one pass): everything must be
// equal but the checksum check, which a file read in ranges skips (it would cost a second pass).
import type { CaptureSummary } from '../../src/analysis/summary/index.js';

export function beyondChecksums(s: CaptureSummary): unknown {
  const limits: Partial<CaptureSummary['limits']> = { ...s.limits };
  delete limits.line;
  delete limits.badChecksums;
  delete limits.checksumsNotChecked;
  return { ...s, limits };
}
