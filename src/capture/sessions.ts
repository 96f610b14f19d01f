// Background capture sessions: each one a dumpcap owned by the server, writing into the server's
// private directory under a name the server chooses. A session is running, finished (and why) or
// failed (and what to do); finished sessions keep their file until deleted or the server exits.
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { ProgressSink } from '../util/progress.js';
import { Logger } from '../util/log.js';
import { copyFile, constants, rm, stat } from 'node:fs/promises';
import { exists } from '../util/files.js';
import { abortError, UserError } from '../errors.js';
import { MAX_RUNNING_SESSIONS, MAX_TOTAL_CAPTURE_BYTES, NAME_PATTERN } from '../limits.js';
import { ProcessRecording } from '../processes/recording.js';
import type { SocketSampler } from '../processes/sampler.js';
import { copySidecar, removeSidecar, sidecarPath } from '../processes/sidecar.js';
import type { RuntimeDir } from '../storage/runtime-dir.js';
import { plural, requirePlainText } from '../util/text.js';
import { countPackets } from '../wireshark/capinfos.js';
import type { ToolStatus, WiresharkTools } from '../wireshark/locate.js';
import type { ProcessGroup } from '../wireshark/process.js';
import { dumpcapHasProcessInfo } from '../wireshark/process-info.js';
import { captureFailureMessage } from './advice.js';
import {
  CAPTURE_FILTER_COMPILE_TIMEOUT_MS,
  CAPTURE_START_TIMEOUT_MS,
  CaptureStartError,
  DumpcapCapture,
  timeFilterCompile,
} from './dumpcap.js';
import type { Capture, CaptureEnd } from './dumpcap.js';
import { RemoteCapture } from './remote-capture.js';
import { checkRemoteFilter, checkRemoteHosts, hostText } from './remote-hosts.js';
import type { RemoteHost, RemoteHostRequest } from './remote-hosts.js';
import { locateRemoteTools } from './remote-tools.js';
import { InterfaceCatalog, listLocalInterfaces, loopbackName } from './interfaces.js';
import type { LocalInterface } from './interfaces.js';
import { processRecordText } from './session-view.js';
import type { ProcessRecordKept, SessionView, StopReason } from './session-view.js';

export const STOP_REASON_TEXT: Record<StopReason, string> = {
  stopped: 'stopped on request',
  timeout: 'timeout reached',
  packetLimit: 'packet limit reached',
  sizeLimit: 'file size limit reached',
  ended: 'dumpcap ended by itself',
};

export interface SessionSettings {
  readonly interface: string;
  readonly captureFilter: string | undefined;
  /** Seconds after which dumpcap stops by itself. */
  readonly timeout: number;
  readonly maxPackets: number;
  readonly maxFileBytes: number;
  readonly snaplen: number;
  /** The hosts of a capture over SSH; none: a local interface. */
  readonly remote?: readonly RemoteHost[] | undefined;
}

/** Why a start was given up before capture began, by a call other than the start itself. */
type StartCancel = 'stopped' | 'deleted';

export type SessionState =
  /** dumpcap runs but has not reported that capture began (an interface can take its time). */
  | {
      readonly phase: 'starting';
      readonly capture: Capture;
      /** Aborted with a StartCancel, or 'cancelled' when the start's own request was. */
      readonly cancel: AbortController;
    }
  | { readonly phase: 'running'; readonly capture: Capture }
  | {
      readonly phase: 'finished';
      readonly reason: StopReason;
      readonly endedAt: Date;
      readonly packets: number;
      readonly bytes: number;
      /** Packets dumpcap reported dropped; undefined when it did not say. */
      readonly dropped?: number | undefined;
    }
  | {
      readonly phase: 'failed';
      readonly error: string;
      readonly endedAt: Date;
      readonly packets: number;
      readonly bytes: number;
    };

export interface Session {
  readonly id: string;
  /** The MCP session (HTTP) that started it: its captures end with it. */
  readonly owner: string | undefined;
  /** Where the manager files it: its id within its owner's sessions. */
  readonly key: string;
  readonly settings: SessionSettings;
  readonly file: string;
  /** Which records of the processes behind its connections it keeps. */
  readonly processRecord: ProcessRecordKept;
  /** A capture on other hosts over SSH: its hosts, as they stand. */
  readonly remote?: RemoteCapture | undefined;
  /** When the start was asked for, then when capture began. */
  startedAt: Date;
  state: SessionState;
}

/** A session as listed: its state with live figures for a running one. */
export interface SessionLimits {
  /** Sessions capturing at once. */
  readonly maxRunning: number;
  /** All capture files together, in bytes. */
  readonly totalBytes: number;
}

/** The defaults of limits.ts, the same the server and the CLI help state. */
export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  maxRunning: MAX_RUNNING_SESSIONS,
  totalBytes: MAX_TOTAL_CAPTURE_BYTES,
};

/** A found tool's Wireshark version. */
function versionOf(status: ToolStatus): string | undefined {
  return status.found ? status.version : undefined;
}

/** dumpcap's filesize stop condition counts in units of 1000 bytes. */
const DUMPCAP_KB = 1000;
const MIN_FILE_BYTES = 1_000_000;

export interface StartRequest extends Omit<SessionSettings, 'remote'> {
  readonly sessionName?: string | undefined;
  readonly owner?: string | undefined;
  /** Capture on these hosts over SSH instead of a local interface. */
  readonly remote?: readonly RemoteHostRequest[] | undefined;
  /** The start call's own cancellation (the MCP request's signal): dumpcap is stopped, nothing kept. */
  readonly signal?: AbortSignal | undefined;
}

/** A start whose dumpcap runs: `ready` settles once capture begins; `cancel` gives it up. */
interface Launched {
  readonly session: Session;
  readonly capture: Capture;
  readonly ready: Promise<void>;
  readonly dumpcap: string;
  readonly cancel: AbortController;
}

export class SessionManager {
  private readonly sessions = new Map<string, Session>();
  private readonly stopRequested = new Set<string>();
  /** Settles once a session's dumpcap has exited and its final state is recorded. */
  private readonly settling = new Map<string, Promise<void>>();
  /** Names (and slots) taken by starts that have not yet started dumpcap. */
  private readonly reserved = new Map<string, { readonly id: string; readonly owner: string | undefined }>();
  /** Settles once a starting session has begun capturing or has been removed. */
  private readonly starting = new Map<string, Promise<void>>();
  private counter = 0;
  private readonly listeners = new Set<(session: Session) => void>();
  /** What `interface` may name: the local interfaces dumpcap lists. */
  private readonly interfaces: InterfaceCatalog;
  /** Running sessions' process recordings (sidecars beside their files), by session key. */
  private readonly recordings = new Map<string, ProcessRecording>();
  private readonly logger: Logger;
  private readonly sampler: SocketSampler | undefined;

  constructor(
    private readonly group: ProcessGroup,
    private readonly tools: () => Promise<WiresharkTools>,
    private readonly runtimeDir: RuntimeDir,
    readonly limits: SessionLimits = DEFAULT_SESSION_LIMITS,
    services: {
      readonly logger?: Logger | undefined;
      /** Records which process owns each socket while a session runs; none: no attribution. */
      readonly sampler?: SocketSampler | undefined;
    } = {},
  ) {
    this.logger = services.logger ?? new Logger();
    this.sampler = services.sampler;
    this.interfaces = new InterfaceCatalog(async (signal) =>
      listLocalInterfaces(group, (await tools()).require('dumpcap'), signal),
    );
  }

  /** Starts a capture and resolves once dumpcap reports that capture has begun. */
  async start(req: StartRequest): Promise<Session> {
    const id = req.sessionName ?? `capture_${Date.now()}_${randomBytes(6).toString('hex').slice(0, 9)}`;
    if (req.sessionName !== undefined && !NAME_PATTERN.test(req.sessionName)) {
      throw new UserError(
        `sessionName ${JSON.stringify(req.sessionName)} is not allowed: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter, digit or '_'.`,
      );
    }
    requirePlainText(req.interface, 'interface');
    requirePlainText(req.captureFilter, 'captureFilter');
    // The name and the slot are taken before the first await, so concurrent starts cannot all
    // pass the checks; the reservation becomes the listed session, or is released on failure.
    const key = sessionKey(req.owner, id);
    this.reserve(id, key, req.owner);
    let launched: Launched;
    try {
      launched = await this.launch(id, key, req);
    } catch (err) {
      this.reserved.delete(key);
      throw err;
    }
    const { session, capture, ready, dumpcap, cancel } = launched;
    const onRequestAbort = (): void => cancel.abort('cancelled');
    if (req.signal?.aborted) onRequestAbort();
    else req.signal?.addEventListener('abort', onRequestAbort, { once: true });
    const begun = this.begin(session, capture, ready, dumpcap);
    const settled = begun.then(
      () => undefined,
      () => undefined,
    );
    this.starting.set(key, settled);
    try {
      await begun;
    } finally {
      req.signal?.removeEventListener('abort', onRequestAbort);
      if (this.starting.get(key) === settled) this.starting.delete(key);
    }
    return session;
  }

  /** Takes the name and a slot for a start, or says why not; synchronous, so starts cannot race. */
  private reserve(id: string, key: string, owner: string | undefined): void {
    const existing = this.sessions.get(key);
    if (existing || this.reserved.has(key)) {
      const phase = existing?.state.phase ?? 'starting';
      throw new UserError(
        `Session '${id}' already exists (${phase}). Use a different session name, or ${
          phase === 'running' || phase === 'starting'
            ? 'stop the existing session'
            : 'delete it with delete_capture_session'
        }.`,
      );
    }
    const live = [...this.sessions.values()].filter(
      (s) => s.state.phase === 'running' || s.state.phase === 'starting',
    );
    const busy = live.length + this.reserved.size;
    if (busy >= this.limits.maxRunning) {
      // Name only the caller's own sessions: others' are none of its business.
      const mine = [...live, ...this.reserved.values()].filter((s) => s.owner === owner).map((s) => s.id);
      throw new UserError(
        `${plural(busy, 'capture session')} already running on this server, the most allowed at once${
          mine.length > 0
            ? ` (yours: ${mine.join(', ')}). Stop one with stop_capture_session first.`
            : '. Try again once one has stopped.'
        }`,
      );
    }
    this.reserved.set(key, { id, owner });
  }

  /**
   * Checks the request and starts dumpcap for a reserved id; the session is listed (phase
   * 'starting') from the moment dumpcap runs, so a start that waits on its interface can be seen,
   * stopped and deleted.
   */
  private async launch(id: string, key: string, req: StartRequest): Promise<Launched> {
    const used = await this.bytesUsed();
    const room = this.limits.totalBytes - used;
    if (room < MIN_FILE_BYTES) {
      throw new UserError(
        `Capture files already take ${formatBytes(used)} of the ${formatBytes(this.limits.totalBytes)} allowed. Delete sessions you no longer need with delete_capture_session (keep a copy first with stop_capture_session's saveTo).`,
      );
    }
    const maxFileBytes = Math.min(req.maxFileBytes, room);
    if (req.remote !== undefined) return this.launchRemote(id, key, req, maxFileBytes);

    const tools = await this.tools();
    const dumpcap = tools.require('dumpcap');
    const iface = (await this.interfaces.resolve(req.interface, req.signal)).name;
    if (req.captureFilter !== undefined && req.captureFilter !== '')
      await this.checkFilterCompileTime(dumpcap, iface, req.captureFilter, req.signal);
    const file = await this.newFile(req.signal);
    const settings: SessionSettings = {
      interface: iface,
      captureFilter: req.captureFilter,
      timeout: req.timeout,
      maxPackets: req.maxPackets,
      maxFileBytes,
      snaplen: req.snaplen,
    };
    // Both records where both can be kept: dumpcap looks each packet's socket up as it captures,
    // reading the socket tables again at most every 250 ms after a miss, so it can miss short
    // connections the sampler catches, and it may attribute nothing (privileges); the sampler
    // costs little. Analysis reads the file's own record first (analysis/process-record.ts).
    const processRecord: ProcessRecordKept = {
      inFile: await dumpcapHasProcessInfo(this.group, dumpcap, versionOf(tools.status('dumpcap'))),
      sidecar: this.sampler !== undefined,
    };
    const cancel = new AbortController();
    const { capture, ready } = DumpcapCapture.launch(
      this.group,
      dumpcap,
      {
        interface: iface,
        captureFilter: req.captureFilter,
        file,
        snaplen: req.snaplen,
        maxPackets: req.maxPackets,
        durationSeconds: req.timeout,
        maxFileKB: Math.max(1, Math.floor(maxFileBytes / DUMPCAP_KB)),
        processInfo: processRecord.inFile,
      },
      { signal: cancel.signal, startTimeoutMs: CAPTURE_START_TIMEOUT_MS },
    );
    const session: Session = {
      id,
      owner: req.owner,
      key,
      settings,
      file,
      processRecord,
      startedAt: new Date(),
      state: { phase: 'starting', capture, cancel },
    };
    this.enlist(session);
    return { session, capture, ready, dumpcap, cancel };
  }

  /** A name in the private directory for a new session's capture file. */
  private async newFile(signal: AbortSignal | undefined): Promise<string> {
    const dir = await this.runtimeDir.path();
    if (signal?.aborted) throw abortError();
    return `${dir}/capture-${++this.counter}-${randomBytes(4).toString('hex')}.pcapng`;
  }

  /** Lists a starting session in place of its reservation: in one step, so the slot is never free nor counted twice. */
  private enlist(session: Session): void {
    this.reserved.delete(session.key);
    this.sessions.set(session.key, session);
    this.changed(session);
  }

  /**
   * Starts a capture on other hosts over SSH (remote-capture.ts). The filter is checked here first:
   * its characters (it passes through the host's shell) and that libpcap compiles it.
   */
  private async launchRemote(
    id: string,
    key: string,
    req: StartRequest,
    maxFileBytes: number,
  ): Promise<Launched> {
    const hosts = checkRemoteHosts(req.remote ?? []);
    const tools = await this.tools();
    const remoteTools = await locateRemoteTools(this.group, tools);
    if (req.captureFilter !== undefined && req.captureFilter !== '') {
      checkRemoteFilter(req.captureFilter);
      await this.compileFilter(remoteTools.dumpcap, req.captureFilter, req.signal);
    }
    const file = await this.newFile(req.signal);
    const settings: SessionSettings = {
      interface: hosts.map((h) => `${h.interface} on ${hostText(h)}`).join(', '),
      captureFilter: req.captureFilter,
      timeout: req.timeout,
      maxPackets: req.maxPackets,
      maxFileBytes,
      snaplen: req.snaplen,
      remote: hosts,
    };
    const cancel = new AbortController();
    // The limits are shared evenly among the hosts, so the session stays within them.
    const { capture, ready } = await RemoteCapture.launch(
      this.group,
      remoteTools,
      {
        hosts,
        captureFilter: req.captureFilter,
        file,
        snaplen: req.snaplen,
        maxPackets: Math.max(1, Math.ceil(req.maxPackets / hosts.length)),
        durationSeconds: req.timeout,
        maxFileKB: Math.max(1, Math.floor(maxFileBytes / hosts.length / DUMPCAP_KB)),
      },
      cancel.signal,
    );
    const session: Session = {
      id,
      owner: req.owner,
      key,
      settings,
      file,
      // The socket records are this machine's: they say nothing of another host's programs.
      processRecord: { inFile: false, sidecar: false, remote: true },
      remote: capture,
      startedAt: new Date(),
      state: { phase: 'starting', capture, cancel },
    };
    this.enlist(session);
    return { session, capture, ready, dumpcap: remoteTools.dumpcap, cancel };
  }

  /** Refuses a capture filter libpcap cannot compile, with its words (for a remote capture's filter). */
  private async compileFilter(
    dumpcap: string,
    filter: string,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const result = await this.group.run({
      command: dumpcap,
      args: ['-i', loopbackName(), '-f', filter, '-d'],
      timeoutMs: CAPTURE_FILTER_COMPILE_TIMEOUT_MS,
      limited: false,
      signal,
      onStdout: () => 'continue',
    });
    if (signal?.aborted) throw abortError();
    if (result.timedOut)
      throw new UserError(
        `captureFilter took longer than ${CAPTURE_FILTER_COMPILE_TIMEOUT_MS / 1000} s to compile: simplify it; nothing was started.`,
      );
    // dumpcap -d exits 0 even for a filter it cannot compile; its stderr says so.
    if (result.exitCode !== 0 || /Invalid capture filter|isn't a valid capture filter/.test(result.stderr)) {
      const why =
        /\(([^)]*)\)\.?\s*$/m.exec(/isn't a valid capture filter.*$/m.exec(result.stderr)?.[0] ?? '')?.[1] ??
        result.stderr.trim().split('\n').slice(-2).join(' ');
      throw new UserError(
        `captureFilter ${JSON.stringify(filter)} is not a valid capture filter: ${why}. Capture filters use BPF syntax (e.g. "tcp port 443", "host 10.0.0.5 and not port 22"); nothing was started.`,
      );
    }
  }

  /**
   * Refuses a capture filter that libpcap cannot compile within CAPTURE_FILTER_COMPILE_TIMEOUT_MS
   * (its optimizer can take minutes of CPU over a few KB), saying whether the filter or a busy
   * machine was the cause.
   */
  private async checkFilterCompileTime(
    dumpcap: string,
    iface: string,
    filter: string,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const timed = await timeFilterCompile(this.group, dumpcap, iface, filter, signal);
    if (timed.kind === 'inTime') return;
    const bound = CAPTURE_FILTER_COMPILE_TIMEOUT_MS / 1000;
    // A compile that got less than a fifth of the time as CPU was starved, not slow.
    if (timed.cpuSeconds !== undefined && timed.cpuSeconds < bound / 5) {
      throw new UserError(
        `captureFilter could not be compiled within ${bound} s because the machine is busy (dumpcap got ${timed.cpuSeconds.toFixed(2)} s of CPU); nothing was started. Try again shortly.`,
      );
    }
    throw new UserError(
      `captureFilter took longer than ${bound} s to compile: simplify it; nothing was started. libpcap's optimizer slows down steeply with many alternatives: use ranges ("portrange 1-541", "net 10.0.0.0/8") instead of long "or" lists, or capture more and narrow it with displayFilter when reading.`,
    );
  }

  /** Waits for capture to begin; a start that does not is removed with its dumpcap and file. */
  private async begin(
    session: Session,
    capture: Capture,
    ready: Promise<void>,
    dumpcap: string,
  ): Promise<void> {
    const { id, settings } = session;
    try {
      await ready;
    } catch (err) {
      const failure = await this.startFailure(session, err, dumpcap);
      // Anyone still holding the session (a wait, a stop) sees it ended.
      session.state = {
        phase: 'failed',
        error: failure.message,
        endedAt: new Date(),
        packets: 0,
        bytes: 0,
      };
      if (this.sessions.get(session.key) === session) this.sessions.delete(session.key);
      await rm(session.file, { force: true });
      this.changed(session);
      throw failure;
    }
    session.startedAt = new Date();
    session.state = { phase: 'running', capture };
    // Only a capture on this machine: a remote one's processes are the hosts', not this machine's.
    const recording =
      this.sampler && session.processRecord.sidecar && ProcessRecording.start(this.sampler, session.file);
    if (recording) this.recordings.set(session.key, recording);
    this.logger.info(
      `capture session ${id} started on ${settings.interface}${settings.captureFilter ? ` with filter "${settings.captureFilter}"` : ''} (dumpcap pid ${capture.pid ?? '?'})`,
      session,
    );
    this.settling.set(
      session.key,
      capture.ended.then((end) => this.settle(session, end, dumpcap)),
    );
    this.changed(session);
  }

  /** What the start call answers when capture did not begin. */
  private async startFailure(session: Session, err: unknown, dumpcap: string): Promise<Error> {
    const { id, settings } = session;
    const why: unknown = session.state.phase === 'starting' ? session.state.cancel.signal.reason : undefined;
    if (why === 'cancelled') return abortError();
    if (why === 'stopped' || why === 'deleted') {
      return new UserError(
        `Session '${id}' was ${why} before capture began (dumpcap was still waiting for interface "${settings.interface}"); nothing was captured. Start it again with start_capture_session.`,
      );
    }
    if (!(err instanceof CaptureStartError)) return err instanceof Error ? err : new Error(String(err));
    if (settings.remote !== undefined)
      return new UserError(
        `The capture did not start on ${settings.remote.length === 1 ? 'the host' : 'any of the hosts'}, so nothing was kept:\n${err.message}`,
      );
    if (err.kind === 'startTimeout') {
      return new UserError(
        `The capture did not start: interface "${settings.interface}" did not start capturing within ${CAPTURE_START_TIMEOUT_MS / 1000} s, so dumpcap was stopped and nothing was kept. Check with list_interfaces that the interface is up, then try again.`,
      );
    }
    return new UserError(
      captureFailureMessage(err.message, {
        interface: settings.interface,
        captureFilter: settings.captureFilter,
        dumpcapPath: dumpcap,
        interfaces: await this.interfacesForAdvice(),
        problem: err.kind === 'badFilter' ? 'badFilter' : undefined,
      }),
    );
  }

  /** Gives up a start that has not begun capturing; resolves once it is removed. */
  private async cancelStart(session: Session, why: StartCancel): Promise<void> {
    if (session.state.phase === 'starting') session.state.cancel.abort(why);
    await this.starting.get(session.key);
  }

  /** Calls `listener` when a session appears, ends or is deleted; the returned function stops it. */
  onChange(listener: (session: Session) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(session: Session): void {
    for (const listener of this.listeners) {
      try {
        listener(session);
      } catch {
        // A listener that fails (a client gone) must not break the session's bookkeeping.
      }
    }
  }

  /** `owner`'s session `id`; another owner's is not there. */
  get(id: string, owner: string | undefined): Session | undefined {
    return this.sessions.get(sessionKey(owner, id));
  }

  /** `owner`'s session, or a UserError that lists `owner`'s sessions (and no one else's). */
  require(id: string, owner: string | undefined): Session {
    const session = this.get(id, owner);
    if (session) return session;
    const ids = this.listSync(owner).map((s) => s.id);
    throw new UserError(
      `No session with ID '${id}'. ${
        ids.length === 0
          ? 'There are no capture sessions; start one with start_capture_session.'
          : `Current sessions: ${ids.join(', ')}. Use list_capture_sessions to see them.`
      }`,
    );
  }

  /** Stops a running session (or takes one that stopped by itself) and returns it settled. */
  async stop(id: string, owner: string | undefined): Promise<Session> {
    const session = this.require(id, owner);
    if (session.state.phase === 'starting') {
      await this.cancelStart(session, 'stopped');
      throw new UserError(
        `Session '${id}' had not begun capturing yet (dumpcap was waiting for interface "${session.settings.interface}"), so there are no packets: its start is cancelled and the session removed.`,
      );
    }
    if (session.state.phase === 'running') {
      this.stopRequested.add(session.key);
      await session.state.capture.stop();
      await this.settling.get(session.key);
    }
    return session;
  }

  /** Stops (if need be) and forgets a session, removing its capture file. */
  async delete(id: string, owner: string | undefined): Promise<Session> {
    const starting = this.require(id, owner);
    if (starting.state.phase === 'starting') {
      await this.cancelStart(starting, 'deleted');
      return starting;
    }
    const session = await this.stop(id, owner);
    this.sessions.delete(session.key);
    this.stopRequested.delete(session.key);
    this.settling.delete(session.key);
    await Promise.all([
      rm(session.file, { force: true }),
      removeSidecar(session.file),
      ...(session.remote?.hostFiles() ?? []).map((f) => rm(f, { force: true })),
    ]);
    this.changed(session);
    return session;
  }

  /**
   * Waits for a running session to stop by itself, reporting the packets captured so far every
   * second; returns early when `signal` aborts.
   */
  async waitUntilEnded(
    id: string,
    owner: string | undefined,
    signal: AbortSignal,
    progress?: ProgressSink,
  ): Promise<void> {
    const session = this.require(id, owner);
    const ended = this.settling.get(session.key) ?? Promise.resolve();
    const aborted = new Promise<void>((resolve) =>
      signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    while ((session.state.phase === 'running' || session.state.phase === 'starting') && !signal.aborted) {
      const packets = session.state.phase === 'running' ? session.state.capture.packets : 0;
      progress?.({
        progress: packets,
        total: session.settings.maxPackets,
        message: `${plural(packets, 'packet')} captured; stops at ${session.settings.timeout} s, ${session.settings.maxPackets} packets or ${formatBytes(session.settings.maxFileBytes)}`,
      });
      await Promise.race([ended, aborted, delay(1000)]);
    }
    if (signal.aborted) throw abortError();
  }

  /** Deletes every session `owner` started (an MCP session that closed). */
  async deleteOwnedBy(owner: string): Promise<void> {
    await Promise.all(this.listSync(owner).map((s) => this.delete(s.id, owner).catch(() => undefined)));
  }

  /** Copies a session's capture file (and its process sidecar) to `target`, which must not exist yet. */
  async saveCopy(session: Session, target: string): Promise<void> {
    try {
      // A sidecar already there would be taken for this capture's: refused before anything is copied.
      if (!(await exists(target)) && (await exists(sidecarPath(target))))
        throw new UserError(
          `saveTo: "${sidecarPath(target)}" already exists beside it; give a path that has none.`,
        );
      await copyFile(session.file, target, constants.COPYFILE_EXCL);
      await copySidecar(session.file, target);
    } catch (err) {
      if (err instanceof UserError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST')
        throw new UserError(`saveTo: "${target}" already exists; give a path that does not.`);
      if (code === 'ENOENT') throw new UserError(`saveTo: the folder of "${target}" does not exist.`);
      throw new UserError(`saveTo: cannot write "${target}" (${code ?? String(err)}).`);
    }
  }

  /** `owner`'s sessions as they stand, without live figures. */
  listSync(owner: string | undefined): Session[] {
    return [...this.sessions.values()].filter((s) => s.owner === owner);
  }

  async list(owner: string | undefined): Promise<SessionView[]> {
    return Promise.all(this.listSync(owner).map((s) => this.view(s)));
  }

  async view(s: Session): Promise<SessionView> {
    const now = Date.now();
    const state = s.state;
    const live = state.phase === 'running' || state.phase === 'starting';
    const bytes = live ? await bytesOf(s) : state.bytes;
    return {
      id: s.id,
      phase: state.phase,
      interface: s.settings.interface,
      captureFilter: s.settings.captureFilter ?? null,
      startedAt: s.startedAt.toISOString(),
      elapsedSeconds: Math.round(((live ? now : state.endedAt.getTime()) - s.startedAt.getTime()) / 100) / 10,
      packets: state.phase === 'running' ? state.capture.packets : live ? 0 : state.packets,
      bytes,
      reason: state.phase === 'finished' ? state.reason : null,
      error: state.phase === 'failed' ? state.error : null,
      file: s.file,
      pid: live ? (state.capture.pid ?? null) : null,
      timeout: s.settings.timeout,
      maxPackets: s.settings.maxPackets,
      maxFileBytes: s.settings.maxFileBytes,
      processRecord: processRecordText(s.processRecord),
      hosts: s.remote?.hosts() ?? null,
    };
  }

  /** Records how a capture ended, once dumpcap has exited. */
  private async settle(session: Session, end: CaptureEnd, dumpcap: string): Promise<void> {
    const endedAt = new Date();
    this.recordings.get(session.key)?.stop();
    this.recordings.delete(session.key);
    const [bytes, counted] = await Promise.all([fileSize(session.file), this.count(session.file)]);
    const packets = counted ?? end.packets;
    const requested = this.stopRequested.has(session.key);
    if (!requested && session.settings.remote !== undefined && end.error !== undefined) {
      const error = `The capture ended on every host:\n${end.error}`;
      session.state = { phase: 'failed', error, endedAt, packets, bytes };
      this.logger.warning(`capture session ${session.id} failed: ${error}`, session);
      this.changed(session);
      return;
    }
    if (!requested && (end.error !== undefined || (end.exitCode !== 0 && end.exitCode !== null))) {
      const interfaces = await this.interfacesForAdvice();
      const error = captureFailureMessage(end.error ?? `dumpcap exited with code ${end.exitCode}`, {
        interface: session.settings.interface,
        captureFilter: session.settings.captureFilter,
        dumpcapPath: dumpcap,
        interfaces,
      });
      session.state = { phase: 'failed', error, endedAt, packets, bytes };
      this.logger.warning(`capture session ${session.id} failed: ${error}`, session);
      this.changed(session);
      return;
    }
    const reason = requested ? 'stopped' : inferReason(session, packets, bytes, endedAt);
    session.state = { phase: 'finished', reason, endedAt, packets, bytes, dropped: end.dropped };
    this.changed(session);
    this.logger.info(
      `capture session ${session.id} finished (${STOP_REASON_TEXT[reason]}): ${plural(packets, 'packet')}, ${formatBytes(bytes)}`,
      session,
    );
  }

  private async count(file: string): Promise<number | undefined> {
    const tools = await this.tools();
    const capinfos = tools.status('capinfos');
    if (!capinfos.found) return undefined;
    try {
      return await countPackets(this.group, capinfos.path, file);
    } catch {
      return undefined;
    }
  }

  private async interfacesForAdvice(): Promise<LocalInterface[] | undefined> {
    try {
      return await this.interfaces.list();
    } catch {
      return undefined;
    }
  }

  private async bytesUsed(): Promise<number> {
    const sizes = await Promise.all([...this.sessions.values()].map(bytesOf));
    return sizes.reduce((a, b) => a + b, 0);
  }
}

/** Ids are unique per owner: two clients may both name a session "debug". */
function sessionKey(owner: string | undefined, id: string): string {
  return `${owner ?? ''}\u0000${id}`;
}

function inferReason(session: Session, packets: number, bytes: number, endedAt: Date): StopReason {
  const { maxPackets, maxFileBytes, timeout } = session.settings;
  if (packets >= maxPackets) return 'packetLimit';
  if (bytes >= maxFileBytes * 0.95) return 'sizeLimit';
  if (endedAt.getTime() - session.startedAt.getTime() >= timeout * 1000 - 1000) return 'timeout';
  return 'ended';
}

/** A session's bytes on disk: its file, and while a capture of several hosts runs, theirs. */
async function bytesOf(s: Session): Promise<number> {
  const hostFiles = s.remote?.hostFiles() ?? [];
  if (hostFiles.length === 0) return fileSize(s.file);
  const sizes = await Promise.all([s.file, ...hostFiles].map(fileSize));
  // Once merged, the hosts' files are removed: the session's file is then all of it.
  return sizes.reduce((a, b) => a + b, 0);
}

async function fileSize(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

/** Bytes in decimal units, as dumpcap counts them and as maxFileMB is given. */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}
