// analysis/summary/: summarize_capture's "what is in here?" answer, from the tshark passes to the
// text. What other folders use is exported here; the rest stays inside.
export { renderSummary } from './render.js';
export { defaultChunking } from './ranges.js';
export { Summarizer } from './summarizer.js';
export { captureSummarySchema } from './types.js';
export type { CaptureSummary, Chunking, SummaryRequest } from './types.js';
