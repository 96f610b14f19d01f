// Owns every child process the server starts: spawn with an argument array (never a shell), a time
// limit, the caller's abort signal, stdout read as a stream that the consumer can stop, a bounded
// stderr, and a polite-then-forceful stop. A ProcessGroup remembers what is alive so that closing
// the server ends all of it, and holds every run but dumpcap's to its cap on processes at once
// (slots.ts).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { defaultProcessCap, ProcessSlots } from './slots.js';
import type { WaitNotice } from './slots.js';

export interface RunOptions {
  /** Absolute path of the program. */
  readonly command: string;
  readonly args: readonly string[];
  /** Hard limit on the whole run; the process is stopped when it passes. */
  readonly timeoutMs: number;
  /** The MCP request's abort signal, or any other. */
  readonly signal?: AbortSignal | undefined;
  /** Bytes written to the child's stdin, which is then closed. Without it stdin is /dev/null. */
  readonly stdin?: Buffer | undefined;
  /**
   * Called with each stdout chunk in order. Return 'stop' once you have what you need: the
   * process is stopped and no further chunk is delivered.
   */
  readonly onStdout?: ((chunk: Buffer) => 'continue' | 'stop') | undefined;
  /** Called once the process has started, with its pid. */
  readonly onStart?: ((pid: number) => void) | undefined;
  /** Called with each stderr chunk in order (stderr is also kept, bounded, in the result). */
  readonly onStderr?: ((chunk: Buffer) => void) | undefined;
  /** How much stderr to keep (the head is kept; tools print their errors first). */
  readonly maxStderrBytes?: number | undefined;
  /** How long to wait after SIGTERM before SIGKILL. */
  readonly killGraceMs?: number | undefined;
  readonly env?: NodeJS.ProcessEnv | undefined;
  /**
   * Counts against the group's cap on processes at once, waiting for a slot when all are taken
   * (the default). dumpcap's runs set false: the session cap bounds captures, and its listings are
   * brief.
   */
  readonly limited?: boolean | undefined;
}

export interface RunResult {
  readonly exitCode: number | null;
  readonly exitSignal: NodeJS.Signals | null;
  readonly stderr: string;
  /** The consumer asked to stop: the output is complete as far as the caller cares. */
  readonly stoppedEarly: boolean;
  readonly timedOut: boolean;
  readonly aborted: boolean;
  readonly durationMs: number;
}

export interface RunningProcess {
  /** Undefined until the process has started (it may wait for a slot first). */
  readonly pid: number | undefined;
  /** Settles when the process has exited; rejects with a SpawnError when it could not start. */
  readonly result: Promise<RunResult>;
  /** SIGTERM, then SIGKILL after the grace period; resolves once the process has exited. */
  stop(): Promise<void>;
}

/** The program could not be started at all (not found, not executable). */
export class SpawnError extends Error {
  constructor(
    readonly command: string,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'SpawnError';
  }
}

const DEFAULT_KILL_GRACE_MS = 2_000;
const DEFAULT_MAX_STDERR = 64 * 1024;

export interface ProcessGroupOptions {
  /** Limited processes running at once (default: defaultProcessCap()). */
  readonly maxProcesses?: number | undefined;
}

/** The set of live children one server owns. */
export class ProcessGroup {
  private readonly live = new Set<ChildProcess>();
  private closed = false;
  /** The cap on limited processes, and their queue. */
  readonly slots: ProcessSlots;

  constructor(options: ProcessGroupOptions = {}) {
    this.slots = new ProcessSlots(options.maxProcesses ?? defaultProcessCap());
  }

  /** Runs `fn` as one call: see ProcessSlots.withinCall. */
  withinCall<T>(onWait: ((notice: WaitNotice) => void) | undefined, fn: () => Promise<T>): Promise<T> {
    return this.slots.withinCall(onWait, fn);
  }

  /** close() has been called: every child is being stopped. */
  get closing(): boolean {
    return this.closed;
  }

  /** Number of children alive right now. */
  get size(): number {
    return this.live.size;
  }

  /** Pids of the children alive right now (for tests and diagnostics). */
  pids(): number[] {
    return [...this.live].flatMap((c) => (c.pid === undefined ? [] : [c.pid]));
  }

  /** Runs a program to its end, or until the consumer, the time limit or the signal stops it. */
  run(options: RunOptions): Promise<RunResult> {
    return this.start(options).result;
  }

  /**
   * Starts a program and returns at once: `stop()` ends it politely, `result` settles at its exit.
   * A limited program starts at once when a slot is free, else when its turn comes; the abort
   * signal or `stop()` takes it out of the queue (its result then says aborted or stopped early).
   */
  start(options: RunOptions): RunningProcess {
    if (this.closed) return shuttingDown();
    if (options.limited === false) return startProcess(options, this.live);
    const now = this.slots.tryAcquire();
    if (now) return holding(startProcess(options, this.live), now);

    const queuedAt = performance.now();
    const place = this.slots.wait(options.signal);
    let running: RunningProcess | undefined;
    let stopped = false;
    const result = place.granted.then((release) => {
      if (release === undefined || this.closed) {
        release?.();
        if (this.closed) throw shutdownError();
        return notRun({ aborted: !stopped, stoppedEarly: stopped, durationMs: performance.now() - queuedAt });
      }
      running = holding(startProcess(options, this.live), release);
      return running.result;
    });
    return {
      get pid() {
        return running?.pid;
      },
      result,
      stop: async () => {
        if (running) return running.stop();
        stopped = true;
        place.cancel();
        await result.then(noop, noop);
      },
    };
  }

  /** Stops every live child (SIGTERM, then SIGKILL after the grace period) and waits for them. */
  async close(graceMs = DEFAULT_KILL_GRACE_MS): Promise<void> {
    this.closed = true;
    this.slots.cancelAll();
    await Promise.all([...this.live].map((child) => terminate(child, graceMs)));
  }
}

function noop(): void {}

function shutdownError(): Error {
  return new Error('The server is shutting down; no new process starts.');
}

function shuttingDown(): RunningProcess {
  const result = Promise.reject(shutdownError());
  return { pid: undefined, result, stop: () => result.then(noop, noop) };
}

/** The process gives its slot back once it has exited (or could not start). */
function holding(running: RunningProcess, release: () => void): RunningProcess {
  running.result.then(release, release);
  return running;
}

/** The result of a run whose process never started. */
function notRun(how: Pick<RunResult, 'aborted' | 'stoppedEarly' | 'durationMs'>): RunResult {
  return { exitCode: null, exitSignal: null, stderr: '', timedOut: false, ...how };
}

function startProcess(options: RunOptions, live: Set<ChildProcess>): RunningProcess {
  const started = performance.now();
  const maxStderr = options.maxStderrBytes ?? DEFAULT_MAX_STDERR;
  const grace = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;

  if (options.signal?.aborted) {
    const result = Promise.resolve(notRun({ aborted: true, stoppedEarly: false, durationMs: 0 }));
    return { pid: undefined, result, stop: () => result.then(noop) };
  }

  let child: ChildProcess;
  try {
    child = spawn(options.command, [...options.args], {
      stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      windowsHide: true,
    });
  } catch (err) {
    const result = Promise.reject(asSpawnError(options.command, err));
    return { pid: undefined, result, stop: () => result.then(noop, noop) };
  }
  live.add(child);
  if (child.pid !== undefined) options.onStart?.(child.pid);

  let stoppedEarly = false;
  let timedOut = false;
  let aborted = false;
  let stopping = false;
  const stderrChunks: Buffer[] = [];
  let stderrBytes = 0;

  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    // No more output is wanted: keep draining the pipe so a full pipe cannot block the exit.
    child.stdout?.removeAllListeners('data');
    child.stdout?.resume();
    void terminate(child, grace);
  };

  const result = new Promise<RunResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, options.timeoutMs);
    const onAbort = (): void => {
      aborted = true;
      stop();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout?.on('data', (chunk: Buffer) => {
      if (stopping) return;
      if (options.onStdout && options.onStdout(chunk) === 'stop') {
        stoppedEarly = true;
        stop();
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      options.onStderr?.(chunk);
      if (stderrBytes >= maxStderr) return;
      const room = maxStderr - stderrBytes;
      const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
      stderrChunks.push(kept);
      stderrBytes += kept.length;
    });
    if (options.stdin !== undefined && child.stdin) {
      // A child that exits before reading all of stdin is not an error of ours.
      child.stdin.on('error', noop);
      child.stdin.end(options.stdin);
    }

    let settled = false;
    const settle = (): void => {
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      live.delete(child);
    };
    child.on('error', (err) => {
      // Only a failure to start ends the run here; any other error on a live child is followed by 'close'.
      if (settled || child.pid !== undefined) return;
      settle();
      reject(asSpawnError(options.command, err));
    });
    child.on('close', (exitCode, exitSignal) => {
      if (settled) return;
      settle();
      resolve({
        exitCode,
        exitSignal,
        stderr: Buffer.concat(stderrChunks).toString('utf8'),
        stoppedEarly,
        timedOut,
        aborted,
        durationMs: performance.now() - started,
      });
    });
  });

  return {
    pid: child.pid,
    result,
    stop: async () => {
      stop();
      await result.then(noop, noop);
    },
  };
}

/** SIGTERM, then SIGKILL if the child is still there after `graceMs`; resolves when it has exited. */
function terminate(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(killer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function asSpawnError(command: string, err: unknown): SpawnError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const reason =
    code === 'ENOENT'
      ? 'was not found'
      : code === 'EACCES'
        ? 'is not executable'
        : `could not be started (${String(err)})`;
  return new SpawnError(command, code, `${command} ${reason}.`);
}

/** Runs a program and keeps its stdout as text, up to `maxBytes` (then the program is stopped). */
export async function runCollect(
  group: ProcessGroup,
  options: Omit<RunOptions, 'onStdout'> & { readonly maxBytes: number },
): Promise<{ stdout: string; result: RunResult; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  const result = await group.run({
    ...options,
    onStdout: (chunk) => {
      chunks.push(chunk);
      size += chunk.length;
      return size > options.maxBytes ? 'stop' : 'continue';
    },
  });
  return { stdout: Buffer.concat(chunks).toString('utf8'), result, truncated: result.stoppedEarly };
}
