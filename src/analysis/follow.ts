// Following one stream: tshark's `-z follow,<proto>,raw,<stream>` prints the payload of each
// direction as hex lines (the second node's indented by a tab). This runs it, reads that output and
// lays the conversation out as text or a hex dump, both directions marked, a page of chunks at a
// time (follow_stream's service).
import type { Dissection } from '../wireshark/dissection.js';
import * as z from 'zod';
import { abortError, UserError } from '../errors.js';
import { DEFAULT_PAGE, FOLLOW_DEFAULTS, MAX_CHARS } from '../limits.js';
import { plural } from '../util/text.js';
import type { WiresharkTools } from '../wireshark/locate.js';
import type { ProcessGroup } from '../wireshark/process.js';
import { runCollect } from '../wireshark/process.js';
import { cleanStderr } from '../wireshark/tshark.js';
import { readArgs, statisticsArgs } from '../wireshark/tshark-args.js';
import { ProcessRecords } from './process-record.js';
import type { StreamOwners } from './process-record.js';
import { processScope } from './process-scope.js';
import { readOutcome } from './damage.js';
import { StreamRedactor } from './redact.js';
import { chunksShown, PagedAnswer } from './paged-answer.js';
import type { PageRequest } from './paged-answer.js';
import type { CaptureRead, ResolvedSource } from './source.js';
import { followFilterInFile } from './sparse-read.js';
import type { SparseReads } from './sparse-read.js';

export const FOLLOW_PROTOCOLS = ['tcp', 'udp', 'tls', 'http', 'http2', 'quic'] as const;
export type FollowProtocol = (typeof FOLLOW_PROTOCOLS)[number];
export const FOLLOW_FORMATS = ['ascii', 'hex'] as const;
export type FollowFormat = (typeof FOLLOW_FORMATS)[number];

export interface FollowChunk {
  /** 0: the node that spoke first; 1: the other. */
  readonly from: 0 | 1;
  readonly bytes: Buffer;
  /** Bytes the chunk carried, when `bytes` shows them redacted (a different length). */
  readonly sent?: number;
}

export interface FollowResult {
  readonly filter: string;
  readonly nodes: readonly [string, string];
  readonly chunks: readonly FollowChunk[];
}

/** Reads `-z follow,<proto>,raw,...` output. Pure. */
export function parseFollowRaw(text: string): FollowResult {
  let filter = '';
  const nodes: [string, string] = ['', ''];
  const chunks: FollowChunk[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const header = line.match(/^(Filter|Node 0|Node 1): (.*)$/);
    if (header) {
      if (header[1] === 'Filter') filter = header[2] ?? '';
      else nodes[header[1] === 'Node 0' ? 0 : 1] = header[2] ?? '';
      continue;
    }
    const data = line.match(/^(\t?)([0-9a-f]+)$/);
    if (data) chunks.push({ from: data[1] === '' ? 0 : 1, bytes: Buffer.from(data[2] ?? '', 'hex') });
  }
  return { filter, nodes, chunks };
}

/** Reads the output of several `-z follow,<proto>,raw,...` in one pass: one result per stream. Pure. */
export function parseFollowRawBlocks(text: string): FollowResult[] {
  return text
    .split(/^Follow: /m)
    .slice(1)
    .map((block) => parseFollowRaw(block));
}

/** The `-z follow` argument for a stream index or an "address:port,address:port" pair. */
export function followArgument(
  protocol: FollowProtocol,
  stream: number | undefined,
  between: string | undefined,
  substream: number | undefined,
): string {
  let target: string;
  if (between !== undefined) {
    const ends = between.split(',').map((s) => s.trim());
    const endpoint = /^(\[[0-9A-Fa-f:.]+\]|[0-9.]+):\d{1,5}$/;
    if (ends.length !== 2 || !ends.every((e) => endpoint.test(e))) {
      throw new UserError(
        `between: "${between}" is not two endpoints. Write them as "10.0.0.1:51000,10.0.0.2:443" ([::1]:8080 for IPv6).`,
      );
    }
    if (protocol === 'http2' || protocol === 'quic') {
      throw new UserError(`between works for tcp, udp, tls and http; for ${protocol} give the stream index.`);
    }
    target = ends.join(',');
  } else {
    target = String(stream ?? 0);
  }
  if (protocol === 'http2') target += `,${substream ?? 1}`;
  if (protocol === 'quic') target += `,${substream ?? 0}`;
  return `follow,${protocol},raw,${target}`;
}

/** A chunk as text: printable ASCII kept, CR LF as a newline, other bytes as '.'. */
export function asciiOf(bytes: Buffer): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] ?? 0;
    if (b === 0x0d && bytes[i + 1] === 0x0a) continue;
    out += b === 0x0a || b === 0x09 || (b >= 0x20 && b < 0x7f) ? String.fromCharCode(b) : '.';
  }
  return out;
}

/** A chunk as a hex dump: offset, 16 bytes in hex, and their printable characters. */
export function hexdumpOf(bytes: Buffer): string {
  const lines: string[] = [];
  for (let at = 0; at < bytes.length; at += 16) {
    const row = bytes.subarray(at, at + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const text = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${at.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${text}`);
  }
  return lines.join('\n');
}

export interface FollowRequest {
  readonly file: string;
  /** The file is a running capture's, still being written. */
  readonly live: boolean;
  /** What tshark reads instead of `file`: a sparse cut holding the stream (sparse-read.ts). */
  readonly cutFile?: string | undefined;
  /**
   * A second follow in the same pass, of a stream the cut must not have (its stream 1): if it
   * has one, tshark split the stream there, and the cut's answer cannot be trusted.
   */
  readonly splitCheck?: { readonly follow: string; readonly filter: string } | undefined;
  readonly keylogFile: string | undefined;
  /** The caller's decode-as rules and preferences (what counts as an HTTP stream depends on them). */
  readonly dissection?: Dissection | undefined;
  /** The `-z follow,...` argument (followArgument). */
  readonly follow: string;
  /** How answers name the stream, e.g. "tcp stream 3". */
  readonly which: string;
  readonly timeoutMs: number;
}

/**
 * Runs tshark's follow statistic over a file: the stream's payload, and warnings about the file (cut
 * short or damaged, and where: the stream may end there).
 */
export async function followStream(
  group: ProcessGroup,
  tools: WiresharkTools,
  req: FollowRequest,
  signal?: AbortSignal,
): Promise<{ follow: FollowResult; warnings: string[]; split: boolean }> {
  const args = [
    ...readArgs({ file: req.cutFile ?? req.file, keylogFile: req.keylogFile, dissection: req.dissection }),
    ...statisticsArgs(req.splitCheck ? [req.follow, req.splitCheck.follow] : [req.follow]),
  ];
  const { stdout, result: ran } = await runCollect(group, {
    command: tools.require('tshark'),
    args,
    timeoutMs: req.timeoutMs,
    signal,
    maxBytes: 128 * 1024 * 1024,
  });
  // tshark names the cut in its messages; the reader knows the file.
  const result = req.cutFile ? { ...ran, stderr: ran.stderr.split(req.cutFile).join(req.file) } : ran;
  if (result.aborted) throw abortError();
  const read = await readOutcome(
    group,
    tools,
    { stderr: result.stderr, file: req.file, live: req.live },
    signal,
  );
  if (result.exitCode !== 0 && !stdout.includes('Follow:')) {
    throw new UserError(`tshark could not follow ${req.which}: ${cleanStderr(result.stderr)}`);
  }
  if (!req.splitCheck) return { follow: parseFollowRaw(stdout), warnings: read.warnings, split: false };
  const blocks = parseFollowRawBlocks(stdout);
  const filter = req.splitCheck.filter;
  const check = blocks.find((b) => b.filter === filter);
  const follow = blocks.find((b) => b.filter !== filter) ?? parseFollowRaw('');
  const split =
    check !== undefined && (check.chunks.length > 0 || check.nodes.some((n) => n !== '' && n !== ':0'));
  return { follow, warnings: read.warnings, split };
}

/**
 * The stream with its secrets redacted (redact.ts: a followed stream has no field names, so its
 * lines are read with the text rules). The byte counts stay those of the real payload.
 */
export function redactFollow(follow: FollowResult): FollowResult {
  const redactor = new StreamRedactor();
  return {
    ...follow,
    chunks: follow.chunks.map((c) => ({
      ...c,
      bytes: redactor.chunk(c.from, c.bytes),
      sent: c.bytes.length,
    })),
  };
}

/** A page of a followed stream as structured content: follow_stream's output schema. */
export const followFactsSchema = z.object({
  source: z.string(),
  filter: z.string(),
  nodes: z.array(z.string()).describe('Node A (spoke first) and node B.'),
  chunks: z.number().int(),
  bytesAToB: z.number().int(),
  bytesBToA: z.number().int(),
  offset: z.number().int(),
  chunksShown: z.number().int(),
  nextOffset: z.number().int().nullable(),
});

export type FollowFacts = z.infer<typeof followFactsSchema>;

/** One page of one stream, as a call asks for it (left out: the defaults). */
export interface FollowPageRequest extends PageRequest, CaptureRead {
  /** The source as the call gave it, for the call the answer suggests when the stream is empty. */
  readonly sourceArg: string;
  readonly protocol?: FollowProtocol | undefined;
  readonly stream?: number | undefined;
  readonly between?: string | undefined;
  readonly substream?: number | undefined;
  readonly format?: FollowFormat | undefined;
  /** Show passwords and credentials in the payload as they are instead of redacting them. */
  readonly reveal?: boolean | undefined;
  /** Only a stream this process (a pid or a command name) owned an end of; others are refused. */
  readonly process?: string | number | undefined;
}

/** follow_stream's service: runs tshark's follow statistic and answers with one page of chunks. */
export class StreamFollower {
  constructor(
    private readonly group: ProcessGroup,
    private readonly tools: () => Promise<WiresharkTools>,
    private readonly timeoutMs: number,
    /** Sparse cuts of large captures (sparse-read.ts), and the folder they are written in. */
    private readonly cuts?: { readonly sparse: SparseReads; readonly dir: () => Promise<string> },
  ) {
    this.records = new ProcessRecords(group, tools);
  }

  /** Where captures' processes come from. */
  private readonly records: ProcessRecords;

  async page(req: FollowPageRequest, signal?: AbortSignal): Promise<{ text: string; facts: FollowFacts }> {
    const protocol = req.protocol ?? FOLLOW_DEFAULTS.protocol;
    const follow = followArgument(protocol, req.stream, req.between, req.substream);
    const which =
      req.between ??
      `stream ${req.stream ?? FOLLOW_DEFAULTS.stream}${req.substream !== undefined ? `/${req.substream}` : ''}`;
    // Checked before the follow: a capture without a process record, or a name it never saw.
    const record = await this.records.of(req.source.file, this.timeoutMs, signal);
    const scope =
      req.process === undefined
        ? undefined
        : await processScope(record, req.process, undefined, undefined, signal);
    const kind = protocol === 'udp' || protocol === 'quic' ? 'udp' : 'tcp';
    const stream = req.stream ?? FOLLOW_DEFAULTS.stream;
    // A stream of a large capture is read from a cut holding its frames alone, where it is stream
    // 0. Not QUIC: its number is tshark's QUIC connection number, which no stream index maps.
    const viaCut =
      this.cuts && req.between === undefined && protocol !== 'quic' && !req.source.live
        ? await this.cuts.sparse.stream(req.source.file, kind, stream, await this.cuts.dir(), signal)
        : undefined;
    const cut = viaCut && 'cut' in viaCut ? viaCut.cut : undefined;
    const tools = await this.tools();
    const base = {
      file: req.source.file,
      live: req.source.live,
      keylogFile: req.keylog.keylogFile,
      dissection: req.keylog.dissection,
      which: `${protocol} ${req.between ?? `stream ${stream}`}`,
      timeoutMs: this.timeoutMs,
    };
    let followed: Awaited<ReturnType<typeof followStream>> | undefined;
    if (cut) {
      try {
        followed = await followStream(
          this.group,
          tools,
          {
            ...base,
            cutFile: cut.file,
            follow: followArgument(protocol, 0, undefined, req.substream),
            splitCheck: { follow: `follow,${kind},raw,1`, filter: `${kind}.stream eq 1` },
          },
          signal,
        );
      } finally {
        await cut.remove();
      }
      if (followed.split) followed = undefined;
    }
    const fromCut = followed !== undefined;
    followed ??= await followStream(this.group, tools, { ...base, follow }, signal);
    const { warnings } = followed;
    const result = fromCut
      ? { ...followed.follow, filter: followFilterInFile(followed.follow.filter, kind, stream) }
      : followed.follow;
    if (result.chunks.length === 0) {
      // A stream lost to damage in the file: the damage is the answer.
      const damage = warnings.length > 0 ? ` ${warnings.join(' ')}` : '';
      const encrypted =
        req.keylog.keylogFile === undefined &&
        (protocol === 'tls' || protocol === 'http2' || protocol === 'quic');
      throw new UserError(
        `No ${protocol} payload in ${which} of ${req.source.label}${encrypted ? ' (it may be encrypted: give sslKeylogFile)' : ''}.${damage} Stream indexes start at 0; to list TCP streams: analyze_pcap_file {"source": ${JSON.stringify(req.sourceArg)}, "displayFilter": "tcp.flags.syn == 1 && tcp.flags.ack == 0", "outputFormat": "fields", "customFields": "tcp.stream,ip.src,tcp.srcport,ip.dst,tcp.dstport"}.`,
      );
    }
    const [a, b] = result.nodes.map(sidecarEndpoint);
    const owners: StreamOwners | undefined =
      record &&
      (await record.streamOwners(
        result.filter,
        kind,
        a === undefined || b === undefined ? undefined : [a, b],
        signal,
      ));
    if (scope !== undefined) {
      const keys = new Set(scope.owners.map((o) => o.key));
      if (!owners?.owners.some((o) => keys.has(o.key)))
        throw new UserError(
          `${which} is not a conversation of ${scope.label}: ${owners ? `its ends belong to ${owners.text}` : 'no recorded socket fits its ends'}. To list that process's TCP streams: analyze_pcap_file {"source": ${JSON.stringify(req.sourceArg)}, "process": ${JSON.stringify(req.process)}, "displayFilter": "tcp.flags.syn == 1 && tcp.flags.ack == 0", "outputFormat": "fields", "customFields": "tcp.stream,ip.src,tcp.srcport,ip.dst,tcp.dstport"}.`,
        );
    }
    return followPage(
      req.reveal ? result : redactFollow(result),
      warnings,
      `Follow ${protocol} ${which} of ${req.source.label}`,
      { ...req, owners: owners && { text: owners.text, origin: record?.origin ?? '' } },
    );
  }
}

/** A follow node ("10.0.0.1:80", "::1:80" or "[::1]:80") as the sidecar writes endpoints. */
function sidecarEndpoint(node: string): string | undefined {
  const at = node.lastIndexOf(':');
  if (at <= 0) return undefined;
  const address = node.slice(0, at);
  return address.includes(':') && !address.startsWith('[') ? `[${address}]${node.slice(at)}` : node;
}

/**
 * One page of a stream's chunks, as many as `limit` and maxChars allow after the header: a chunk
 * larger than the whole budget is cut, the others end the page before it. Pure.
 */
export function followPage(
  follow: FollowResult,
  readWarnings: readonly string[],
  title: string,
  req: Pick<FollowPageRequest, 'keylog' | 'format' | 'offset' | 'limit' | 'maxChars' | 'call'> & {
    readonly source: Pick<ResolvedSource, 'label'>;
    /** The local processes at its ends, where the capture has a process record, and its origin. */
    readonly owners?: { readonly text: string; readonly origin: string } | undefined;
  },
): { text: string; facts: FollowFacts } {
  const [a, b] = follow.nodes;
  const nodeA = a && a !== ':0' ? a : '(address not reported)';
  const nodeB = b && b !== ':0' ? b : '(address not reported)';
  const bytesFrom = (from: 0 | 1): number =>
    follow.chunks.filter((c) => c.from === from).reduce((s, c) => s + (c.sent ?? c.bytes.length), 0);
  const [bytesAToB, bytesBToA] = [bytesFrom(0), bytesFrom(1)];
  const offset = req.offset ?? 0;
  const limit = req.limit ?? DEFAULT_PAGE.chunks;
  const keylogFile = req.keylog.keylogFile;

  const answer = new PagedAnswer('chunks', {
    call: req.call,
    head: [
      title,
      `Filter: ${follow.filter}`,
      `A (spoke first): ${nodeA}   B: ${nodeB}`,
      ...(req.owners === undefined
        ? []
        : [`Processes: ${req.owners.text}`, `Process record: ${req.owners.origin}`]),
      `Payload: ${plural(follow.chunks.length, 'chunk')}; A→B ${bytesAToB.toLocaleString('en-US')} bytes, B→A ${bytesBToA.toLocaleString('en-US')} bytes${keylogFile ? ` (TLS keylog ${keylogFile})` : ''}`,
    ],
    warnings: [...req.keylog.warnings, ...readWarnings],
    lead: [''],
  });
  let budget = answer.bodyBudget(req.maxChars ?? MAX_CHARS.default, offset, limit);
  const body: string[] = [];
  let index = offset;
  for (; index < follow.chunks.length && body.length < limit; index++) {
    const chunk = follow.chunks[index];
    if (!chunk) break;
    const marker = `── ${chunk.from === 0 ? 'A→B' : 'B→A'} chunk ${index + 1}, ${plural(chunk.sent ?? chunk.bytes.length, 'byte')}`;
    let payload = req.format === 'hex' ? hexdumpOf(chunk.bytes) : asciiOf(chunk.bytes);
    const cost = marker.length + payload.length + 2;
    if (cost > budget) {
      if (body.length > 0) break;
      const note = `\n[chunk cut at maxChars: ${payload.length.toLocaleString('en-US')} characters in all]`;
      payload = payload.slice(0, Math.max(0, budget - marker.length - note.length - 2)) + note;
      body.push(`${marker}\n${payload}`);
      index++;
      break;
    }
    body.push(`${marker}\n${payload}`);
    budget -= cost;
  }
  const nextOffset = index < follow.chunks.length ? index : null;
  const { text } = answer.render({
    shown: chunksShown({ offset, shown: body.length, total: follow.chunks.length }),
    nextOffset: nextOffset ?? undefined,
    body,
  });
  return {
    text,
    facts: {
      source: req.source.label,
      filter: follow.filter,
      nodes: [nodeA, nodeB],
      chunks: follow.chunks.length,
      bytesAToB,
      bytesBToA,
      offset,
      chunksShown: body.length,
      nextOffset,
    },
  };
}
