// inspect_protocol's digests: one row per transaction or object (an HTTP request and its response,
// a DNS query and its answer, a TLS handshake, a TCP conversation's health, ...). tshark does the
// dissection and prints the fields; the digests in ./digests/ pair and count them. This runs the
// tshark passes a digest needs and answers with a page of rows (inspect_protocol's service).
import type { Dissection } from '../wireshark/dissection.js';
import * as z from 'zod';
import { abortError, UserError } from '../errors.js';
import { DEFAULT_PAGE, MAX_CHARS } from '../limits.js';
import type { WiresharkTools } from '../wireshark/locate.js';
import type { ProcessGroup } from '../wireshark/process.js';
import { runCollect } from '../wireshark/process.js';
import { allOccurrenceFieldArgs, readArgs, statisticsArgs } from '../wireshark/tshark-args.js';
import type { SecondPassQuery } from '../wireshark/two-pass.js';
import { captureLimitsNote, interfaceDrops } from './capture-limits.js';
import { readOutcome } from './damage.js';
import { followArgument, parseFollowRawBlocks } from './follow.js';
import type { FollowResult } from './follow.js';
import { columnsOf, DIGEST_OF, INSPECT_KINDS } from './digests/index.js';
import type { InspectKind } from './digests/index.js';
import { AGGREGATOR, rowSchema } from './digests/fields.js';
import { communityId } from './community-id.js';
import { interfacesAtHead } from './framing.js';
import type { DigestReader, Row } from './digests/fields.js';
import { PageBuilder } from './page.js';
import { callText, callWith, PagedAnswer, rowsShown } from './paged-answer.js';
import { decodeHintLines, decodeHintSchema, findDecodeHints } from './decode-hints.js';
import type { DecodeHints, HintProtocol } from './decode-hints.js';
import type { PageRequest } from './paged-answer.js';
import type { CaptureRead, ResolvedSource } from './source.js';
import type { ProcessRecordSource } from './process-record.js';
import { PROCESS_COLUMN, rowOwners, withProcessColumn } from './row-owners.js';

export { columnsOf, INSPECT_KINDS, KIND_DESCRIPTION } from './digests/index.js';
export type { InspectKind } from './digests/index.js';
export type { Row } from './digests/fields.js';

export interface InspectRequest {
  readonly file: string;
  /**
   * Whether a read with this filter and these fields needs tshark's second pass (the digest's own
   * fields count too: dns.response_in is empty in one pass).
   */
  readonly secondPass?: ((query: SecondPassQuery, signal?: AbortSignal) => Promise<boolean>) | undefined;
  readonly kind: InspectKind;
  readonly displayFilter: string | undefined;
  readonly keylogFile: string | undefined;
  /** The caller's decode-as rules and preferences (a digest's own preferences win). */
  readonly dissection?: Dissection | undefined;
  readonly reveal: boolean;
  readonly live: boolean;
  readonly timeoutMs: number;
}

const MAX_OUTPUT = 256 * 1024 * 1024;
/** Streams followed in one tshark pass: each is a tap that tests every packet, so not thousands. */
const FOLLOWS_PER_PASS = 64;

/** Runs tshark for a digest and returns its rows (all of them: the caller pages). */
export async function inspect(
  group: ProcessGroup,
  tools: WiresharkTools,
  req: InspectRequest,
  signal?: AbortSignal,
): Promise<{ rows: Row[]; warnings: string[] }> {
  const tshark = tools.require('tshark');
  const read = async (
    displayFilter: string | undefined,
    fields: readonly string[],
    preferences?: readonly string[],
  ): Promise<string[]> =>
    readArgs({
      file: req.file,
      keylogFile: req.keylogFile,
      dissection: req.dissection,
      displayFilter,
      preferences,
      twoPass: (await req.secondPass?.({ displayFilter, fields }, signal)) ?? false,
    });
  const filterFor = (own: string): string => (req.displayFilter ? `(${own}) && (${req.displayFilter})` : own);
  const run = async (args: string[]): Promise<string> => {
    const { stdout, result } = await runCollect(group, {
      command: tshark,
      args,
      timeoutMs: req.timeoutMs,
      signal,
      maxBytes: MAX_OUTPUT,
    });
    if (result.aborted) throw abortError();
    const read = await readOutcome(
      group,
      tools,
      { stderr: result.stderr, file: req.file, live: req.live },
      signal,
    );
    if (read.other !== undefined && result.exitCode !== 0 && stdout === '')
      throw new UserError(`tshark failed: ${read.other}`);
    for (const w of read.warnings) warnings.add(w);
    if (result.stoppedEarly)
      warnings.add('tshark printed more than 256 MB; the digest covers what was read.');
    return stdout;
  };
  // A set: a digest's several passes report the same damage.
  const warnings = new Set<string>();
  // A capture of several interfaces (a merged capture of several hosts) names each row's, even
  // when all of a digest's rows came from one of them.
  const seen = new FrameFacts((await interfacesAtHead(req.file).catch(() => undefined)) ?? 1);
  const reader: DigestReader = {
    async fields(own, fields, options) {
      // Where the digest reads frames, the same pass says each one's capture interface (its host,
      // in a capture of several) and transport, for the host and Community ID columns.
      // (tshark prints a field named twice once: only the ones the digest does not read are added.)
      const extra = fields.includes('frame.number')
        ? FrameFacts.FIELDS.filter((f) => !fields.includes(f))
        : [];
      const out = await run([
        ...(await read(filterFor(own), fields, options?.preferences)),
        ...allOccurrenceFieldArgs([...fields, ...extra], AGGREGATOR),
      ]);
      const lines = out
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => l.split('\t'));
      if (extra.length === 0) return lines;
      const all = [...fields, ...extra];
      const at = (name: string): number => all.indexOf(name);
      const [frameAt, streamAt] = [at('frame.number'), at('tcp.stream')];
      const factAt = FrameFacts.FIELDS.map(at);
      return lines.map((l) => {
        seen.add(
          l[frameAt] ?? '',
          streamAt < 0 ? '' : (l[streamAt] ?? ''),
          factAt.map((i) => l[i] ?? ''),
        );
        return l.slice(0, fields.length);
      });
    },
    statistics: async (list) => run([...(await read(req.displayFilter, [])), ...statisticsArgs(list)]),
    async tcpStreams(indexes) {
      const streams = new Map<number, FollowResult>();
      for (let at = 0; at < indexes.length; at += FOLLOWS_PER_PASS) {
        const batch = indexes.slice(at, at + FOLLOWS_PER_PASS);
        const follows = batch.map((s) => followArgument('tcp', s, undefined, undefined));
        for (const block of parseFollowRawBlocks(
          await run([...(await read(undefined, [])), ...statisticsArgs(follows)]),
        )) {
          const index = /^tcp\.stream eq (\d+)$/.exec(block.filter)?.[1];
          if (index !== undefined) streams.set(Number(index), block);
        }
      }
      return streams;
    },
  };
  const rows = await DIGEST_OF[req.kind].collect(reader, { reveal: req.reveal });
  return { rows: seen.label(rows, req.kind === 'tcp_health' ? 'tcp' : undefined), warnings: [...warnings] };
}

/** The column of each row's capture interface, in a capture of several (a remote capture's hosts). */
export const HOST_COLUMN = 'capturedOn';
/** The column of each row's flow's Community ID. */
export const COMMUNITY_ID_COLUMN = 'communityId';

/** Per frame (and TCP stream) of a digest's passes: the capture interface and the transport. */
class FrameFacts {
  static readonly FIELDS = ['frame.interface_name', 'tcp.srcport', 'udp.srcport'];
  private readonly frames = new Map<string, { iface: string; transport: 'tcp' | 'udp' | undefined }>();
  private readonly streams = new Map<string, string>();
  private readonly interfaces = new Set<string>();

  /** `captureInterfaces`: the interfaces the capture describes (rows name theirs when over 1). */
  constructor(private readonly captureInterfaces: number) {}

  add(frame: string, stream: string, extra: readonly string[]): void {
    const [iface = '', tcp = '', udp = ''] = extra.map((v) => v.split(AGGREGATOR)[0] ?? '');
    this.frames.set(frame, { iface, transport: tcp !== '' ? 'tcp' : udp !== '' ? 'udp' : undefined });
    if (stream !== '' && !this.streams.has(stream)) this.streams.set(stream, iface);
    this.interfaces.add(iface);
  }

  /**
   * The rows with their host (only where the capture, or the frames read, has more than one
   * interface) and their flow's Community ID (where the row's ends are address:port and the
   * transport is known).
   */
  label(rows: Row[], transport: 'tcp' | 'udp' | undefined): Row[] {
    const hosts = this.interfaces.size > 1 || this.captureInterfaces > 1;
    return rows.map((r) => {
      const at = typeof r.frame === 'number' ? this.frames.get(String(r.frame)) : undefined;
      const iface =
        at?.iface ??
        (r.stream === undefined || r.stream === null ? undefined : this.streams.get(String(r.stream)));
      const kind = at?.transport ?? transport;
      const [a, b] = endsOf(r);
      const id = kind && a && b ? communityId(kind, a, b) : undefined;
      if (!(hosts && iface) && id === undefined) return r;
      return {
        ...r,
        ...(hosts && iface ? { [HOST_COLUMN]: iface } : {}),
        ...(id === undefined ? {} : { [COMMUNITY_ID_COLUMN]: id }),
      };
    });
  }
}

/** A row's two ends, from whichever pair of end columns its digest has. */
function endsOf(r: Row): [string | undefined, string | undefined] {
  for (const [x, y] of [
    ['client', 'server'],
    ['from', 'to'],
    ['src', 'dst'],
  ] as const) {
    const a = r[x];
    const b = r[y];
    if (typeof a === 'string' && typeof b === 'string') return [a, b];
  }
  return [undefined, undefined];
}

/** A page of a digest as structured content: inspect_protocol's output schema. */
export const inspectFactsSchema = z.object({
  source: z.string(),
  kind: z.enum(INSPECT_KINDS),
  aggregate: z
    .string()
    .describe("One line over all the digest's rows, not just this page's: counts by outcome, hosts, times."),
  columns: z
    .array(z.string())
    .describe(
      'Where the capture has a process record (a capture session of this server on Linux): a "process" column after the endpoints, "curl[1234] → node[567]", the local processes at the source and destination of the row\'s packet ("?" for an end that is not one).',
    ),
  rows: z.array(rowSchema).describe('The rows of this page.'),
  total: z.number().int(),
  offset: z.number().int(),
  nextOffset: z.number().int().nullable(),
  warnings: z.array(z.string()),
  decodeHints: z
    .array(decodeHintSchema)
    .describe(
      "Ports whose payload tshark did not identify but decodes, with the rule, as this digest's protocol: repeat the call with the rules in decodeAs.",
    ),
});

export type InspectFacts = z.infer<typeof inspectFactsSchema>;

/** One page of a digest, as a call asks for it (left out: the defaults). */
export interface InspectPageRequest extends PageRequest, CaptureRead {
  readonly kind: InspectKind;
  readonly displayFilter?: string | undefined;
  readonly reveal?: boolean | undefined;
}

/** inspect_protocol's service: checks the filter, reads a digest's rows and answers with a page. */
export class ProtocolInspector {
  constructor(
    private readonly group: ProcessGroup,
    private readonly tools: () => Promise<WiresharkTools>,
    private readonly filters: {
      checkDisplayFilter(displayFilter: string | undefined, signal?: AbortSignal): Promise<void>;
      secondPassNeeded(query: SecondPassQuery, signal?: AbortSignal): Promise<boolean>;
      processRecord(file: string, signal?: AbortSignal): Promise<ProcessRecordSource | undefined>;
    },
    private readonly timeoutMs: number,
  ) {}

  /** All the rows of a digest (for callers that page or compare them themselves). */
  async rows(
    req: Omit<InspectRequest, 'timeoutMs'>,
    signal?: AbortSignal,
  ): Promise<{ rows: Row[]; warnings: string[] }> {
    return inspect(
      this.group,
      await this.tools(),
      {
        ...req,
        timeoutMs: this.timeoutMs,
        secondPass: (query, s) => this.filters.secondPassNeeded(query, s),
      },
      signal,
    );
  }

  async page(req: InspectPageRequest, signal?: AbortSignal): Promise<{ text: string; facts: InspectFacts }> {
    await this.filters.checkDisplayFilter(req.displayFilter, signal);
    const [{ rows, warnings }, hints] = await Promise.all([
      this.rows(
        {
          file: req.source.file,
          kind: req.kind,
          displayFilter: req.displayFilter,
          keylogFile: req.keylog.keylogFile,
          dissection: req.keylog.dissection,
          reveal: req.reveal ?? false,
          live: req.source.live,
        },
        signal,
      ),
      this.hints(req, signal),
    ]);
    const note = await this.limitsNote(req.kind, rows, req.source);
    const owned = await this.owners(req, rows, signal);
    return inspectPage(owned?.rows ?? rows, note === undefined ? warnings : [...warnings, note], {
      ...req,
      hints,
      processColumn: owned?.origin,
    });
  }

  /**
   * Where the capture has a process record (and the digest's rows name a frame or a stream): the
   * rows with the processes of the page's rows in a process column. Undefined: no such column.
   */
  private async owners(
    req: InspectPageRequest,
    rows: readonly Row[],
    signal: AbortSignal | undefined,
  ): Promise<{ rows: Row[]; origin: string } | undefined> {
    const columns = columnsOf(req.kind);
    // ICMP has no ports, so no socket to own it.
    if (req.kind === 'icmp' || !(columns.includes('frame') || columns.includes('stream'))) return undefined;
    const record = await this.filters.processRecord(req.source.file, signal);
    if (record === undefined) return undefined;
    const offset = req.offset ?? 0;
    const page = rows.slice(offset, offset + (req.limit ?? DEFAULT_PAGE.rows));
    const labels = await rowOwners(
      this.group,
      (await this.tools()).require('tshark'),
      { file: req.source.file, timeoutMs: this.timeoutMs, record },
      page,
      signal,
    );
    return {
      origin: record.origin,
      rows: rows.map((r) => {
        const label = labels.get(r);
        return label === undefined ? r : { ...r, [PROCESS_COLUMN]: label };
      }),
    };
  }

  /**
   * For a digest of a protocol tshark may leave as bare data on an unusual port: the decode-as
   * rules that read such ports as it, found alongside the digest (a bounded pass or two).
   */
  private async hints(req: InspectPageRequest, signal?: AbortSignal): Promise<DecodeHints | undefined> {
    const protocols = HINTED[req.kind];
    if (protocols === undefined) return undefined;
    const found = await findDecodeHints(
      this.group,
      (await this.tools()).require('tshark'),
      {
        file: req.source.file,
        keylogFile: req.keylog.keylogFile,
        dissection: req.keylog.dissection,
        displayFilter: req.displayFilter,
        timeoutMs: this.timeoutMs,
      },
      signal,
    );
    return { ...found, hints: found.hints.filter((h) => protocols.includes(h.protocol)) };
  }

  /**
   * For a digest that counts loss: the capture's own drops (dumpcap's, the file's interface
   * statistics) and segments it missed, which look like network loss but are the capture's.
   */
  private async limitsNote(
    kind: InspectKind,
    rows: readonly Row[],
    source: ResolvedSource,
  ): Promise<string | undefined> {
    const what = DIGEST_OF[kind].countsLoss;
    if (what === undefined) return undefined;
    const ackedUnseen = rows.reduce((n, r) => n + (typeof r.ackedUnseen === 'number' ? r.ackedUnseen : 0), 0);
    return captureLimitsNote(
      {
        droppedByDumpcap: source.droppedByDumpcap,
        droppedByInterface: await interfaceDrops(source.file),
        ackedUnseen,
      },
      what,
    );
  }
}

/** The digests whose protocol can hide as bare data on an unusual port, and the hints that apply. */
const HINTED: Partial<Record<InspectKind, readonly HintProtocol[]>> = {
  http: ['http', 'http2'],
  tls: ['tls'],
  dns: ['dns'],
};

/** One page of a digest's rows, tab-separated under their column names, within maxChars. Pure. */
export function inspectPage(
  rows: readonly Row[],
  readWarnings: readonly string[],
  req: Omit<InspectPageRequest, 'source'> & {
    readonly source: Pick<ResolvedSource, 'label'>;
    readonly hints?: DecodeHints | undefined;
    /** The rows carry a process column (the capture has a process record): where it comes from. */
    readonly processColumn?: string | undefined;
  },
): { text: string; facts: InspectFacts } {
  const columns = withRowColumns(
    req.processColumn ? withProcessColumn(columnsOf(req.kind)) : columnsOf(req.kind),
    rows,
  );
  const aggregate = DIGEST_OF[req.kind].aggregate(rows);
  const offset = req.offset ?? 0;
  const limit = req.limit ?? DEFAULT_PAGE.rows;
  // Where the check was cut short the digest's own rows still stand: said only when there are none.
  const hints = decodeHintLines(
    { hints: req.hints?.hints ?? [], cutShort: rows.length === 0 ? req.hints?.cutShort : undefined },
    req.keylog.dissection?.decodeAs ?? [],
    (decodeAs) => callText(callWith(req.call, { decodeAs, offset: undefined })),
  );
  const answer = new PagedAnswer('rows', {
    call: req.call,
    head: [
      `Inspect ${req.kind} of ${req.source.label}`,
      `Display Filter: ${req.displayFilter ?? 'none'}`,
      `All rows: ${aggregate}`,
      ...(req.processColumn === undefined ? [] : [`Process record: ${req.processColumn}`]),
      ...hints,
    ],
    warnings: [...req.keylog.warnings, ...readWarnings],
    lead: ['', columns.join('\t')],
  });
  const builder = new PageBuilder('fields', {
    offset,
    limit,
    maxChars: answer.bodyBudget(req.maxChars ?? MAX_CHARS.default, offset, limit),
  });
  for (const row of rows) {
    const text = columns.map((c) => cell(row[c])).join('\t');
    if (builder.add({ text, length: text.length }) === 'stop') break;
  }
  const page = builder.finish();
  const nextOffset = page.moreMatch ? offset + page.shown : null;
  const shown =
    rows.length === 0
      ? `Rows: none. No ${req.kind} ${req.kind === 'tcp_health' ? 'conversation' : 'traffic'} found${req.displayFilter ? ' that matches the display filter' : ''}${(req.hints?.hints.length ?? 0) > 0 ? ' as tshark decodes it by default: repeat the call with the decode-as rule above' : ''}.`
      : rowsShown({ offset, shown: page.shown, total: rows.length });
  const { text, warnings } = answer.render({ shown, nextOffset: nextOffset ?? undefined, body: [page.body] });
  return {
    text,
    facts: {
      source: req.source.label,
      kind: req.kind,
      aggregate,
      columns: [...columns],
      rows: rows.slice(offset, offset + page.shown),
      total: rows.length,
      offset,
      nextOffset,
      warnings,
      decodeHints: req.hints?.hints ?? [],
    },
  };
}

/** The columns with host and Community ID after the row's ends (or at the end), where rows have them. */
function withRowColumns(columns: readonly string[], rows: readonly Row[]): string[] {
  const added = [HOST_COLUMN, COMMUNITY_ID_COLUMN].filter((c) => rows.some((r) => r[c] !== undefined));
  if (added.length === 0) return [...columns];
  const last = Math.max(
    ...['client', 'server', 'from', 'to', 'src', 'dst', PROCESS_COLUMN].map((c) => columns.indexOf(c)),
  );
  const at = last < 0 ? columns.length : last + 1;
  return [...columns.slice(0, at), ...added, ...columns.slice(at)];
}

/** A cell of the tab-separated page: "-" where a value does not apply, never a blank an agent must guess at. */
function cell(v: string | number | null | undefined): string {
  if (v === null || v === undefined || v === '') return '-';
  return String(v).replace(/[\t\n]/g, ' ');
}
