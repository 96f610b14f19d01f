// The Comparer, the service behind compare_captures: for each of two captures, its summary and its
// TLS, HTTP and DNS digests (the same the other tools give), then what differs between them.
import { ANALYSIS_TIMEOUT_MS } from '../limits.js';
import { compareDigests } from './compare.js';
import type { CaptureDigest, Comparison, SidedWarning } from './compare.js';
import type { InspectKind, ProtocolInspector } from './inspect.js';
import type { ResolvedSource } from './source.js';
import type { Summarizer } from './summary/index.js';

export interface CompareRequest {
  /** The capture that works. */
  readonly baseline: ResolvedSource;
  /** The capture that does not. */
  readonly candidate: ResolvedSource;
  readonly keylogFile: string | undefined;
}

export interface CaptureComparison {
  readonly comparison: Comparison;
  /** What to know about either capture, baseline's first. */
  readonly warnings: readonly SidedWarning[];
}

export class Comparer {
  constructor(
    /** The digests inspect_protocol gives, read whole. */
    private readonly inspector: Pick<ProtocolInspector, 'rows'>,
    private readonly summarizer: Summarizer,
  ) {}

  async compare(request: CompareRequest, signal?: AbortSignal): Promise<CaptureComparison> {
    const [a, b] = await Promise.all([
      this.digest(request.baseline, request.keylogFile, signal),
      this.digest(request.candidate, request.keylogFile, signal),
    ]);
    return {
      comparison: compareDigests(a.digest, b.digest),
      warnings: [
        ...a.warnings.map((w) => ['baseline', w] as const),
        ...b.warnings.map((w) => ['candidate', w] as const),
      ],
    };
  }

  /** One capture's summary and digests, and what to know about reading it. */
  private async digest(
    source: ResolvedSource,
    keylogFile: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<{ digest: CaptureDigest; warnings: string[] }> {
    const summary = await this.summarizer.summarize(
      { file: source.file, topN: 1_000_000, keylogFile, timeoutMs: ANALYSIS_TIMEOUT_MS, live: source.live },
      signal,
    );
    const warnings = new Set(summary.warnings);
    const rows = async (kind: InspectKind): Promise<CaptureDigest['tls']> => {
      const digest = await this.inspector.rows(
        { file: source.file, kind, displayFilter: undefined, keylogFile, reveal: false, live: source.live },
        signal,
      );
      for (const w of digest.warnings) warnings.add(w);
      return digest.rows;
    };
    const [tls, http, dns] = [await rows('tls'), await rows('http'), await rows('dns')];
    return { digest: { summary, tls, http, dns }, warnings: [...warnings] };
  }
}
