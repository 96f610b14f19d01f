// Decode-as hints: TCP and UDP ports whose payload tshark left as bare "data" although it is a
// protocol tshark knows, each with the exact decodeAs rule that makes tshark read it. The main case
// is HTTP/2 without TLS (h2c, as gRPC speaks it) on an unusual port: tshark 4.0 finds HTTP/1.x, TLS
// and DNS on any port by their heuristics, but has no heuristic for h2c.
//
// Dissection stays tshark's: the first bytes of each stream's first payload each way only pick a
// candidate (the HTTP/2 preface, a TLS handshake record, an HTTP request or status line, a DNS
// header on UDP, an SSH banner, an MQTT CONNECT), and tshark then decodes those very packets with the candidate rule; only a rule
// under which tshark reads them as the protocol, unmalformed, is told. Two bounded passes: the scan
// reads at most SCAN_PACKETS packets and prints only frames whose payload is bare data (and SYNs,
// which say which port of a connection is the server's), and the check reads up to the last
// candidate frame. A summary with the counter gets the scan's lines from its own pass
// (hintsFromScan), so only the check is a pass of its own.
import * as z from 'zod';
import { abortError } from '../errors.js';
import type { Dissection } from '../wireshark/dissection.js';
import type { ProcessGroup, RunResult } from '../wireshark/process.js';
import { runCollect } from '../wireshark/process.js';
import { firstOccurrenceFieldArgs, readArgs } from '../wireshark/tshark-args.js';
import { LineSplitter, plural } from '../util/text.js';
import { SUMMARY_PREFERENCES } from './summary/pass.js';

/**
 * Packets the scan reads at most. Its display filter makes tshark build every packet's tree, about
 * 20,000 packets a second on this kind of machine (4.6 s for 100,000 of a loopback capture), so
 * about two and a half seconds.
 */
export const SCAN_PACKETS = 50_000;
/** Streams whose first payloads are looked at; past them the scan stops and says so. */
const MAX_STREAMS = 2_000;
/** Candidate ports checked with tshark; past them the scan stops and says so. */
const MAX_CANDIDATES = 8;
/** Frames of one candidate given to the check. */
const FRAMES_PER_CANDIDATE = 3;
/** Hex characters of a payload kept: its first 256 bytes pick the candidate. */
const HEX_KEPT = 512;
/** Each pass's own time limit (within the call's). */
const PASS_TIMEOUT_MS = 30_000;

/** The protocols a hint can name, as tshark's -d names them. */
export const HINT_PROTOCOLS = ['http2', 'tls', 'http', 'dns', 'ssh', 'mqtt'] as const;
export type HintProtocol = (typeof HINT_PROTOCOLS)[number];

const PROTOCOL_NAME: Record<HintProtocol, string> = {
  http2: 'HTTP/2 without TLS (h2c, as gRPC speaks it)',
  tls: 'TLS',
  http: 'HTTP/1.x',
  dns: 'DNS',
  ssh: 'SSH',
  mqtt: 'MQTT',
};

export const decodeHintSchema = z.object({
  rule: z.string().describe('The decode-as rule to add, e.g. "tcp.port==50051,http2".'),
  transport: z.enum(['tcp', 'udp']),
  port: z.number().int(),
  protocol: z.enum(HINT_PROTOCOLS),
  evidence: z.string().describe('What the first bytes showed, e.g. "the HTTP/2 connection preface".'),
  streams: z
    .number()
    .int()
    .describe('Streams on the port whose first bytes showed it (among those scanned).'),
  frames: z.array(z.number().int()).describe('Frames tshark decoded as the protocol with the rule.'),
});
export type DecodeHint = z.infer<typeof decodeHintSchema>;

export interface DecodeHints {
  readonly hints: DecodeHint[];
  /** Why the check covers less than the whole capture, when it does. */
  readonly cutShort?: string | undefined;
}

/** What the first bytes of a payload look like, and which side sends them. */
export interface Signature {
  readonly protocol: HintProtocol;
  /**
   * The client sends it (so the server's port is the destination), the server, or either (an SSH
   * banner): then only the connection's SYN says which port is the server's.
   */
  readonly side: 'client' | 'server' | 'either';
  readonly evidence: string;
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n').toString('hex');
const REQUEST_LINE =
  /^(?:GET|POST|PUT|DELETE|HEAD|OPTIONS|PATCH|CONNECT|TRACE) [!-~]{1,200} HTTP\/1\.[01]\r\n/;
const STATUS_LINE = /^HTTP\/1\.[01] [1-5]\d\d[ \r]/;
/** "SSH-2.0-softwareversion SP comments CR LF" (RFC 4253, 4.2). */
const SSH_BANNER = /^SSH-(?:2\.0|1\.99)-[!-~]{1,200}(?: [ -~]{0,200})?\r?\n/;

/**
 * What protocol the first bytes of a stream's payload (hex, as tshark prints data.data) look like,
 * if any of those a hint can name. Only picks a candidate: tshark confirms it. Pure.
 */
export function recognize(hex: string, transport: 'tcp' | 'udp'): Signature | undefined {
  const lower = hex.slice(0, HEX_KEPT).toLowerCase();
  const b = Buffer.from(lower, 'hex');
  if (transport === 'udp') return recognizeDns(b);
  if (lower.startsWith(PREFACE))
    return { protocol: 'http2', side: 'client', evidence: 'the HTTP/2 connection preface' };
  // A handshake record (type 22) of SSL 3.0 to TLS 1.3, carrying a ClientHello (1) or ServerHello (2).
  if (b.length >= 6 && b[0] === 0x16 && b[1] === 3 && (b[2] ?? 9) <= 4 && (b[5] === 1 || b[5] === 2))
    return b[5] === 1
      ? { protocol: 'tls', side: 'client', evidence: 'a TLS ClientHello record' }
      : { protocol: 'tls', side: 'server', evidence: 'a TLS ServerHello record' };
  const text = b.toString('latin1');
  if (REQUEST_LINE.test(text)) return { protocol: 'http', side: 'client', evidence: 'an HTTP request line' };
  if (STATUS_LINE.test(text)) return { protocol: 'http', side: 'server', evidence: 'an HTTP status line' };
  if (SSH_BANNER.test(text)) return { protocol: 'ssh', side: 'either', evidence: 'an SSH version banner' };
  return recognizeMqtt(b);
}

/** An MQTT CONNECT packet: type 1, its remaining length, then the protocol name of 3.1.1/5.0 or 3.1. */
function recognizeMqtt(b: Buffer): Signature | undefined {
  if (b[0] !== 0x10) return undefined;
  let at = 1;
  while (at < 5 && ((b[at] ?? 0) & 0x80) !== 0) at++;
  const name = b.subarray(at + 1, at + 9).toString('latin1');
  return name.startsWith('\0\x04MQTT') || name.startsWith('\0\x06MQIsdp')
    ? { protocol: 'mqtt', side: 'client', evidence: 'an MQTT CONNECT packet' }
    : undefined;
}

/** A DNS header with one question whose name is well formed, a standard query or its answer. */
function recognizeDns(b: Buffer): Signature | undefined {
  if (b.length < 17) return undefined;
  const opcode = ((b[2] ?? 0) >> 3) & 0xf;
  if (opcode !== 0 || b.readUInt16BE(4) !== 1) return undefined;
  let at = 12;
  for (let labels = 0; labels < 128; labels++) {
    const len = b[at];
    if (len === undefined || len > 63) return undefined;
    at += 1 + len;
    if (len === 0) break;
  }
  if (b[at - 1] !== 0 || at + 4 > b.length) return undefined;
  const qclass = b.readUInt16BE(at + 2);
  if (qclass !== 1 && qclass !== 255) return undefined;
  return ((b[2] ?? 0) & 0x80) === 0
    ? { protocol: 'dns', side: 'client', evidence: 'a DNS query header' }
    : { protocol: 'dns', side: 'server', evidence: 'a DNS response header' };
}

export interface HintRequest {
  readonly file: string;
  readonly keylogFile?: string | undefined;
  readonly dissection?: Dissection | undefined;
  /** Only packets that also match this display filter (a digest's caller's). */
  readonly displayFilter?: string | undefined;
  readonly timeoutMs: number;
}

interface Candidate {
  readonly transport: 'tcp' | 'udp';
  readonly port: number;
  readonly signature: Signature;
  readonly streams: Set<string>;
  readonly frames: number[];
}

const SCAN_FIELDS = [
  'frame.number',
  'frame.protocols',
  'tcp.stream',
  'udp.stream',
  'tcp.srcport',
  'tcp.dstport',
  'udp.srcport',
  'udp.dstport',
  // Last, so that the line's cut (HEX_KEPT) only ever shortens it.
  'data.data',
];

/** Frames whose payload above TCP or UDP no dissector took. */
const BARE_DATA = 'frame.protocols matches ":(tcp|udp):data$"';
/** A connection's first packet: its destination port is the server's. */
const SYN = 'tcp.flags.syn == 1 && tcp.flags.ack == 0';

/** Finds the ports whose payload tshark did not identify but decodes, with a rule, as a protocol. */
export async function findDecodeHints(
  group: ProcessGroup,
  tshark: string,
  req: HintRequest,
  signal?: AbortSignal,
): Promise<DecodeHints> {
  const deadline = performance.now() + Math.min(req.timeoutMs, 2 * PASS_TIMEOUT_MS);
  const check: Check = { group, tshark, req, deadline, signal };
  const scan = await scanCandidates(check);
  if (scan.candidates.length === 0) return { hints: [], cutShort: scan.cutShort };
  const confirmed = await confirm(check, scan.candidates);
  return { hints: confirmed.hints, cutShort: confirmed.cutShort ?? scan.cutShort };
}

/** What both passes of one check share. */
interface Check {
  readonly group: ProcessGroup;
  readonly tshark: string;
  readonly req: HintRequest;
  /** When the check's time is up (performance.now()). */
  readonly deadline: number;
  readonly signal: AbortSignal | undefined;
}

/** A pass's time limit: its own bound, within what is left of the check's. */
function passTimeout(deadline: number): number {
  return Math.max(1, Math.min(PASS_TIMEOUT_MS, deadline - performance.now()));
}

/**
 * The scan's reading of its lines (SCAN_FIELDS, tab-separated, in frame order): for each stream the
 * first payload of each side, each TCP stream's server port from its SYN, and the candidates the
 * payloads' first bytes make. The summary counter (native/summary-counter.c) prints the same lines.
 */
class CandidateScan {
  /** The frame past the bound: seeing it says the capture has more packets. */
  private readonly past = SCAN_PACKETS + 1;
  /** The source ports whose first payload was looked at, by stream. */
  private readonly seen = new Map<string, Set<string>>();
  /** The server's port of each TCP stream whose SYN was read. */
  private readonly servers = new Map<string, string>();
  private readonly candidates = new Map<string, Candidate>();
  cutShort: string | undefined;

  take(text: string): 'continue' | 'stop' {
    const f = text.split('\t');
    const frame = Number(f[0]);
    if (frame === this.past) {
      this.cutShort = `the check read the first ${SCAN_PACKETS.toLocaleString('en-US')} packets only`;
      return 'stop';
    }
    const protocols = f[1] ?? '';
    // The counter prints only the protocols' end ("udp:data"), tshark all of them.
    const transport = /(?:^|:)udp:data$/.test(protocols) ? 'udp' : 'tcp';
    const [stream, src, dst] = transport === 'tcp' ? [f[2], f[4], f[5]] : [f[3], f[6], f[7]];
    if (!stream || !src || !dst) return 'continue';
    const key = `${transport}:${stream}`;
    if (!protocols.endsWith(':data')) {
      this.servers.set(key, dst);
      return 'continue';
    }
    const sides = this.seen.get(key) ?? new Set<string>();
    if (sides.has(src)) return 'continue';
    if (!this.seen.has(key) && this.seen.size >= MAX_STREAMS) {
      this.cutShort = `the check looked at the first ${MAX_STREAMS.toLocaleString('en-US')} streams whose payload tshark did not identify`;
      return 'stop';
    }
    sides.add(src);
    this.seen.set(key, sides);
    const signature = recognize(f[8] ?? '', transport);
    if (!signature) return 'continue';
    const server =
      this.servers.get(key) ??
      (signature.side === 'client' ? dst : signature.side === 'server' ? src : undefined);
    if (server === undefined) return 'continue';
    const port = Number(server);
    const at = `${transport}:${port}`;
    const candidate = this.candidates.get(at);
    if (candidate) {
      // One protocol a port: the first one seen (tshark takes one rule a port anyway).
      if (candidate.signature.protocol !== signature.protocol) return 'continue';
      candidate.streams.add(stream);
      if (candidate.frames.length < FRAMES_PER_CANDIDATE) candidate.frames.push(frame);
      return 'continue';
    }
    if (this.candidates.size >= MAX_CANDIDATES) {
      this.cutShort = `the check stopped at ${MAX_CANDIDATES} ports whose payload looked like a protocol`;
      return 'stop';
    }
    this.candidates.set(at, { transport, port, signature, streams: new Set([stream]), frames: [frame] });
    return 'continue';
  }

  found(): Candidate[] {
    return [...this.candidates.values()];
  }
}

/**
 * The hints from a scan already made (the summary counter's lines, SCAN_FIELDS each): only the
 * check of its candidates reads the file.
 */
export async function hintsFromScan(
  group: ProcessGroup,
  tshark: string,
  req: HintRequest,
  lines: readonly string[],
  signal?: AbortSignal,
): Promise<DecodeHints> {
  const scan = new CandidateScan();
  for (const line of lines) if (scan.take(line) === 'stop') break;
  const candidates = scan.found();
  if (candidates.length === 0) return { hints: [], cutShort: scan.cutShort };
  const deadline = performance.now() + Math.min(req.timeoutMs, 2 * PASS_TIMEOUT_MS);
  const confirmed = await confirm({ group, tshark, req, deadline, signal }, candidates);
  return { hints: confirmed.hints, cutShort: confirmed.cutShort ?? scan.cutShort };
}

async function scanCandidates({
  group,
  tshark,
  req,
  deadline,
  signal,
}: Check): Promise<{ candidates: Candidate[]; cutShort: string | undefined }> {
  // The frame past the bound always prints a line: seeing it says the capture has more packets.
  const past = SCAN_PACKETS + 1;
  const wanted = `${BARE_DATA} || (${SYN})`;
  const own = req.displayFilter ? `(${wanted}) && (${req.displayFilter})` : wanted;
  const args = [
    ...readArgs({
      file: req.file,
      numeric: true,
      keylogFile: req.keylogFile,
      dissection: req.dissection,
      // Work no hint reads, left out as the summary leaves it out (13% of the scan).
      preferences: SUMMARY_PREFERENCES,
      displayFilter: `(${own}) || frame.number == ${past}`,
      lastFrame: past,
    }),
    ...firstOccurrenceFieldArgs(SCAN_FIELDS),
  ];
  const lines = new LineSplitter(HEX_KEPT + 512);
  const scan = new CandidateScan();
  const result = await group.run({
    command: tshark,
    args,
    timeoutMs: passTimeout(deadline),
    signal,
    onStdout: (chunk) => {
      for (const line of lines.push(chunk)) if (scan.take(line.text) === 'stop') return 'stop';
      return 'continue';
    },
  });
  if (!result.stoppedEarly) for (const line of lines.end()) scan.take(line.text);
  checkRun(result);
  return {
    candidates: scan.found(),
    cutShort: result.timedOut ? `the check was stopped by its time limit` : scan.cutShort,
  };
}

/** Decodes the candidates' frames with their rules: the candidates tshark reads as their protocol. */
async function confirm(
  { group, tshark, req, deadline, signal }: Check,
  candidates: readonly Candidate[],
): Promise<DecodeHints> {
  const rules = candidates.map(ruleOf);
  const frames = candidates.flatMap((c) => c.frames);
  const { stdout, result } = await runCollect(group, {
    command: tshark,
    args: [
      ...readArgs({
        file: req.file,
        numeric: true,
        keylogFile: req.keylogFile,
        dissection: {
          decodeAs: [...(req.dissection?.decodeAs ?? []), ...rules],
          preferences: req.dissection?.preferences ?? [],
        },
        displayFilter: `frame.number in {${frames.join(', ')}}`,
        lastFrame: Math.max(...frames),
      }),
      ...firstOccurrenceFieldArgs(['frame.number', 'frame.protocols']),
    ],
    timeoutMs: passTimeout(deadline),
    signal,
    maxBytes: 1024 * 1024,
  });
  checkRun(result);
  if (result.timedOut) return { hints: [], cutShort: 'the check was stopped by its time limit' };
  const layers = new Map<number, string[]>();
  for (const line of stdout.split('\n')) {
    const [frame, protocols] = line.split('\t');
    if (frame && protocols) layers.set(Number(frame), protocols.split(':'));
  }
  const hints = candidates.flatMap((c, i): DecodeHint[] => {
    // A frame may end a reassembly later than itself, so one read as the protocol is enough; none
    // may be malformed.
    const read = c.frames.map((f) => layers.get(f) ?? []);
    if (!read.some((l) => l.includes(c.signature.protocol)) || read.some((l) => l.includes('_ws.malformed')))
      return [];
    return [
      {
        rule: rules[i] ?? ruleOf(c),
        transport: c.transport,
        port: c.port,
        protocol: c.signature.protocol,
        evidence: c.signature.evidence,
        streams: c.streams.size,
        frames: [...c.frames],
      },
    ];
  });
  return { hints };
}

function ruleOf(c: Candidate): string {
  return `${c.transport}.port==${c.port},${c.signature.protocol}`;
}

function checkRun(result: RunResult): void {
  if (result.aborted) throw abortError();
}

/**
 * The lines that tell the hints: each port with what was seen and the rule, then the call that
 * repeats this one with all the rules added (`repeat` makes it from the decodeAs list). Pure.
 */
export function decodeHintLines(
  found: DecodeHints,
  current: readonly string[],
  repeat: (decodeAs: string[]) => string,
): string[] {
  const lines: string[] = [];
  for (const h of found.hints)
    lines.push(
      `Decode-as hint: ${h.transport.toUpperCase()} port ${h.port} carries ${PROTOCOL_NAME[h.protocol]} that tshark did not identify (${h.evidence} in frame ${h.frames.join(', ')}, ${plural(h.streams, 'stream')}; tshark decodes ${h.frames.length === 1 ? 'it' : 'them'} as ${h.protocol} with the rule). Add decodeAs: ${JSON.stringify([h.rule])}.`,
    );
  if (found.hints.length > 0)
    lines.push(
      `Repeat with ${found.hints.length === 1 ? 'the rule' : 'the rules'}: ${repeat([...current, ...found.hints.map((h) => h.rule)])}`,
    );
  if (found.cutShort !== undefined)
    lines.push(`Decode-as check cut short: ${found.cutShort}; a port past that is not hinted.`);
  return lines;
}
