// What the summary and drill-down benches measure with: the peak memory of a process tree (from
// /proc, see proc.ts), a timed plain tshark run, a freshly spawned built server with a real MCP
// client, and one timed tool call through it. Every process measured is remembered, so that one
// left behind when its run ends (a tshark orphaned by a server that died) is killed and reported.
// Peak memory is the largest sum of VmRSS over a process and all its descendants, sampled from
// /proc every 15 ms, the descendants found anew every 60 ms (Linux only; pages shared between
// processes count once per process).
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProcessGroup } from '../src/wireshark/process.js';
import { cpuSeconds, peakResidentBytes, processTree, procStat, residentBytes } from './proc.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bundle', 'sharkmcp.js');
export const SAMPLE_MS = 15;
const TREE_EVERY = 4;
const SETTLE_MS = 1000;
export const CALL_TIMEOUT_MS = 30 * 60_000;
/** The server's stderr kept for a bench to read (its log lines): the last this many characters. */
const STDERR_KEPT = 256 * 1024;

// ---- Memory of a process tree, from /proc (proc.ts).

/** Every process measured so far, with its start time: all of them must be gone once their run ends. */
const seen = new Map<number, string>();

/** Kills what was measured and is still running (say a tshark orphaned by a server that died). */
export function reapLeftovers(): void {
  for (const [pid, started] of seen) {
    const stat = procStat(pid);
    if (stat !== undefined && stat.state !== 'Z' && stat.started === started) {
      process.stderr.write(`warning: killing process ${pid}, left behind by the benchmark's run\n`);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // it ended meanwhile
      }
    }
    seen.delete(pid);
  }
}

export interface Peak {
  /** Largest sum of VmRSS over the tree, in bytes. */
  readonly peakBytes: number;
  /** VmHWM of the root process at the last sample that could read it. */
  readonly rootHwmBytes: number | null;
  readonly samples: number;
}

/**
 * Samples the memory of `root` and its descendants until stop(): their resident bytes every
 * SAMPLE_MS, and who they are every TREE_EVERY samples (a new worker is small in its first
 * milliseconds). The sampler costs the benchmark's process about 2% of a core; the summary uses
 * both cores, plain tshark one, so a costlier sampler would slow only the summary.
 */
export class TreeMemory {
  private peakBytes = 0;
  private rootHwmBytes: number | null = null;
  private samples = 0;
  private tree = new Map<number, string>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly root: number) {
    this.sample();
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
  }

  private sample(fresh = this.samples % TREE_EVERY === 0): void {
    if (fresh) {
      this.tree = processTree(this.root);
      for (const [pid, started] of this.tree) seen.set(pid, started);
      this.rootHwmBytes = peakResidentBytes(this.root) ?? this.rootHwmBytes;
    }
    let total = 0;
    for (const pid of this.tree.keys()) total += residentBytes(pid) ?? 0;
    if (total === 0) return;
    this.samples++;
    this.peakBytes = Math.max(this.peakBytes, total);
  }

  stop(): Peak {
    clearInterval(this.timer);
    this.sample(true);
    return { peakBytes: this.peakBytes, rootHwmBytes: this.rootHwmBytes, samples: this.samples };
  }
}

// ---- Plain tshark.

/** Reads the file once, 1 MiB at a time, so that neither side pays for a cold page cache. */
export async function warmPageCache(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(1024 * 1024);
    while ((await handle.read(buffer, 0, buffer.length, null)).bytesRead > 0);
  } finally {
    await handle.close();
  }
}

/**
 * One run of plain tshark with `args` (its output read and dropped): wall time, CPU seconds and
 * peak memory.
 */
export async function plainTshark(
  group: ProcessGroup,
  tshark: string,
  args: readonly string[],
): Promise<Peak & { wallMs: number; cpuSeconds: number }> {
  // The only child this process waits for meanwhile is tshark: its CPU is that of reaped children.
  const cpuBefore = cpuSeconds(process.pid)?.children ?? 0;
  const t0 = performance.now();
  const running = group.start({ command: tshark, args, timeoutMs: CALL_TIMEOUT_MS });
  const memory = running.pid === undefined ? undefined : new TreeMemory(running.pid);
  let peak: Peak | undefined;
  try {
    const result = await running.result;
    if (result.exitCode !== 0)
      throw new Error(`tshark ${args.join(' ')} exited with ${result.exitCode}: ${result.stderr}`);
  } finally {
    peak = memory?.stop();
  }
  return {
    wallMs: performance.now() - t0,
    cpuSeconds: (cpuSeconds(process.pid)?.children ?? 0) - cpuBefore,
    ...(peak ?? { peakBytes: 0, rootHwmBytes: null, samples: 0 }),
  };
}

// ---- The server.

export interface Server {
  readonly client: Client;
  readonly pid: number;
  /** The end of what the server wrote to stderr, to say why a call failed. */
  stderrTail(): string;
  /** What the server wrote to stderr so far (its last STDERR_KEPT characters): its log lines. */
  stderr(): string;
}

/**
 * Runs `f` with a client connected to a freshly spawned server that may read `dir`, and ends the
 * server (and any child of it still running) whatever happens.
 */
export async function withServer<T>(
  dir: string,
  extraEnv: Record<string, string>,
  f: (server: Server) => Promise<T>,
): Promise<T> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && k !== 'SHARKMCP_SUMMARY_WORKERS') env[k] = v;
  }
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI],
    env: { ...env, SHARKMCP_ALLOWED_DIRS: dir, ...extraEnv },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_KEPT);
  });
  const client = new Client({ name: 'bench', version: '1' });
  try {
    await client.connect(transport);
    if (transport.pid === null) throw new Error('The server has no pid.');
    // The server locates Wireshark's tools in the background as it starts (tshark --version takes
    // 0.2 s); what is measured is the call, as an agent makes it some time after start-up.
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    return await f({
      client,
      pid: transport.pid,
      stderrTail: () => stderr.slice(-2000).trim(),
      stderr: () => stderr,
    });
  } finally {
    if (transport.pid !== null)
      for (const [pid, started] of processTree(transport.pid)) seen.set(pid, started);
    await client.close();
    await transport.close();
    reapLeftovers();
  }
}

export interface CallFigures {
  readonly wallMs: number;
  /** CPU seconds of the server and of its children that ended during the call (its tshark workers). */
  readonly cpuSeconds: number;
  /** The server tree's peak during the call. */
  readonly peakBytes: number;
  readonly samples: number;
  readonly serverRssBeforeBytes: number;
  readonly textBytes: number;
  readonly structuredBytes: number;
  readonly error: string | null;
  readonly structuredContent: unknown;
}

/**
 * One tool call: its wall time and CPU seconds, the server tree's peak memory during it, and the answer (its text
 * to `onText`, when given). A failed call (an error answer, or no answer at all) has `error` set.
 */
export async function measuredCall(
  server: Server,
  name: string,
  args: Record<string, unknown>,
  onText?: (text: string) => void,
): Promise<CallFigures> {
  const rssBeforeBytes = residentBytes(server.pid) ?? 0;
  // The server's own CPU and its ended children's (every tshark it ran for the call has ended).
  const cpu = (): number => {
    const c = cpuSeconds(server.pid);
    return c === undefined ? 0 : c.own + c.children;
  };
  const cpuBefore = cpu();
  const memory = new TreeMemory(server.pid);
  const t0 = performance.now();
  let peak: Peak | undefined;
  let result: Awaited<ReturnType<Client['callTool']>> | undefined;
  let failure: string | undefined;
  try {
    result = await server.client.callTool({ name, arguments: args }, { timeout: CALL_TIMEOUT_MS });
  } catch (err) {
    failure = `${String(err)}; the server's stderr ends with: ${server.stderrTail() || '(nothing)'}`;
  } finally {
    peak = memory.stop();
  }
  const wallMs = performance.now() - t0;
  const cpuSpent = cpu() - cpuBefore;
  const text = (result?.content ?? []).flatMap((c) => (c.type === 'text' ? [c.text] : [])).join('');
  onText?.(text);
  return {
    wallMs,
    cpuSeconds: cpuSpent,
    peakBytes: peak.peakBytes,
    samples: peak.samples,
    serverRssBeforeBytes: rssBeforeBytes,
    textBytes: Buffer.byteLength(text),
    structuredBytes: Buffer.byteLength(JSON.stringify(result?.structuredContent ?? null)),
    error: failure ?? (result?.isError === true ? text.slice(0, 500) : null),
    structuredContent: result?.structuredContent,
  };
}
