// The packet-listing pipeline behind analyze_pcap_file (and later stop_capture_session): checks the
// request with tshark, streams tshark's output through the page budget, stops tshark as soon as the
// page is settled, and names every odd outcome (empty capture, no match, cut-short file).
import { stat } from 'node:fs/promises';
import { abortError, UserError } from '../errors.js';
import { requirePlainText } from '../util/text.js';
import { watchRead } from '../util/progress.js';
import type { ProgressSink } from '../util/progress.js';
import { countPackets } from '../wireshark/capinfos.js';
import type { WiresharkTools } from '../wireshark/locate.js';
import type { ProcessGroup, RunResult } from '../wireshark/process.js';
import { readOutcome } from './damage.js';
import { EMPTY_PCAP, FIELD_NAME, TsharkArgumentChecker } from '../wireshark/tshark.js';
import { suggestFieldNames } from '../wireshark/field-suggestions.js';
import { displayFilterHints } from '../wireshark/filter-hints.js';
import type { RuntimeDir } from '../storage/runtime-dir.js';
import type { ArgumentProblem } from '../wireshark/tshark.js';
import { packetOutputArgs, readArgs } from '../wireshark/tshark-args.js';
import { GlossarySource } from '../wireshark/glossary.js';
import { DissectionCatalogSource } from '../wireshark/dissection-catalog.js';
import {
  checkDecodeAsLayers,
  checkDissectionBounds,
  checkPreferences,
  isDefaultDissection,
  unknownProtocolError,
} from '../wireshark/dissection.js';
import type { Dissection, DissectionOrigin } from '../wireshark/dissection.js';
import { namesInFilter, TwoPassRule } from '../wireshark/two-pass.js';
import type { SecondPassQuery } from '../wireshark/two-pass.js';
import { createPacketSplitter } from './packet-stream.js';
import { fieldRedaction, redactPacketJson, redactText, redactTree, TelnetLogins } from './redact.js';
import type { PageFormat, Packet } from './packet-stream.js';
import { PageBuilder } from './page.js';
import { packetEnds } from './row-owners.js';
import { ProcessRecords } from './process-record.js';
import type { ProcessRecordSource } from './process-record.js';
import type { PacketEnds } from './row-owners.js';
import type { Page } from './page.js';
import { cutApplies, cutProblem, writePageCut } from './cut-read.js';
import type { PageCut } from './cut-read.js';
import { DEFAULT_INDEX_LIMITS, FrameIndexes } from './index/frame-indexes.js';
import type { IndexBuilt } from './index/frame-indexes.js';
import type { FrameRange } from './frames.js';
import { frameLabels } from './renumber-tree.js';
import { detailsCutRead, selectedFrames, SparseReads, streamsWhenWorth } from './sparse-read.js';
import type { DetailsCutRead, StreamsOf } from './sparse-read.js';
import type { SparseLimits } from './index/sparse-cut.js';
import { packetFrame } from './listing-checkpoints.js';
import { Continuations, expectedCutStreams, pageNeeds, reusedPortsUnseen } from './continued-read.js';
import type { ContinuationCut, StreamSets } from './continued-read.js';
import type { Checkpoint } from './listing-checkpoints.js';
import type { StreamIndex } from './index/stream-index.js';
import type { Listing, ListingHooks } from './continued-read.js';
import { ListingRenumberer } from './renumber-listing.js';

export const DEFAULT_FIELDS = [
  'frame.number',
  'frame.time_relative',
  'ip.src',
  'ip.dst',
  'tcp.srcport',
  'tcp.dstport',
] as const;

export interface AnalysisRequest {
  /** Absolute real path of the capture (see input-files.ts). */
  readonly file: string;
  readonly displayFilter?: string | undefined;
  readonly outputFormat: PageFormat;
  /** For `details`: protocols whose tree is expanded (none: all), and whether to add the bytes. */
  readonly detail?: { readonly protocols: readonly string[]; readonly bytes: boolean } | undefined;
  /** The columns of the `fields` format. */
  readonly fields: readonly string[];
  /** Absolute real path of a TLS keylog file. */
  readonly keylogFile?: string | undefined;
  /** The caller's decode-as rules and preferences, checked (checkDissection). */
  readonly dissection?: Dissection | undefined;
  readonly offset: number;
  readonly limit: number;
  /** Characters of the page body at most. */
  readonly maxChars: number;
  /** The file is a running capture's, still being written. */
  readonly live?: boolean | undefined;
  /**
   * No packet after this frame number can match (the filter selects frames by number): tshark
   * stops reading there instead of dissecting the rest of the file.
   */
  readonly lastFrame?: number | undefined;
  /** Show secrets (passwords, credentials) as they are instead of redacting them (redact.ts). */
  readonly reveal?: boolean | undefined;
  /**
   * For `details`: the frames `displayFilter` selects, as ranges (frames.ts). With them a large
   * capture's trees are read from a sparse cut (sparse-read.ts).
   */
  readonly frames?: readonly FrameRange[] | undefined;
}

export type EmptyReason =
  | { readonly kind: 'emptyCapture' }
  | { readonly kind: 'noMatch'; readonly totalPackets: number | undefined }
  | { readonly kind: 'pastEnd'; readonly matching: number };

export interface AnalysisResult {
  readonly page: Page;
  /** Facts the reader should know (cut-short file, tshark's warnings, time limit). */
  readonly warnings: readonly string[];
  /** Why the page is empty, when it is. */
  readonly empty: EmptyReason | undefined;
  /**
   * Where tshark read the page: a cut of the file (cut-read.ts) and its frames, or the whole file
   * (with why not a cut, when one was considered).
   */
  readonly readFrom?:
    | { readonly cut: { readonly first: number; readonly last: number; readonly skip: number } }
    | { readonly whole: string }
    | undefined;
}

export interface AnalyzerOptions {
  /** Longest one analysis may run before tshark is stopped and what was read is returned. */
  readonly timeoutMs: number;
  /** Where the server may keep its own small files (the empty capture used to check arguments). */
  readonly runtimeDir: RuntimeDir;
  /** Longest a check of the display filter and fields may run; default ARGUMENT_CHECK_TIMEOUT_MS. */
  readonly checkTimeoutMs?: number | undefined;
  /** The server's copy of tshark's field list (one is made when not given). */
  readonly glossary?: GlossarySource | undefined;
  /**
   * The captures' frame indexes, for pages read from a cut (cut-read.ts); none: every page reads
   * the whole file.
   */
  readonly frameIndexes?: FrameIndexes | null | undefined;
  /** Told of each frame index built, when the Analyzer makes its own indexes (the server logs it). */
  readonly onIndexBuilt?: IndexBuilt | undefined;
  /** Frames a cut dissects before a page (default PAGE_WARMUP, the summary's rule). */
  readonly cutWarmup?: number | undefined;
  /**
   * The stream indexes held for captures (from the summary pass): with one, get_packet_details
   * and follow_stream of a large capture read sparse cuts of it. None: they read the whole file.
   */
  readonly streamsOf?: StreamsOf | undefined;
  /** Without streamsOf: build a capture's stream index with the summary's pass where worth it. */
  readonly buildStreams?: boolean | undefined;
  /** When a capture counts as large for sparse cuts, and their bounds (sparse-read.ts). */
  readonly sparse?: { readonly minFrames?: number; readonly limits?: SparseLimits } | undefined;
}

/** What readPage reads instead of the whole file: a page cut or a sparse details cut. */
type CutRead = Pick<PageCut, 'file' | 'mapPacket' | 'mapPage'> & { readonly plan: { readonly skip: number } };

export class Analyzer {
  private checker: TsharkArgumentChecker | undefined;
  /** tshark's field list: field types for the two-pass rule, close matches for unknown names. */
  readonly glossary: GlossarySource;
  private readonly twoPassRule: TwoPassRule;
  /** tshark's decode-as layers and protocols, and its preferences, for checkDissection. */
  private readonly catalogs: DissectionCatalogSource;
  /** Where captures' processes come from (the process parameter, the process column). */
  private readonly records: ProcessRecords;
  /** Where each frame of the captures in use starts (index/), for pages read from a cut. */
  readonly frameIndexes: FrameIndexes | undefined;
  /** Sparse cuts for drill-downs, where stream indexes are held (sparse-read.ts). */
  readonly sparse: SparseReads | undefined;
  /** Filtered listings' next pages read from where the last page stopped (continued-read.ts). */
  private readonly continuations: Continuations | undefined;

  constructor(
    private readonly group: ProcessGroup,
    private readonly tools: () => Promise<WiresharkTools>,
    private readonly options: AnalyzerOptions,
  ) {
    this.glossary =
      options.glossary ?? new GlossarySource(group, async () => (await tools()).require('tshark'));
    this.twoPassRule = new TwoPassRule(this.glossary);
    this.records = new ProcessRecords(group, tools);
    this.frameIndexes =
      options.frameIndexes === null
        ? undefined
        : (options.frameIndexes ?? new FrameIndexes(DEFAULT_INDEX_LIMITS, options.onIndexBuilt));
    const streamsOf =
      options.streamsOf ??
      (options.buildStreams && this.frameIndexes ? streamsWhenWorth(this.frameIndexes) : undefined);
    const sources = this.frameIndexes &&
      streamsOf && {
        indexes: this.frameIndexes,
        streamsOf,
        minFrames: options.sparse?.minFrames,
        limits: options.sparse?.limits,
      };
    this.sparse = sources ? new SparseReads(sources) : undefined;
    this.continuations = sources ? new Continuations(sources) : undefined;
    this.catalogs = new DissectionCatalogSource(
      group,
      async () => (await tools()).require('tshark'),
      () => this.emptyCapture(),
    );
  }

  /**
   * Checks a caller's decode-as rules and preferences before any read: their bounds and syntax,
   * each layer, protocol and preference against tshark's own lists (close matches for an unknown
   * one; the preference rule in dissection.ts), then tshark itself on an empty capture, which
   * judges the values. `from` says where they came from, for the refusal.
   */
  async checkDissection(dissection: Dissection, from: DissectionOrigin, signal?: AbortSignal): Promise<void> {
    if (isDefaultDissection(dissection)) return;
    checkDissectionBounds(dissection, from);
    if (dissection.decodeAs.length > 0) {
      const layers = await this.catalogs.layers(signal).catch((err: unknown) => {
        if (signal?.aborted) throw err;
        throw unfinishedCheck(
          'decodeAs',
          `tshark could not list its decode-as layers (${(err as Error).message})`,
          'they',
        );
      });
      const rules = checkDecodeAsLayers(dissection.decodeAs, layers, from.decodeAs);
      for (const [i, rule] of rules.entries()) {
        const kind = layers.layer(rule.layer)?.kind;
        if (kind !== 'number' && kind !== 'string') continue;
        // Without the list, tshark's own check below still refuses an unknown protocol.
        const valid = await this.catalogs
          .protocols(rule.layer, kind, signal)
          .catch((err: unknown): string[] => {
            if (signal?.aborted) throw err;
            return [];
          });
        if (valid.length > 0 && !valid.includes(rule.protocol))
          throw unknownProtocolError(`decodeAs[${i}]${from.decodeAs}`, rule, valid);
      }
    }
    if (dissection.preferences.length > 0) {
      // The allow-list needs tshark's list: without it, nothing is allowed.
      const prefs = await this.catalogs.preferences(signal).catch((err: unknown) => {
        if (signal?.aborted) throw err;
        throw unfinishedCheck(
          'preferences',
          `tshark could not list its preferences (${(err as Error).message})`,
          'they',
        );
      });
      checkPreferences(dissection.preferences, prefs, from.preferences);
    }
    const tools = await this.tools();
    const problem = await this.checkerFor(tools.require('tshark')).check({ dissection }, signal);
    if (problem?.kind === 'unfinished')
      throw unfinishedCheck('decodeAs and preferences', problem.message, 'they');
    if (problem !== undefined)
      throw new UserError(
        `tshark refused the decodeAs rules or preferences${from.decodeAs || from.preferences}. tshark says:\n${problem.message}\nFix the rule or preference it names (decode-as rules look like "tcp.port==9000,http", preferences like "tcp.desegment_tcp_streams:FALSE").`,
      );
  }

  /** Whether a read with this filter and these fields needs tshark's second pass (two-pass.ts). */
  secondPassNeeded(query: SecondPassQuery, signal?: AbortSignal): Promise<boolean> {
    return this.twoPassRule.needed(query, signal);
  }

  async analyze(
    req: AnalysisRequest,
    signal?: AbortSignal,
    progress?: ProgressSink,
  ): Promise<AnalysisResult> {
    const tools = await this.tools();
    const tshark = tools.require('tshark');
    const fields = req.outputFormat === 'fields' ? req.fields : [];
    await this.checkArguments(tshark, req.displayFilter, fields, signal);
    if (req.detail && req.detail.protocols.length > 0)
      await this.checkProtocols(tshark, req.detail.protocols, signal);
    let twoPass = await this.secondPassNeeded({ displayFilter: req.displayFilter, fields }, signal);
    // A dissection tree shows links to later frames ("[Response In: 12]", "[Reassembled PDU in
    // frame: 40]"), which only the second pass fills: worth it where reading the file twice is cheap.
    let lastFrame = req.lastFrame;
    const treeNote: string[] = [];
    if (req.outputFormat === 'details' && !twoPass) {
      if ((await stat(req.file)).size <= DETAILS_TWO_PASS_MAX_BYTES) {
        twoPass = true;
        lastFrame = undefined;
      } else treeNote.push(DETAILS_ONE_PASS_NOTE);
    }

    const redaction = packetRedaction(req.outputFormat, fields, req.reveal ?? false);
    // Trees deep in a large capture: read from the frames they need (sparse-read.ts).
    let sparseWhy: string | undefined;
    if (req.outputFormat === 'details' && req.frames && req.live !== true && this.sparse) {
      const sparse = await this.detailsFromCut(tools, req, req.frames, redaction, signal);
      if (sparse && 'page' in sparse) return sparse;
      sparseWhy = sparse?.whole;
    }
    // A filtered listing's next page: read from where the previous page stopped.
    const listing =
      this.continuations && continuable(req, twoPass, lastFrame) ? await listingOf(req) : undefined;
    if (listing && req.offset > 0) {
      const continued = await this.continueListing(tools, req, listing, redaction, signal);
      if (continued && 'page' in continued) return continued;
      sparseWhy ??= continued?.whole;
    }
    // Deep in a file with no filter, tshark reads a cut of it: the first frame, a warm-up, the page.
    const cutRequest = { ...req, fields: redaction.fields, lastFrame };
    let cut: PageCut | undefined;
    let whole: string | undefined;
    const how = { twoPass, lastFrame, redaction, treeNote };
    try {
      if (this.frameIndexes && cutApplies(cutRequest, twoPass, this.options.cutWarmup)) {
        cut = await writePageCut(
          this.frameIndexes,
          cutRequest,
          await this.options.runtimeDir.path(),
          signal,
          this.options.cutWarmup,
        );
        whole = cut ? undefined : 'the file cannot be cut there';
      }
      if (cut) {
        // The check and the page read the cut side by side (each is mostly tshark's start-up); a
        // problem found stops the page, which is then read from the whole file.
        const stopPage = new AbortController();
        const onAbort = (): void => stopPage.abort();
        signal?.addEventListener('abort', onAbort, { once: true });
        try {
          const streams = await this.frameIndexes?.streams(req.file);
          const check = { tshark, streams, keylogFile: req.keylogFile, dissection: req.dissection };
          const checked = cutProblem(
            this.group,
            cut,
            { ...check, timeoutMs: this.options.timeoutMs },
            signal,
          );
          const reading = this.readPage(tools, req, { ...how, cut }, stopPage.signal, progress);
          const problem = await checked.catch(async (err: unknown) => {
            stopPage.abort();
            await reading.catch(() => undefined);
            throw err;
          });
          if (problem === undefined) {
            const { first, last, skip } = cut.plan;
            return { ...(await reading), readFrom: { cut: { first, last, skip } } };
          }
          stopPage.abort();
          await reading.catch(() => undefined);
          whole = problem;
        } finally {
          signal?.removeEventListener('abort', onAbort);
        }
        if (signal?.aborted) throw abortError();
      }
      const recorder = listing && this.continuations?.recorder(listing, req.offset);
      const answer = await this.readPage(
        tools,
        req,
        { ...how, cut: undefined, listing: recorder },
        signal,
        progress,
      );
      whole ??= sparseWhy;
      return { ...answer, readFrom: whole !== undefined ? { whole } : undefined };
    } finally {
      await cut?.remove();
    }
  }

  /**
   * A page of trees read from a sparse cut: undefined when none applies (no stream index held, a
   * small capture), or why the whole file must be read.
   */
  private async detailsFromCut(
    tools: WiresharkTools,
    req: AnalysisRequest,
    frames: readonly FrameRange[],
    redaction: ReturnType<typeof packetRedaction>,
    signal: AbortSignal | undefined,
  ): Promise<AnalysisResult | { whole: string } | undefined> {
    if (!this.sparse) return undefined;
    let targets: number[] = [];
    // One frame past the page says whether more follow.
    const got = await this.sparse.details(
      req.file,
      (count) => (targets = selectedFrames(frames, req.offset, req.limit + 1, count)),
      await this.options.runtimeDir.path(),
      signal,
    );
    if (!got || 'whole' in got) return got;
    try {
      const labels = frameLabels(await this.glossary.get(signal));
      const read: DetailsCutRead = detailsCutRead(got.cut, targets, labels);
      const answer = await this.readPage(
        tools,
        { ...req, displayFilter: read.displayFilter, lastFrame: undefined },
        { twoPass: false, lastFrame: undefined, redaction, treeNote: [SPARSE_TREE_NOTE], cut: read },
        signal,
        undefined,
      );
      const mismatch = read.mismatch();
      if (mismatch !== undefined) return { whole: mismatch };
      const first = targets[0] ?? 0;
      const last = targets.at(-1) ?? first;
      return { ...answer, readFrom: { cut: { first, last, skip: got.cut.frames.length - targets.length } } };
    } finally {
      await got.cut.remove();
    }
  }

  /**
   * The next page of a filtered listing read from a continuation cut: undefined when none applies
   * (no earlier page of this listing, no stream index, a small capture), or why the whole file
   * must be read. A cut that kept some long streams light (their first frame only) holds when none
   * of them has packets where the page's matches lie; else it is read again with those streams'
   * whole history, a few times at most.
   */
  private async continueListing(
    tools: WiresharkTools,
    req: AnalysisRequest,
    listing: Listing,
    redaction: ReturnType<typeof packetRedaction>,
    signal: AbortSignal | undefined,
  ): Promise<AnalysisResult | { whole: string } | undefined> {
    if (!this.continuations || req.displayFilter === undefined) return undefined;
    const dir = await this.options.runtimeDir.path();
    const whole = { tcp: new Set<number>(), udp: new Set<number>() };
    for (let read = 1; ; read++) {
      const got = await this.continuations.open(listing, req.file, req.offset, dir, {
        signal,
        whole,
        pageEnd: req.offset + req.limit,
      });
      if (!got || 'whole' in got) return got;
      let answer: Awaited<ReturnType<Analyzer['readContinued']>>;
      try {
        answer = await this.readContinued(tools, req, { ...got, listing }, redaction, signal);
      } finally {
        await got.cut.close();
      }
      if ('page' in answer || 'whole' in answer) return answer;
      const more =
        [...answer.needs.tcp].filter((s) => !whole.tcp.has(s)).length +
        [...answer.needs.udp].filter((s) => !whole.udp.has(s)).length;
      if (more === 0 || read === MAX_CONTINUED_READS)
        return {
          whole: `the page needs the whole history of streams too long to read from a cut (${answer.why})`,
        };
      for (const kind of ['tcp', 'udp'] as const) for (const s of answer.needs[kind]) whole[kind].add(s);
    }
  }

  /**
   * One read of a continuation cut: the page, why the whole file must be read, or the light
   * streams the page's matches met (to read again with their history).
   */
  private async readContinued(
    tools: WiresharkTools,
    req: AnalysisRequest,
    {
      cut,
      checkpoint,
      streams,
      listing,
    }: { cut: ContinuationCut; checkpoint: Checkpoint; streams: StreamIndex; listing: Listing },
    redaction: ReturnType<typeof packetRedaction>,
    signal: AbortSignal | undefined,
  ): Promise<AnalysisResult | { whole: string } | { needs: StreamSets; why: string }> {
    if (!this.continuations || req.displayFilter === undefined) return { whole: 'no filtered listing' };
    const glossary = req.outputFormat === 'text' ? undefined : await this.glossary.get(signal);
    const renumber = new ListingRenumberer({
      fileFrame: (n) => cut.fileFrame(n),
      streams,
      expectedCut: expectedCutStreams(cut.plan, streams),
      isFrameField: (f) => glossary?.typeOf(f) === 'FT_FRAMENUM',
    });
    const printed = withListingFields(redaction.fields, CONTINUATION_FIELDS);
    const numberColumn = printed.indexOf('frame.number');
    const read: CutRead = {
      file: cut.file,
      // The match before the page's first is read too (not shown): the first's
      // frame.time_delta_displayed counts from it.
      plan: { skip: req.offset - checkpoint.match + 1 },
      mapPacket: (p) => {
        const text =
          req.outputFormat === 'json'
            ? renumber.json(p.text)
            : req.outputFormat === 'fields'
              ? renumber.fields(p.text, printed, numberColumn)
              : renumber.text(p.text);
        return text === p.text ? p : { text, length: p.length + text.length - p.text.length };
      },
      mapPage: (page) => ({
        ...page,
        offset: req.offset,
        matchedSeen: page.matchedSeen + checkpoint.match - 1,
      }),
    };
    const recorder = this.continuations.recorder(listing, req.offset, checkpoint.match - 1, {
      frames: [checkpoint.previous, checkpoint.frame],
      fields: CONTINUATION_FIELDS,
    });
    // The match before the page, then the frames from the page's first match on: no frame between
    // them matches in the file, and the warm-up between them may hold light streams' packets.
    const [previous, first] = [cut.cutFrame(checkpoint.previous), cut.cutFrame(checkpoint.frame)];
    const filter = `(${req.displayFilter}) && (frame.number == ${previous} || frame.number >= ${first})`;
    const answer = await this.readPage(
      tools,
      { ...req, displayFilter: filter },
      { twoPass: false, lastFrame: undefined, redaction, treeNote: [], cut: read, listing: recorder },
      signal,
      undefined,
    );
    // The match past the page's rows (the next page's first), and where the rows and it lie.
    const pastRows = req.offset + answer.page.shown;
    const past = answer.page.moreMatch ? recorder.frameOf(pastRows) : undefined;
    if (answer.page.moreMatch && past === undefined)
      return { whole: 'the match past the page has no frame number' };
    const { needs, keepPast } = pageNeeds(cut.plan, streams, {
      // A page that shows no row: the matches skipped before it lie up to the match past it.
      lastRow: recorder.frameOf(pastRows - 1) ?? (past ?? checkpoint.frame) - 1,
      past,
      mismatch: recorder.mismatch(),
    });
    if (needs.tcp.size + needs.udp.size > 0) {
      const names = [...[...needs.tcp].map((s) => `tcp ${s}`), ...[...needs.udp].map((s) => `udp ${s}`)];
      return { needs, why: `streams ${names.slice(0, 5).join(', ')}${names.length > 5 ? ' ...' : ''}` };
    }
    if (recorder.mismatch()) return { whole: 'the cut matched other frames than the whole file did' };
    // A SYN on an older connection's ports differs where it is a row, or where the filter may
    // match on its flag: then anywhere up to the match past the page.
    const mayMatch = /tcp|expert|_ws/.test(req.displayFilter ?? '');
    const to = mayMatch ? (past ?? cut.plan.last) : checkpoint.frame - 1;
    const rows = Array.from({ length: answer.page.shown }, (_, i) => recorder.frameOf(req.offset + i) ?? 0);
    const span = {
      *[Symbol.iterator]() {
        for (let n = checkpoint.frame; n <= to; n++) yield n;
      },
    };
    const reused = reusedPortsUnseen(cut.plan, streams, rows) ?? reusedPortsUnseen(cut.plan, streams, span);
    if (reused !== undefined)
      return { whole: `the SYN of frame ${reused} reuses the ports of a connection the cut does not hold` };
    if (renumber.unmapped > 0) return { whole: renumber.why ?? 'a number on the page is not the file' };
    if (mayHoldTelnet(req, answer.page.body))
      return { whole: 'Telnet passwords are redacted from the packets before them' };
    recorder.commit(keepPast ? Infinity : pastRows - 1);
    return {
      ...answer,
      readFrom: { cut: { first: checkpoint.frame, last: cut.plan.last, skip: cut.plan.prefix.length } },
    };
  }

  /** One tshark pass over the file (or its cut) through the page budget. */
  private async readPage(
    tools: WiresharkTools,
    req: AnalysisRequest,
    how: {
      twoPass: boolean;
      lastFrame: number | undefined;
      redaction: ReturnType<typeof packetRedaction>;
      treeNote: string[];
      cut: CutRead | undefined;
      listing?: ListingHooks | undefined;
    },
    signal: AbortSignal | undefined,
    progress: ProgressSink | undefined,
  ): Promise<AnalysisResult> {
    const tshark = tools.require('tshark');
    const { twoPass, lastFrame, redaction, treeNote, cut, listing } = how;
    // A filtered listing learns each match's frame (and a continued one checks each stream's
    // number): a fields page without those fields gets them as more columns, taken off before the page.
    const printed =
      listing !== undefined && req.outputFormat === 'fields'
        ? withListingFields(redaction.fields, listing.fields ?? ['frame.number'])
        : redaction.fields;
    const hidden = printed.length - redaction.fields.length;
    const numberColumn = printed.indexOf('frame.number');
    let match = listing?.base ?? 0;
    const args = [
      ...readArgs({
        file: cut?.file ?? req.file,
        keylogFile: req.keylogFile,
        dissection: req.dissection,
        displayFilter: req.displayFilter,
        lastFrame,
        twoPass,
      }),
      ...packetOutputArgs(
        req.outputFormat === 'details'
          ? { kind: 'details', protocols: req.detail?.protocols ?? [], bytes: req.detail?.bytes ?? false }
          : req.outputFormat === 'fields'
            ? { kind: 'fields', fields: printed }
            : { kind: req.outputFormat },
      ),
    ];

    const splitter = createPacketSplitter(req.outputFormat);
    const builder = new PageBuilder(req.outputFormat, {
      offset: cut ? cut.plan.skip : req.offset,
      limit: req.limit,
      maxChars: req.maxChars,
    });
    let settled = false;
    const offer = (packets: Packet[]): 'continue' | 'stop' => {
      for (const p of packets) {
        let mapped = cut ? cut.mapPacket(p) : p;
        if (listing) {
          listing.onMatch(match++, packetFrame(req.outputFormat, mapped.text, numberColumn));
          if (hidden > 0) mapped = withoutLastColumns(mapped, hidden);
        }
        if (builder.add(redaction.packet(mapped)) === 'stop') {
          settled = true;
          return 'stop';
        }
      }
      return 'continue';
    };
    let stopWatching: Promise<() => void> | undefined;
    const ran = await this.group.run({
      command: tshark,
      args,
      timeoutMs: this.options.timeoutMs,
      signal,
      onStdout: (chunk) => offer(splitter.push(chunk)),
      onStart:
        progress && !cut
          ? (pid) => {
              stopWatching = watchRead(pid, req.file, this.packetCount(tools, req.file), progress).catch(
                () => () => undefined,
              );
            }
          : undefined,
    });
    if (stopWatching) (await stopWatching)();
    // tshark names the cut in its messages; the reader knows the file.
    const result = cut ? { ...ran, stderr: ran.stderr.split(cut.file).join(req.file) } : ran;
    if (result.aborted) throw abortError();
    if (!settled && !result.stoppedEarly) offer(splitter.end());

    const page = cut ? cut.mapPage(builder.finish(), req.offset) : builder.finish();
    const warnings = [...treeNote, ...(await this.endWarnings(tools, result, page, req, signal))];

    let empty: EmptyReason | undefined;
    if (page.shown === 0 && page.oversized === undefined) {
      if (page.matchedSeen > 0) empty = { kind: 'pastEnd', matching: page.matchedSeen };
      else {
        const capinfos = tools.status('capinfos');
        const total = capinfos.found
          ? await countPackets(this.group, capinfos.path, req.file, signal)
          : undefined;
        if (signal?.aborted) throw abortError();
        empty = total === 0 ? { kind: 'emptyCapture' } : { kind: 'noMatch', totalPackets: total };
      }
    }
    return { page, warnings, empty };
  }

  /**
   * What the way tshark ended means for the page: warnings to show with it (a time limit, a file
   * damaged or cut short and where), or a UserError when the file cannot be read at all.
   */
  private async endWarnings(
    tools: WiresharkTools,
    result: RunResult,
    page: Page,
    req: AnalysisRequest,
    signal: AbortSignal | undefined,
  ): Promise<string[]> {
    const live = req.live === true;
    if (result.stoppedEarly) return live ? [LIVE_NOTE] : [];
    if (result.timedOut) {
      return [
        ...(live ? [LIVE_NOTE] : []),
        `tshark was stopped after ${Math.round(this.options.timeoutMs / 1000)} s: the page holds what it had read by then. Narrow the request with displayFilter.`,
      ];
    }
    const warnings: string[] = live ? [LIVE_NOTE] : [];
    if (result.exitSignal !== null) {
      warnings.push(`tshark ended unexpectedly (${result.exitSignal}): the page may be incomplete.`);
    }
    const read = await readOutcome(
      this.group,
      tools,
      { stderr: result.stderr, file: req.file, live },
      signal,
    );
    warnings.push(...read.warnings);
    if (read.other !== undefined) {
      if (result.exitCode !== 0 && page.matchedSeen === 0) {
        throw new UserError(`tshark failed on "${req.file}": ${read.other}`);
      }
      warnings.push(`tshark said: ${read.other}`);
    }
    return warnings;
  }

  private readonly counts = new Map<string, Promise<number | undefined>>();

  /** Packets in a file, counted once per file version (path, size, mtime) and remembered. */
  packetCount(tools: WiresharkTools, file: string): Promise<number | undefined> {
    const capinfos = tools.status('capinfos');
    if (!capinfos.found) return Promise.resolve(undefined);
    return stat(file).then((s) => {
      const key = `${file}|${s.size}|${s.mtimeMs}`;
      let count = this.counts.get(key);
      if (!count) {
        if (this.counts.size > 64) this.counts.clear();
        count = countPackets(this.group, capinfos.path, file).catch(() => undefined);
        this.counts.set(key, count);
      }
      return count;
    });
  }

  /**
   * The TCP and UDP ends of the packets `displayFilter` picks, up to 4 MB of tshark's output
   * (`complete` says whether that held them all): which of a process filter's sockets the capture
   * holds.
   */
  async packetEnds(
    file: string,
    displayFilter: string,
    signal?: AbortSignal,
  ): Promise<{ ends: PacketEnds[]; complete: boolean }> {
    const tshark = (await this.tools()).require('tshark');
    return packetEnds(
      this.group,
      tshark,
      { file, displayFilter, timeoutMs: this.options.timeoutMs, maxBytes: 4 * 1024 * 1024 },
      signal,
    );
  }

  /** The record of a capture's local processes (process-record.ts), or undefined: it has none. */
  processRecord(file: string, signal?: AbortSignal): Promise<ProcessRecordSource | undefined> {
    return this.records.of(file, this.options.timeoutMs, signal);
  }

  /** Checks a display filter with tshark; a bad one is a UserError quoting tshark. */
  async checkDisplayFilter(displayFilter: string | undefined, signal?: AbortSignal): Promise<void> {
    if (displayFilter === undefined || displayFilter === '') return;
    const tools = await this.tools();
    await this.checkArguments(tools.require('tshark'), displayFilter, [], signal);
  }

  private async checkArguments(
    tshark: string,
    displayFilter: string | undefined,
    fields: readonly string[],
    signal: AbortSignal | undefined,
  ): Promise<void> {
    requirePlainText(displayFilter, 'displayFilter');
    const malformed = fields.filter((f) => !FIELD_NAME.test(f));
    if (malformed.length > 0) {
      throw new UserError(
        `customFields: ${malformed.map((f) => JSON.stringify(f)).join(', ')} ${malformed.length === 1 ? 'is not a field name' : 'are not field names'}. Field names look like "ip.src" or "http.request.uri": letters, digits, '.', '_' and '-', separated by commas.`,
      );
    }
    const problem = await this.checkerFor(tshark).check({ displayFilter, fields }, signal);
    if (problem?.kind === 'unfinished') {
      const what =
        displayFilter !== undefined && displayFilter !== '' ? 'The display filter' : 'customFields';
      throw unfinishedCheck(what, problem.message);
    }
    if (problem !== undefined) throw await this.describeProblem(problem, displayFilter, signal);
  }

  /** Protocol names for -O: tshark ignores unknown ones there, so they are checked as a filter. */
  private async checkProtocols(
    tshark: string,
    protocols: readonly string[],
    signal?: AbortSignal,
  ): Promise<void> {
    const malformed = protocols.filter((p) => !FIELD_NAME.test(p));
    if (malformed.length > 0) {
      throw new UserError(
        `protocols: ${malformed.map((p) => JSON.stringify(p)).join(', ')} is not a protocol name (e.g. "tcp", "http", "tls").`,
      );
    }
    const problem = await this.checkerFor(tshark).check({ displayFilter: protocols.join(' || ') }, signal);
    if (problem?.kind === 'unfinished') throw unfinishedCheck('protocols', problem.message);
    if (problem !== undefined) {
      throw new UserError(`protocols names one tshark does not know. tshark says:\n${problem.message}`);
    }
  }

  private checkerFor(tshark: string): TsharkArgumentChecker {
    this.checker ??= new TsharkArgumentChecker(
      this.group,
      tshark,
      () => this.emptyCapture(),
      undefined,
      this.options.checkTimeoutMs,
    );
    return this.checker;
  }

  private emptyCapturePath: Promise<string> | undefined;
  private emptyCapture(): Promise<string> {
    this.emptyCapturePath ??= this.options.runtimeDir.writeFile('empty.pcap', EMPTY_PCAP);
    return this.emptyCapturePath;
  }

  private async describeProblem(
    problem: ArgumentProblem,
    filter: string | undefined,
    signal?: AbortSignal,
  ): Promise<UserError> {
    switch (problem.kind) {
      case 'displayFilter': {
        const glossary = await this.glossary.get(signal).catch(() => undefined);
        const hints = displayFilterHints(filter ?? '', problem.message, glossary);
        if (glossary) {
          const unknown = namesInFilter(filter ?? '').filter(
            (n) => n.includes('.') && !glossary.has(n) && !/^[\d.]+$/.test(n),
          );
          for (const [name, close] of suggestFieldNames(glossary, unknown)) {
            hints.push(
              close.length > 0
                ? `${name} is not a field; close matches: ${close.join(', ')} (list_fields finds more).`
                : `${name} is not a field; list_fields finds field names by protocol and by words.`,
            );
          }
        }
        return new UserError(
          `displayFilter is not a valid Wireshark display filter. tshark says:\n${problem.message}\n${hints.length > 0 ? `${hints.map((h) => `Hint: ${h}`).join('\n')}\n` : ''}Display filters use field names and operators, e.g. "http.request.method == \\"GET\\"" or "tcp.port == 443 && tls.handshake".`,
        );
      }
      case 'fields': {
        const glossary = await this.glossary.get(signal).catch(() => undefined);
        const suggestions = glossary
          ? suggestFieldNames(glossary, problem.invalid)
          : new Map<string, string[]>();
        const lines = problem.invalid.map((name) => {
          const close = suggestions.get(name) ?? [];
          return close.length > 0
            ? `- ${name}: unknown. Close matches: ${close.join(', ')}`
            : `- ${name}: unknown, and no field with a close name exists.`;
        });
        return new UserError(
          `customFields names ${problem.invalid.length === 1 ? 'a field' : 'fields'} tshark does not know:\n${lines.join('\n')}\nUse names from Wireshark's field reference (list_fields searches it by protocol and by words, e.g. {"protocol": "dhcp", "search": "your ip address"}), e.g. ip.src, tcp.dstport, http.host.`,
        );
      }
      case 'dissection':
      case 'other':
        return new UserError(`tshark rejected the request: ${problem.message}`);
      case 'unfinished':
        return unfinishedCheck('The request', problem.message);
    }
  }
}

/** A check that could not finish says nothing about the filter, and must not be read as "bad". */
function unfinishedCheck(what: string, why: string, judged = 'the filter'): UserError {
  return new UserError(
    `${what} could not be checked: ${why}. Nothing was read; ${judged} may well be fine. Try the call again shortly.`,
  );
}

/**
 * How a page's packets are redacted (redact.ts): the fields to ask tshark for (a secret argument
 * needs its command beside it) and each packet's text with its secrets redacted. Nothing changes
 * when the call says reveal.
 */
function packetRedaction(
  format: PageFormat,
  fields: readonly string[],
  reveal: boolean,
): { fields: readonly string[]; packet(p: Packet): Packet } {
  if (reveal) return { fields, packet: (p) => p };
  // One Telnet state for the listing: a password typed after a prompt in an earlier packet.
  const telnet = new TelnetLogins();
  const byField = fieldRedaction(fields, telnet);
  const redact: (text: string) => string =
    format === 'fields'
      ? (t) => byField.line(t)
      : format === 'json'
        ? (t) =>
            t === ''
              ? t
              : JSON.stringify(
                  redactPacketJson(JSON.parse(t) as Parameters<typeof redactPacketJson>[0], telnet),
                )
        : format === 'details'
          ? (t) => redactTree(t, telnet)
          : redactText;
  return {
    fields: format === 'fields' ? byField.fields : fields,
    packet(p) {
      const text = redact(p.text);
      // A packet kept only in part keeps its true length, changed by what redaction changed.
      return text === p.text ? p : { text, length: p.length + text.length - p.text.length };
    },
  };
}

/** Larger files show their trees from one pass (reading them twice to show frame 5 costs seconds). */
export const DETAILS_TWO_PASS_MAX_BYTES = 4 * 1024 * 1024;

const DETAILS_ONE_PASS_NOTE = `The file is larger than ${DETAILS_TWO_PASS_MAX_BYTES / 1024 / 1024} MB, so it was read once: links to later frames ("[Response In: N]", "[Reassembled PDU in frame: N]") are not shown. To find them, ask analyze_pcap_file with outputFormat "fields" and the field, e.g. customFields "frame.number,dns.response_in" (that read makes tshark's second pass).`;

const SPARSE_TREE_NOTE = `The trees were read from the frames they need (the file's first frame, each frame's TCP and UDP streams from their start, and the frames just before it), once: links to later frames ("[Response In: N]", "[Reassembled PDU in frame: N]") are not shown. To find them, ask analyze_pcap_file with outputFormat "fields" and the field, e.g. customFields "frame.number,dns.response_in" (that read makes tshark's second pass).`;

export const LIVE_NOTE =
  'The session is still capturing: this is what dumpcap had written when the analysis read it.';

/** A fields line without its last `n` columns (those a listing added for itself). */
function withoutLastColumns(p: Packet, n: number): Packet {
  let end = p.text.length;
  for (let i = 0; i < n && end >= 0; i++) end = p.text.lastIndexOf('\t', end - 1);
  if (end < 0) return p;
  return { text: p.text.slice(0, end), length: p.length - (p.text.length - end) };
}

/** The fields a continued fields page prints: the frame number, and the streams it checks. */
const CONTINUATION_FIELDS = ['frame.number', 'tcp.stream', 'udp.stream'];

/**
 * Reads of one continued page at most: the first, and again with the history of the light streams
 * its matches met (and once more, should the second page's matches meet others).
 */
const MAX_CONTINUED_READS = 3;

/** `fields` and, after them, those of `wanted` they lack. */
function withListingFields(fields: readonly string[], wanted: readonly string[]): readonly string[] {
  return [...fields, ...wanted.filter((f) => !fields.includes(f))];
}

/**
 * Whether a page is of a listing that may continue from an earlier page's checkpoint: a listing
 * (text, json, fields) with a filter, one pass, a file that is not being written, and no field
 * whose value depends on the matches before the page but the one read with it.
 */
function continuable(req: AnalysisRequest, twoPass: boolean, lastFrame: number | undefined): boolean {
  if (req.displayFilter === undefined || req.displayFilter.trim() === '') return false;
  if (twoPass || lastFrame !== undefined || req.live === true) return false;
  return req.outputFormat === 'text' || req.outputFormat === 'json' || req.outputFormat === 'fields';
}

async function listingOf(req: AnalysisRequest): Promise<Listing> {
  const s = await stat(req.file);
  return {
    key: {
      dev: s.dev,
      ino: s.ino,
      displayFilter: req.displayFilter ?? '',
      keylogFile: req.keylogFile,
      dissection: JSON.stringify(req.dissection ?? null),
    },
    version: { size: s.size, mtimeMs: s.mtimeMs },
  };
}

/** Whether a page may show Telnet data, whose password redaction follows the packets before it. */
function mayHoldTelnet(req: AnalysisRequest, body: string): boolean {
  if (req.reveal === true) return false;
  if (req.outputFormat === 'fields') return req.fields.some((f) => f.startsWith('telnet'));
  return /\bTELNET\b|"telnet"/.test(body);
}
