// Following one stream: tshark's `-z follow,<proto>,raw,<stream>` prints the payload of each
// direction as hex lines (the second node's indented by a tab). This runs it, reads that output and
// lays the conversation out as text or a hex dump, both directions marked.
import { abortError, UserError } from '../errors.js';
import type { WiresharkTools } from '../wireshark/locate.js';
import type { ProcessGroup } from '../wireshark/process.js';
import { runCollect } from '../wireshark/process.js';
import { cleanStderr } from '../wireshark/tshark.js';
import { readArgs, statisticsArgs } from '../wireshark/tshark-args.js';
import { readOutcome } from './damage.js';

export const FOLLOW_PROTOCOLS = ['tcp', 'udp', 'tls', 'http', 'http2', 'quic'] as const;
export type FollowProtocol = (typeof FOLLOW_PROTOCOLS)[number];

export interface FollowChunk {
  /** 0: the node that spoke first; 1: the other. */
  readonly from: 0 | 1;
  readonly bytes: Buffer;
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
  readonly keylogFile: string | undefined;
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
): Promise<{ follow: FollowResult; warnings: string[] }> {
  const args = [...readArgs({ file: req.file, keylogFile: req.keylogFile }), ...statisticsArgs([req.follow])];
  const { stdout, result } = await runCollect(group, {
    command: tools.require('tshark'),
    args,
    timeoutMs: req.timeoutMs,
    signal,
    maxBytes: 128 * 1024 * 1024,
  });
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
  return { follow: parseFollowRaw(stdout), warnings: read.warnings };
}
