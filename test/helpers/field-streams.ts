// A stream index (src/analysis/index/stream-index.ts) built the plain way, from one whole-file
// `tshark -T fields -e frame.number -e tcp.stream -e udp.stream` pass: what tests and the
// drill-down bench hand the sparse cuts while the summary pass does not fill one yet.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { NO_STREAM } from '../../src/analysis/index/stream-index.js';
import type { StreamIndex, StreamKind } from '../../src/analysis/index/stream-index.js';

const run = promisify(execFile);

export class FieldStreamIndex implements StreamIndex {
  private readonly of: Record<StreamKind, Int32Array>;
  private readonly members: Record<StreamKind, number[][]>;

  constructor(tcp: Int32Array, udp: Int32Array) {
    this.of = { tcp, udp };
    this.members = { tcp: [], udp: [] };
    for (const kind of ['tcp', 'udp'] as const) {
      const lists = this.members[kind];
      this.of[kind].forEach((s, i) => {
        if (s === NO_STREAM) return;
        (lists[s] ??= []).push(i + 1);
      });
    }
  }

  /** The index as bytes (both arrays), for a bench to keep between runs. */
  toBuffer(): Buffer {
    return Buffer.concat([Buffer.from(this.of.tcp.buffer), Buffer.from(this.of.udp.buffer)]);
  }

  static fromBuffer(b: Buffer): FieldStreamIndex {
    const n = b.length / 8;
    const copy = new Int32Array(new Uint8Array(b).buffer);
    return new FieldStreamIndex(copy.slice(0, n), copy.slice(n));
  }

  get frames(): number {
    return this.of.tcp.length;
  }

  get bytes(): number {
    return this.of.tcp.byteLength * 2;
  }

  streamOf(kind: StreamKind, frame: number): number {
    return this.of[kind][frame - 1] ?? NO_STREAM;
  }

  count(kind: StreamKind): number {
    return this.members[kind].length;
  }

  span(kind: StreamKind, stream: number): { first: number; last: number } | undefined {
    const list = this.members[kind][stream];
    return list && list.length > 0 ? { first: list[0] ?? 0, last: list.at(-1) ?? 0 } : undefined;
  }

  framesOf(kind: StreamKind, stream: number, from = 1, to = Number.POSITIVE_INFINITY): number[] {
    return (this.members[kind][stream] ?? []).filter((f) => f >= from && f <= to);
  }
}

/** The stream index of `file` from one tshark pass (the first value where a frame has several). */
export async function fieldStreamIndex(file: string, keylog?: string): Promise<FieldStreamIndex> {
  const args = ['-r', file, '-T', 'fields', '-e', 'frame.number', '-e', 'tcp.stream', '-e', 'udp.stream'];
  if (keylog) args.push('-o', `tls.keylog_file:${keylog}`);
  const { stdout } = await run('tshark', args, { maxBuffer: 1024 * 1024 * 1024 });
  const lines = stdout.split('\n').filter((l) => l !== '');
  const tcp = new Int32Array(lines.length).fill(NO_STREAM);
  const udp = new Int32Array(lines.length).fill(NO_STREAM);
  for (const [i, line] of lines.entries()) {
    const [, t = '', u = ''] = line.split('\t');
    if (t !== '') tcp[i] = Number(t.split(',')[0]);
    if (u !== '') udp[i] = Number(u.split(',')[0]);
  }
  return new FieldStreamIndex(tcp, udp);
}

/** fieldStreamIndex, kept in `cache` (written on first use, read after). */
export async function cachedFieldStreamIndex(
  file: string,
  cache: string,
  keylog?: string,
): Promise<FieldStreamIndex> {
  const held = await readFile(cache).catch(() => undefined);
  if (held) return FieldStreamIndex.fromBuffer(held);
  const built = await fieldStreamIndex(file, keylog);
  await writeFile(cache, built.toBuffer());
  return built;
}
