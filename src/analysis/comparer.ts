// The Comparer, the service behind compare_captures: for each of two captures, its summary and its
// TLS, HTTP and DNS digests (the same the other tools give), then what differs between them; and,
// packet by packet (./packet-match.ts), the packets only one of them holds and the transaction
// counts side by side.
import { ANALYSIS_TIMEOUT_MS } from '../limits.js';
import { compareDigests } from './compare.js';
import type { CaptureDigest, Comparison, SidedWarning } from './compare.js';
import type { InspectKind, ProtocolInspector } from './inspect.js';
import { framesToShow, packetComparison, unmatchedFrames } from './packet-match.js';
import type { PacketMatcher, PacketPage, PacketRead } from './packet-match.js';
import type { ResolvedSource } from './source.js';
import type { Summarizer } from './summary/index.js';
import type { Dissection } from '../wireshark/dissection.js';

export interface CompareRequest {
  /** The capture that works. */
  readonly baseline: ResolvedSource;
  /** The capture that does not. */
  readonly candidate: ResolvedSource;
  readonly keylogFile: string | undefined;
  /** The caller's decode-as rules and preferences, for both captures. */
  readonly dissection?: Dissection | undefined;
  /** How many packets to match, and which page of the unmatched ones to show. */
  readonly packets: PacketPage;
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
    private readonly matcher: PacketMatcher,
  ) {}

  async compare(request: CompareRequest, signal?: AbortSignal): Promise<CaptureComparison> {
    const { keylogFile, dissection, packets } = request;
    const read = (s: ResolvedSource): PacketRead => ({ file: s.file, keylogFile, dissection, live: s.live });
    const [a, b, keysA, keysB] = await Promise.all([
      this.digest(request.baseline, { keylogFile, dissection }, signal),
      this.digest(request.candidate, { keylogFile, dissection }, signal),
      this.matcher.keys({ ...read(request.baseline), cap: packets.cap }, signal),
      this.matcher.keys({ ...read(request.candidate), cap: packets.cap }, signal),
    ]);
    const { onlyInA, onlyInB, pastCut } = unmatchedFrames(keysA, keysB);
    const [shownA, shownB] = await Promise.all([
      this.matcher.details(read(request.baseline), framesToShow(onlyInA, packets), signal),
      this.matcher.details(read(request.candidate), framesToShow(onlyInB, packets), signal),
    ]);
    // The packet passes read the same files as the digests: the same damage, said once.
    const sided = (side: SidedWarning[0], ...lists: (readonly string[])[]): SidedWarning[] =>
      [...new Set(lists.flat())].map((w) => [side, w] as const);
    return {
      comparison: {
        ...compareDigests(a.digest, b.digest),
        ...packetComparison(
          { baseline: keysA, candidate: keysB },
          { baseline: onlyInA, candidate: onlyInB, pastCut },
          { baseline: shownA, candidate: shownB },
          packets,
        ),
      },
      warnings: [
        ...sided('baseline', a.warnings, keysA.warnings),
        ...sided('candidate', b.warnings, keysB.warnings),
      ],
    };
  }

  /** One capture's summary and digests, and what to know about reading it. */
  private async digest(
    source: ResolvedSource,
    how: Pick<CompareRequest, 'keylogFile' | 'dissection'>,
    signal: AbortSignal | undefined,
  ): Promise<{ digest: CaptureDigest; warnings: string[] }> {
    const { keylogFile, dissection } = how;
    const summary = await this.summarizer.summarize(
      {
        file: source.file,
        topN: 1_000_000,
        keylogFile,
        dissection,
        timeoutMs: ANALYSIS_TIMEOUT_MS,
        live: source.live,
      },
      signal,
    );
    const warnings = new Set(summary.warnings);
    const rows = async (kind: InspectKind): Promise<CaptureDigest['tls']> => {
      const digest = await this.inspector.rows(
        {
          file: source.file,
          kind,
          displayFilter: undefined,
          keylogFile,
          dissection,
          reveal: false,
          live: source.live,
        },
        signal,
      );
      for (const w of digest.warnings) warnings.add(w);
      return digest.rows;
    };
    const [tls, http, dns] = [await rows('tls'), await rows('http'), await rows('dns')];
    return { digest: { summary, tls, http, dns }, warnings: [...warnings] };
  }
}
