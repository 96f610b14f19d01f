// One dumpcap capture owned by the server: started in child mode so that it reports, in machine
// form, when capture has begun, how many packets it has written and what went wrong. Never
// detached, never through a shell; stop() waits until the kernel has handed dumpcap what it held
// (ring-drain.ts), then ends it.
import { abortError } from '../errors.js';
import { cpuSeconds } from '../util/pid.js';
import type { ProcessGroup, RunningProcess, RunResult } from '../wireshark/process.js';
import { DUMPCAP_PROCESS_INFO_OPTION } from '../wireshark/process-info.js';
import { awaitRingDrain } from './ring-drain.js';
import type { DrainOutcome } from './ring-drain.js';
import { SyncPipeReader } from './sync-pipe.js';
import type { SyncMessage } from './sync-pipe.js';

export interface DumpcapOptions {
  readonly interface: string;
  readonly captureFilter?: string | undefined;
  /** Absolute path the capture is written to; chosen by the server. */
  readonly file: string;
  readonly snaplen?: number | undefined;
  readonly maxPackets?: number | undefined;
  readonly durationSeconds?: number | undefined;
  readonly maxFileKB?: number | undefined;
  /** The interface's name in the file, for a pipe (a remote host's capture). */
  readonly ifname?: string | undefined;
  /** The interface's description in the file, for a pipe. */
  readonly ifdescr?: string | undefined;
  /** Record each packet's local processes in the file (a dumpcap that has --process-info). */
  readonly processInfo?: boolean | undefined;
}

export interface CaptureEnd {
  readonly exitCode: number | null;
  readonly packets: number;
  /** Packets dumpcap reported dropped (its "D" message, at the end), undefined when it did not say. */
  readonly dropped: number | undefined;
  /** dumpcap's own account of a failure, when it reported one. */
  readonly error: string | undefined;
}

/** What a session captures with: one dumpcap, or a remote capture's hosts (remote-capture.ts). */
export interface Capture {
  readonly pid: number | undefined;
  /** Packets written so far. */
  readonly packets: number;
  readonly ended: Promise<CaptureEnd>;
  /** Ends the capture, keeping what reached it before the call. */
  stop(): Promise<CaptureEnd>;
}

/** dumpcap refused to start the capture (the message is dumpcap's), or did not start in time. */
export class CaptureStartError extends Error {
  override name = 'CaptureStartError';
  constructor(
    message: string,
    readonly kind: 'badFilter' | 'error' | 'exited' | 'startTimeout',
  ) {
    super(message);
  }
}

/**
 * How long dumpcap may take to report that capture has begun. Opening a local interface takes
 * milliseconds; one that has not begun by then is not going to, and the caller is waiting.
 */
export const CAPTURE_START_TIMEOUT_MS = 15_000;

/**
 * How long libpcap may take to compile a capture filter. A filter compiles in milliseconds; the
 * optimizer's cost grows steeply with alternatives (541 "port N" terms, 3.7 KB, took 54 s here),
 * and a start should neither wait for that nor tie up a core.
 */
export const CAPTURE_FILTER_COMPILE_TIMEOUT_MS = 5_000;

export type FilterCompileTime =
  | { readonly kind: 'inTime' }
  /** Stopped at the bound; `cpuSeconds` says whether it was working (or starved by a busy machine). */
  | { readonly kind: 'tooSlow'; readonly cpuSeconds: number | undefined };

/**
 * Compiles a capture filter as the capture will (`dumpcap -d` for the interface, so for its link
 * type) and stops at CAPTURE_FILTER_COMPILE_TIMEOUT_MS. Only the time is judged: a filter that does
 * not compile, or an interface that cannot be opened, is left to the capture, which reports it in
 * machine form.
 */
export async function timeFilterCompile(
  group: ProcessGroup,
  dumpcapPath: string,
  iface: string,
  filter: string,
  signal?: AbortSignal,
): Promise<FilterCompileTime> {
  const timeoutMs = CAPTURE_FILTER_COMPILE_TIMEOUT_MS;
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  let pid: number | undefined;
  let slow: FilterCompileTime | undefined;
  // At the bound, first read how much CPU dumpcap got, then stop it.
  const timer = setTimeout(() => {
    void (pid === undefined ? Promise.resolve(undefined) : cpuSeconds(pid)).then((cpu) => {
      slow = { kind: 'tooSlow', cpuSeconds: cpu };
      stop.abort();
    });
  }, timeoutMs);
  try {
    await group.run({
      command: dumpcapPath,
      args: ['-i', iface, '-f', filter, '-d'],
      timeoutMs: timeoutMs * 2,
      // dumpcap, outside the cap on analysis processes: its own bound is this check's timer.
      limited: false,
      signal: stop.signal,
      // dumpcap notes SIGTERM only after libpcap's compiler returns; a compile has nothing to save.
      killGraceMs: 200,
      onStart: (p) => (pid = p),
      // The compiled program (thousands of lines for a long filter) is not wanted.
      onStdout: () => 'continue',
    });
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
  if (signal?.aborted) throw abortError();
  return slow ?? { kind: 'inTime' };
}

/** What may end a start before capture has begun, besides dumpcap itself. */
export interface StartControl {
  /** The caller gave up (the MCP request was cancelled): dumpcap is stopped. */
  readonly signal?: AbortSignal | undefined;
  /** Default: CAPTURE_START_TIMEOUT_MS. */
  readonly startTimeoutMs?: number | undefined;
}

export function dumpcapArgs(o: DumpcapOptions): string[] {
  const args = ['-i', o.interface];
  // Per interface: they follow its -i.
  if (o.ifname !== undefined) args.push('--ifname', o.ifname);
  if (o.ifdescr !== undefined) args.push('--ifdescr', o.ifdescr);
  args.push('-w', o.file, '-Z', 'none');
  if (o.captureFilter !== undefined && o.captureFilter !== '') args.push('-f', o.captureFilter);
  if (o.snaplen !== undefined) args.push('-s', String(o.snaplen));
  if (o.maxPackets !== undefined) args.push('-c', String(o.maxPackets));
  if (o.durationSeconds !== undefined) args.push('-a', `duration:${o.durationSeconds}`);
  if (o.maxFileKB !== undefined) args.push('-a', `filesize:${o.maxFileKB}`);
  if (o.processInfo === true) args.push(DUMPCAP_PROCESS_INFO_OPTION);
  return args;
}

export class DumpcapCapture implements Capture {
  private written = 0;
  private dropped: number | undefined;
  private failure: string | undefined;
  readonly ended: Promise<CaptureEnd>;

  private constructor(
    private readonly group: ProcessGroup,
    private readonly proc: RunningProcess,
    readonly file: string,
    ready: (err?: Error) => void,
  ) {
    this.ended = proc.result.then(
      (r: RunResult) => {
        if (!this.started)
          ready(
            new CaptureStartError(
              this.failure ?? (r.stderr.trim() || 'dumpcap exited before capture began.'),
              'exited',
            ),
          );
        return { exitCode: r.exitCode, packets: this.written, dropped: this.dropped, error: this.failure };
      },
      (err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        ready(new CaptureStartError(message, 'exited'));
        return { exitCode: null, packets: this.written, dropped: this.dropped, error: message };
      },
    );
  }

  private started = false;
  private readonly waiters = new Set<() => void>();
  /** How the last stop() waited for the kernel to hand dumpcap its packets (for figures and logs). */
  lastDrain: DrainOutcome | undefined;

  /** Starts dumpcap and resolves once capture has begun (or rejects with dumpcap's reason). */
  static async start(
    group: ProcessGroup,
    dumpcapPath: string,
    options: DumpcapOptions,
    control?: StartControl,
  ): Promise<DumpcapCapture> {
    const { capture, ready } = DumpcapCapture.launch(group, dumpcapPath, options, control);
    await ready;
    return capture;
  }

  /**
   * Starts dumpcap and returns at once: `ready` settles once capture has begun, or rejects (with
   * dumpcap's reason, a CaptureStartError 'startTimeout', or an AbortError) once dumpcap has exited.
   */
  static launch(
    group: ProcessGroup,
    dumpcapPath: string,
    options: DumpcapOptions,
    control: StartControl = {},
  ): { capture: DumpcapCapture; ready: Promise<void> } {
    const { signal, startTimeoutMs = CAPTURE_START_TIMEOUT_MS } = control;
    let settle: { resolve: () => void; reject: (err: Error) => void } | undefined;
    const ready = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (err) {
        // dumpcap exits after reporting why it cannot capture; answer once it has, or make it.
        void proc.stop().then(() => settle?.reject(err));
      } else settle?.resolve();
    };
    const onAbort = (): void => finish(abortError());
    const timer = setTimeout(
      () =>
        finish(
          new CaptureStartError(
            `dumpcap did not report that capture began within ${startTimeoutMs / 1000} s.`,
            'startTimeout',
          ),
        ),
      startTimeoutMs,
    );
    const reader = new SyncPipeReader();
    // Messages can only arrive after group.start() returns, by which time `capture` is set.
    const proc = group.start({
      command: dumpcapPath,
      args: dumpcapArgs(options),
      // The capture's own stop conditions end it; this only guards against a hang.
      timeoutMs: ((options.durationSeconds ?? 86_400) + 60) * 1000,
      // The session cap bounds captures; the cap on analysis processes does not apply.
      limited: false,
      onStderr: (chunk) => {
        for (const m of reader.push(chunk)) capture.handle(m, finish);
      },
    });
    const capture = new DumpcapCapture(group, proc, options.file, finish);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    return { capture, ready };
  }

  private handle(m: SyncMessage, ready: (err?: Error) => void): void {
    if (m.kind === 'file') {
      this.started = true;
      ready();
    } else if (m.kind === 'packets') {
      this.written += m.count;
      for (const wake of this.waiters) wake();
    } else if (m.kind === 'drops') {
      // "<drops>:<interface>", one message per interface.
      const n = Number(m.text.split(':')[0]);
      if (Number.isInteger(n)) this.dropped = (this.dropped ?? 0) + n;
    } else if (m.kind === 'error' || m.kind === 'badFilter') {
      this.failure =
        m.kind === 'error' ? [m.primary, m.secondary].filter((s) => s !== '').join('\n') : m.message;
      if (!this.started) ready(new CaptureStartError(this.failure, m.kind));
    }
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** Packets dumpcap has reported written so far. */
  get packets(): number {
    return this.written;
  }

  /**
   * Resolves true once dumpcap has reported at least `count` packets written, false if the capture
   * ends or `timeoutMs` passes first.
   */
  waitForPackets(count: number, timeoutMs: number): Promise<boolean> {
    if (this.written >= count) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const done = (reached: boolean): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(reached);
      };
      const check = (): void => {
        if (this.written >= count) done(true);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.waiters.add(check);
      void this.ended.then(() => done(this.written >= count));
    });
  }

  /** Ends the capture, keeping every packet that reached the interface before the call. */
  async stop(): Promise<CaptureEnd> {
    // The kernel hands packets over in blocks; wait for the one holding the last packets (an event
    // the ring-drain helper sees), then end dumpcap, which drops what the kernel still holds.
    this.lastDrain = await awaitRingDrain(this.group, this.proc.pid, this.ended);
    await this.proc.stop();
    return this.ended;
  }
}
