// The Summarizer, the service behind summarize_capture: capinfos facts plus tshark passes that give
// the protocol hierarchy, conversations, endpoints and expert info, reduced to the top entries. A
// small file, or a capture still being written, is read in one pass (./pass.ts); a large one in
// ranges across workers (./ranges.ts), whose results are added up exactly (./assembly.ts).
import { stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { isDefaultDissection } from '../../wireshark/dissection.js';
import type { FrameIndexes, StreamExtension } from '../index/frame-indexes.js';
import type { ProgressSink } from '../../util/progress.js';
import { captureFacts } from '../../wireshark/capinfos.js';
import type { CaptureFacts } from '../../wireshark/capinfos.js';
import type { WiresharkTools } from '../../wireshark/locate.js';
import { conversationCounter } from '../../wireshark/native.js';
import type { ConversationCounter, CounterStatus } from '../../wireshark/native.js';
import type { ProcessGroup } from '../../wireshark/process.js';
import { findDecodeHints, hintsFromScan, SCAN_PACKETS } from '../decode-hints.js';
import type { DecodeHints } from '../decode-hints.js';
import { countBadChecksums, interfaceDrops } from '../capture-limits.js';
import { ProcessRecords } from '../process-record.js';
import { assembleSummary, PassFold } from './assembly.js';
import { readWhole } from './pass.js';
import type { PassOutput, SummaryCall } from './pass.js';
import { defaultChunking, readInRanges } from './ranges.js';
import { extendStreams } from './stream-extension.js';
import type { CaptureSummary, Chunking, SummaryRequest } from './types.js';

/** Whether a protocol hierarchy has payload tshark left as bare data (what decode-as hints are for). */
function hasBareData(protocols: CaptureSummary['protocols']): boolean {
  return protocols.some((p) => /(?:^|:)(?:tcp|udp):data$/.test(p.path));
}

/**
 * Drill-downs read cuts, told by the stream index, in captures of 100,000 frames or more
 * (SPARSE_MIN_FRAMES in ../sparse-read.ts), and no file under 100,000 x 17 bytes (a pcap record's
 * header and one byte) holds that many: a summary of a smaller file records no streams.
 */
export const RECORD_STREAMS_FROM_BYTES = 1_700_000;

/** Summaries of capture files, in one pass or in ranges across workers. */
export class Summarizer {
  constructor(
    private readonly group: ProcessGroup,
    private readonly tools: () => Promise<WiresharkTools>,
    /** A private directory for the FIFOs. */
    private readonly workDir: () => Promise<string>,
    private readonly chunking: Chunking = defaultChunking(),
    /** Finds the summary counter built for a tshark version. */
    private readonly findCounter: (tsharkVersion: string | undefined) => CounterStatus = (v) =>
      conversationCounter(v),
  ) {
    this.records = new ProcessRecords(group, tools);
  }

  /**
   * Keeps the stream index each pass makes in `indexes`, beside the frame index, and has their
   * ensureStreams run this summary's pass (within `timeoutMs` unless told otherwise) for a file
   * that has none.
   */
  keepStreamsIn(
    indexes: FrameIndexes,
    timeoutMs: number,
    /** Summaries of files smaller than this do not record streams (RECORD_STREAMS_FROM_BYTES). */
    recordFromBytes = RECORD_STREAMS_FROM_BYTES,
  ): this {
    this.indexes = indexes;
    this.recordFromBytes = recordFromBytes;
    indexes.useStreamBuilder(async (file, o) => {
      if (o.extend) return this.extendStreams(indexes, file, o.extend, o.timeoutMs ?? timeoutMs, o.signal);
      const request = { file, topN: 0, timeoutMs: o.timeoutMs ?? timeoutMs };
      await this.read(request, o.signal, undefined, { streamsOnly: true });
    });
    return this;
  }

  /**
   * Extends the stream index of a file that grew with a pass over its new frames; one that cannot be
   * extended exactly keeps the frames it covers, and is not extended again.
   */
  private async extendStreams(
    indexes: FrameIndexes,
    file: string,
    extension: StreamExtension,
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<void> {
    const tools = await this.tools();
    const assembled = await extendStreams({
      group: this.group,
      tshark: tools.require('tshark'),
      counter: this.counter(tools),
      file,
      extension,
      warmup: this.chunking.sizing.warmupPackets,
      workDir: this.workDir,
      timeoutMs,
      signal,
    }).catch((err: unknown) => {
      if (signal.aborted) throw err;
      return { index: undefined, reason: String(err) };
    });
    // The version the grown index covers: the frame index's, as its scan found the file.
    if (assembled.index) await indexes.keepStreams(file, extension.frames.version, assembled);
    else await indexes.keepStreams(file, extension.version, { index: extension.index });
  }

  /** Set once the counter failed to load: later passes go straight to per-packet lines. */
  private counterBroken = false;
  private readonly records: ProcessRecords;
  /** Where the stream indexes go; none: not made. */
  private indexes: FrameIndexes | undefined;
  private recordFromBytes = RECORD_STREAMS_FROM_BYTES;

  private counter(tools: WiresharkTools): ConversationCounter | undefined {
    if (this.counterBroken) return undefined;
    const tshark = tools.status('tshark');
    const status = this.findCounter(tshark.found ? tshark.version : undefined);
    return status.available ? status.counter : undefined;
  }

  /** Reads with the counter, and again with per-packet lines where the counter fell short. */
  private async counted(
    counter: ConversationCounter | undefined,
    read: (counter: ConversationCounter | undefined) => Promise<PassOutput>,
  ): Promise<PassOutput> {
    const output = await read(counter);
    const { result } = output;
    if (output.counter === 'exact' || output.counter === 'unused' || result.aborted || result.timedOut)
      return output;
    if (output.counter === 'absent' && !result.stoppedEarly) this.counterBroken = true;
    // What the counter counted of the records themselves holds even where a header was cut short.
    return { ...(await read(undefined)), facts: output.facts };
  }

  async summarize(
    request: SummaryRequest,
    signal?: AbortSignal,
    progress?: ProgressSink,
  ): Promise<CaptureSummary> {
    // The hints' scan of the file's first packets is made by the counter in the pass that reads
    // them; only the check of its candidates reads the file again, beside the other ranges. Without
    // the counter, the scan is a pass of its own with every tree built (twice a plain pass's cost a
    // packet, a tenth of a million-packet summary): it starts as soon as any range shows bare data,
    // which the whole file's hierarchy then shows too.
    const hintsStop = new AbortController();
    const stopHints = (): void => hintsStop.abort();
    signal?.addEventListener('abort', stopHints, { once: true });
    let hints: Promise<DecodeHints> | undefined;
    const startHints = (scanned?: readonly string[]): Promise<DecodeHints> =>
      (hints ??= this.tools().then((tools) => {
        const tshark = tools.require('tshark');
        return scanned
          ? hintsFromScan(this.group, tshark, request, scanned, hintsStop.signal)
          : findDecodeHints(this.group, tshark, request, hintsStop.signal);
      }));
    const scanning = request.decodeHints === true && this.counter(await this.tools()) !== undefined;
    const onRangeRead = request.decodeHints
      ? (output: PassOutput, first: boolean): void => {
          if (output.hintScan) startHints(output.hintScan).catch(() => undefined);
          // With the counter, the pass over the file's start brings the scan; where it did not
          // (a first range shorter than the scan, a fall-back to per-packet lines), the scan is a
          // pass of its own after all, started by that range's bare data or the whole file's.
          else if ((!scanning || first) && hasBareData(output.stats.protocols))
            startHints().catch(() => undefined);
        }
      : undefined;
    try {
      const summary = await this.read(request, signal, progress, { onRangeRead, hintScan: scanning });
      // The hierarchy says whether any payload was left as bare data: only then is a pass spent on hints.
      if (!request.decodeHints || !hasBareData(summary.protocols)) return summary;
      const found = await startHints();
      return { ...summary, decodeHints: found.hints, decodeHintsCutShort: found.cutShort };
    } finally {
      signal?.removeEventListener('abort', stopHints);
      // A summary that failed leaves no scan running.
      hintsStop.abort();
      await hints?.catch(() => undefined);
    }
  }

  /** The stream index the passes made (see PassFold.streams), kept for the file's version they read. */
  private async keepStreams(file: string, version: Stats, fold: PassFold): Promise<void> {
    const recorded = fold.streams();
    const indexes = this.indexes;
    if (!recorded || !indexes) return;
    await indexes.keepStreams(file, version, recorded);
    // Made into the index after the answer has gone, a range at a time, so that the drill-down an
    // agent makes next mostly finds it ready.
    setImmediate(() => void indexes.streams(file).catch(() => undefined));
  }

  private async read(
    request: SummaryRequest,
    signal: AbortSignal | undefined,
    progress: ProgressSink | undefined,
    {
      onRangeRead,
      streamsOnly = false,
      hintScan = false,
    }: {
      readonly onRangeRead?: ((output: PassOutput, first: boolean) => void) | undefined;
      /** Only for the stream index: no pass of its own for checksums. */
      readonly streamsOnly?: boolean;
      /** The counter's pass over the file's start makes the decode-as hints' scan. */
      readonly hintScan?: boolean;
    },
  ): Promise<CaptureSummary> {
    const tools = await this.tools();
    const tshark = tools.require('tshark');
    const capinfos = tools.require('capinfos');
    const counter = this.counter(tools);
    const record = await this.records.of(request.file, request.timeoutMs, signal);
    const version = await stat(request.file);
    const call: SummaryCall = {
      group: this.group,
      processes: await record?.conversations(signal),
      tools,
      tshark,
      request,
      counter,
      signal,
      progress,
      workDir: this.workDir,
      // The passes record each frame's streams for the stream index, read from tshark's TCP and UDP
      // taps (at no measurable cost to tshark) and joined range after range as they come, unless
      // an index of this version is held already. Decode-as rules can make tunnels, whose streams a
      // plain whole-file pass would not number.
      streams:
        this.indexes !== undefined &&
        isDefaultDissection(request.dissection) &&
        (streamsOnly ||
          (version.size >= this.recordFromBytes && (await this.indexes.streams(request.file)) === undefined)),
      hintScan: hintScan && counter ? SCAN_PACKETS : 0,
      readFacts: (file) => captureFacts(this.group, capinfos, file, signal),
      counted: (read) => this.counted(counter, read),
      onRangeRead,
    };
    const { workers, minFileBytes } = this.chunking;
    const size = version.size;
    let factsRun: Promise<CaptureFacts> | undefined;
    if (workers > 1 && !request.live && size >= minFileBytes) {
      // With the counter, the workers count what capinfos would and capinfos reads only the file's
      // head (its whole read costs a sixth of a core); without it, capinfos reads the file alongside.
      factsRun = counter ? undefined : call.readFacts(request.file);
      factsRun?.catch(() => undefined);
      const drops = interfaceDrops(request.file);
      drops.catch(() => undefined);
      const ranged = await readInRanges(call, this.chunking, size);
      if (ranged) {
        const fold = ranged.fold.of(ranged.outputs);
        await this.keepStreams(request.file, version, fold);
        // A range read without the counter, or a file of several sections: capinfos after all.
        const facts = ranged.facts ?? (await (factsRun ?? call.readFacts(request.file)));
        // Checking checksums would cost a whole second pass over a large file: said, not done.
        return assembleSummary(
          call,
          facts,
          ranged.outputs,
          {
            droppedByInterface: await drops,
            badChecksums: undefined,
            checksumsNotChecked: `the file (${Math.round(size / 1e6)} MB) was read in ranges, and checking them costs a second pass`,
          },
          fold,
        );
      }
    }
    factsRun ??= call.readFacts(request.file);
    // Checksums are checked by a pass of their own, alongside (see capture-limits.ts).
    const deadline = performance.now() + request.timeoutMs;
    const [facts, output, droppedByInterface, badChecksums] = await Promise.all([
      factsRun,
      readWhole(call, factsRun),
      interfaceDrops(request.file),
      streamsOnly
        ? undefined
        : countBadChecksums(
            this.group,
            tshark,
            request.file,
            Math.max(1, deadline - performance.now()),
            signal,
          ),
    ]);
    const fold = new PassFold().of([output]);
    await this.keepStreams(request.file, version, fold);
    return assembleSummary(
      call,
      facts,
      [output],
      { droppedByInterface, badChecksums, checksumsNotChecked: 'their pass was stopped by the time limit' },
      fold,
    );
  }
}
