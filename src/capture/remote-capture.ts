// A capture on other hosts over SSH: for each host, Wireshark's sshdump runs the capture there and
// writes its pcap into a FIFO, which a local dumpcap reads as the capture's interface (named after
// the host) and writes like any session's file, with its own stop conditions and reports. A host
// that fails is kept with its reason while the others go on; at the end the hosts' files are
// merged by time (mergecap) into the session's file.
import { readFile, rename, rm, stat } from 'node:fs/promises';
import { exists } from '../util/files.js';
import { descendants } from '../util/pid.js';
import { abortError } from '../errors.js';
import { makeFifo } from '../wireshark/fifo.js';
import type { ProcessGroup, RunningProcess } from '../wireshark/process.js';
import { CaptureStartError, DumpcapCapture } from './dumpcap.js';
import type { CaptureEnd } from './dumpcap.js';
import { diagnoseSshFailure } from './ssh-diagnosis.js';
import { hostText, proxyCommand, remoteCommand, remoteFilter, sshdumpArgs } from './remote-hosts.js';
import type { RemoteHost } from './remote-hosts.js';

export interface RemoteTools {
  readonly dumpcap: string;
  readonly sshdump: string;
  readonly ssh: string;
  readonly mergecap: string;
  readonly knownHosts: string;
}

export interface RemoteCaptureOptions {
  readonly hosts: readonly RemoteHost[];
  readonly captureFilter: string | undefined;
  /** The session's file: the merge of the hosts' files (or the one host's file itself). */
  readonly file: string;
  readonly snaplen: number;
  /** For each host. */
  readonly maxPackets: number;
  readonly durationSeconds: number;
  /** For each host. */
  readonly maxFileKB: number;
}

/** One host's part of a session, as the session tools show it. */
export interface HostView {
  readonly host: string;
  readonly label: string;
  readonly interface: string;
  readonly state: 'starting' | 'running' | 'ended' | 'failed';
  readonly packets: number;
  readonly error: string | null;
}

class HostRun {
  state: HostView['state'] = 'starting';
  error: string | undefined;
  stopping = false;
  /** sshdump has exited: nothing of it is left to end. */
  sshdumpExited = false;
  readonly host: RemoteHost;
  /** The host's own capture file (the session's file itself for a single host). */
  readonly file: string;
  readonly fifo: string;
  /** Where OpenSSH's client (sshdump's proxy) writes why it failed. */
  readonly sshLog: string;
  readonly dumpcap: DumpcapCapture;
  /** Settles once dumpcap has read the host's pcap header, or failed. */
  readonly ready: Promise<void>;
  readonly sshdump: RunningProcess;

  constructor(parts: {
    host: RemoteHost;
    file: string;
    fifo: string;
    sshLog: string;
    dumpcap: DumpcapCapture;
    ready: Promise<void>;
    sshdump: RunningProcess;
  }) {
    this.host = parts.host;
    this.file = parts.file;
    this.fifo = parts.fifo;
    this.sshLog = parts.sshLog;
    this.dumpcap = parts.dumpcap;
    this.ready = parts.ready;
    this.sshdump = parts.sshdump;
    const exited = (): void => {
      this.sshdumpExited = true;
    };
    this.sshdump.result.then(exited, exited);
  }

  view(): HostView {
    return {
      host: hostText(this.host),
      label: this.host.label,
      interface: this.host.interface,
      state: this.state,
      packets: this.dumpcap.packets,
      error: this.error ?? null,
    };
  }
}

/** How long a host may take to send its capture's first bytes (SSH, the login shell, the program). */
export const REMOTE_START_TIMEOUT_MS = 20_000;

export class RemoteCapture {
  readonly ended: Promise<CaptureEnd>;
  private readonly runs: HostRun[];

  private constructor(
    private readonly group: ProcessGroup,
    private readonly tools: RemoteTools,
    private readonly options: RemoteCaptureOptions,
    runs: HostRun[],
    ready: Promise<void>,
  ) {
    this.runs = runs;
    this.ended = ready.then(
      () => this.finish(),
      () => this.finish(),
    );
  }

  /**
   * Starts every host at once. `ready` settles once each host has begun capturing or failed:
   * it resolves when at least one began, and rejects with every host's reason when none did.
   */
  static async launch(
    group: ProcessGroup,
    tools: RemoteTools,
    options: RemoteCaptureOptions,
    signal?: AbortSignal,
  ): Promise<{ capture: RemoteCapture; ready: Promise<void> }> {
    const { hosts, file } = options;
    const single = hosts.length === 1;
    const base = file.replace(/\.pcapng$/, '');
    const fifos = hosts.map((_, i) => `${base}.host-${i}.fifo`);
    await makeFifo(...fifos);
    const runs = hosts.map((host, i) => {
      const fifo = fifos[i] as string;
      const sshLog = `${base}.host-${i}.ssh.log`;
      const hostFile = single ? file : `${base}.host-${i}.pcapng`;
      const { capture, ready } = DumpcapCapture.launch(
        group,
        tools.dumpcap,
        {
          interface: fifo,
          ifname: host.label,
          ifdescr: `${host.interface} on ${hostText(host)}, captured over SSH (${host.captureCommand})`,
          file: hostFile,
          maxPackets: options.maxPackets,
          durationSeconds: options.durationSeconds,
          maxFileKB: options.maxFileKB,
        },
        { signal, startTimeoutMs: REMOTE_START_TIMEOUT_MS },
      );
      const command = remoteCommand(host, {
        filter: remoteFilter(options.captureFilter, host.port),
        snaplen: options.snaplen,
        maxPackets: options.maxPackets,
        timeoutSeconds: options.durationSeconds,
      });
      const sshdump = group.start({
        command: tools.sshdump,
        args: sshdumpArgs(host, fifo, command, proxyCommand(tools.ssh, host, tools.knownHosts, sshLog)),
        timeoutMs: (options.durationSeconds + 60) * 1000,
        limited: false,
        killGraceMs: 1_000,
      });
      return new HostRun({ host, file: hostFile, fifo, sshLog, dumpcap: capture, ready, sshdump });
    });
    const started = runs.map((run) => RemoteCapture.begin(group, tools, run));
    const ready = Promise.all(started).then(() => {
      if (signal?.aborted) throw abortError();
      if (runs.every((r) => r.state === 'failed'))
        throw new CaptureStartError(
          runs.map((r) => `${r.host.label}: ${r.error ?? 'did not start'}`).join('\n'),
          'exited',
        );
    });
    const capture = new RemoteCapture(group, tools, options, runs, ready);
    return { capture, ready };
  }

  /** Waits for one host to begin capturing, or records why it did not. */
  private static async begin(group: ProcessGroup, tools: RemoteTools, run: HostRun): Promise<void> {
    // Either ending ends the other: dumpcap at its stop conditions, sshdump when the host's capture
    // or the connection ended.
    void run.sshdump.result.then(
      () => run.dumpcap.stop(),
      () => run.dumpcap.stop(),
    );
    void run.dumpcap.ended.then(() => stopSshdump(run));
    try {
      await run.ready;
      run.state = 'running';
      void run.dumpcap.ended.then(async (end) => {
        const ssh = await run.sshdump.result.catch(() => undefined);
        if (run.stopping || end.error === undefined) {
          run.state = 'ended';
          // The host's capture ended by itself before any stop: say why, from sshdump.
          if (!run.stopping && ssh && ssh.exitCode !== 0 && ssh.exitCode !== null) {
            run.state = 'failed';
            run.error = await diagnoseSshFailure(group, tools, run.host, await reasons(run, ssh.stderr));
          }
          return;
        }
        run.state = 'failed';
        run.error = end.error;
      });
    } catch (err) {
      run.state = 'failed';
      await stopSshdump(run);
      const ssh = await run.sshdump.result.catch(() => undefined);
      const why = ssh
        ? await diagnoseSshFailure(group, tools, run.host, await reasons(run, ssh.stderr))
        : undefined;
      run.error = why ?? (err instanceof Error ? err.message : String(err));
    }
  }

  get pid(): number | undefined {
    return this.runs.find((r) => r.state === 'running')?.dumpcap.pid;
  }

  get packets(): number {
    return this.runs.reduce((n, r) => n + r.dumpcap.packets, 0);
  }

  hosts(): HostView[] {
    return this.runs.map((r) => r.view());
  }

  /** Ends every host's capture: sshdump first, so each dumpcap keeps what reached it, then dumpcap. */
  async stop(): Promise<CaptureEnd> {
    await Promise.all(
      this.runs.map(async (r) => {
        r.stopping = true;
        await stopSshdump(r);
        await r.dumpcap.stop();
      }),
    );
    return this.ended;
  }

  /** Once every host has ended: their files merged by time into the session's file. */
  private async finish(): Promise<CaptureEnd> {
    const ends = await Promise.all(this.runs.map((r) => r.dumpcap.ended));
    await Promise.all(this.runs.map((r) => r.sshdump.result.catch(() => undefined)));
    await Promise.all(this.runs.flatMap((r) => [rm(r.fifo, { force: true }), rm(r.sshLog, { force: true })]));
    const captured = this.runs.filter((r) => r.state !== 'failed' || r.dumpcap.packets > 0);
    if (this.runs.length > 1) {
      // Once merged, the hosts' own files are the session's file twice over.
      if (
        await this.merge(
          captured.map((r) => r.file),
          this.options.file,
        )
      )
        await Promise.all(this.runs.map((r) => rm(r.file, { force: true })));
    }
    const failed = this.runs.filter((r) => r.state === 'failed');
    const all = failed.length === this.runs.length;
    return {
      exitCode: all ? 1 : 0,
      packets: ends.reduce((n, e) => n + e.packets, 0),
      dropped: ends.some((e) => e.dropped !== undefined)
        ? ends.reduce((n, e) => n + (e.dropped ?? 0), 0)
        : undefined,
      error: all ? failed.map((r) => `${r.host.label}: ${r.error ?? 'failed'}`).join('\n') : undefined,
    };
  }

  /**
   * The hosts' files as they stand, merged by time into `target` (written beside it, then renamed
   * over it), so a running session of several hosts can be read.
   */
  async snapshot(): Promise<void> {
    if (this.runs.length === 1) return;
    // Each read of a running session asks: mergecap runs only when a host's file has grown.
    const sizes = (
      await Promise.all(
        this.runs.map((r) =>
          stat(r.file).then(
            (s) => s.size,
            () => -1,
          ),
        ),
      )
    ).join(' ');
    if (sizes === this.merged) return;
    if (
      await this.merge(
        this.runs.map((r) => r.file),
        this.options.file,
      )
    )
      this.merged = sizes;
  }

  /** The hosts' file sizes the last snapshot merged. */
  private merged: string | undefined;

  /** Whether `target` now holds the merge. */
  private async merge(files: readonly string[], target: string): Promise<boolean> {
    const temp = `${target}.merging-${process.pid}-${Date.now()}`;
    try {
      const existing = [];
      for (const f of files) if (await exists(f)) existing.push(f);
      if (existing.length === 0) return false;
      const result = await this.group.run({
        command: this.tools.mergecap,
        args: ['-w', temp, ...existing],
        timeoutMs: 300_000,
      });
      if (result.exitCode !== 0) return false;
      await rename(temp, target);
      return true;
    } finally {
      await rm(temp, { force: true });
    }
  }

  /** The hosts' own files, removed with the session (the merged file is the session's). */
  hostFiles(): string[] {
    return this.runs.length === 1 ? [] : this.runs.map((r) => r.file);
  }
}

/**
 * Ends a host's sshdump and what it started: its proxy (OpenSSH's client) would otherwise outlive it
 * while a handshake hangs, until its own connect timeout.
 */
async function stopSshdump(run: HostRun): Promise<void> {
  // Called from the stop and from dumpcap's end alike: the process table is read once.
  if (run.sshdumpExited) return;
  const pid = run.sshdump.pid;
  if (pid !== undefined)
    for (const child of await descendants(pid)) {
      try {
        process.kill(child, 'SIGTERM');
      } catch {
        // gone already
      }
    }
  await run.sshdump.stop();
}

/** What sshdump and its proxy (OpenSSH's client) said about a host. */
async function reasons(run: HostRun, sshdumpStderr: string): Promise<string> {
  const proxy = await readFile(run.sshLog, 'utf8').catch(() => '');
  return `${proxy}\n${sshdumpStderr}`;
}
