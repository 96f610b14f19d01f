// What an analysis reads: a capture file path or a capture session's id (running or finished),
// so the caller never needs to know where session files live.
import type { Session } from '../capture/sessions.js';
import { UserError } from '../errors.js';
import type { FileSandbox } from '../storage/sandbox.js';
import { checkCaptureHead } from './damage.js';
import { resolveInputFile } from './input-files.js';
import type { ResolvedAnalysis } from './options.js';
import { UPLOAD_ID } from '../capture/uploads.js';

export interface ResolvedSource {
  /** Absolute real path of the capture to read. */
  readonly file: string;
  /** How answers name it: the path, or "session 'id'". */
  readonly label: string;
  readonly sessionId: string | undefined;
  /** A running session: its file is still being written. */
  readonly live: boolean;
  /** Packets dumpcap reported dropped, for a finished session that said. */
  readonly droppedByDumpcap?: number | undefined;
  /** A session captured on other hosts (start_capture_session with remote), not on this machine. */
  readonly remote?: boolean | undefined;
}

/**
 * A capture to read, and how: the TLS keylog (and what was wrong with the one named), the caller's
 * decode-as rules and preferences.
 */
export interface CaptureRead {
  readonly source: ResolvedSource;
  readonly keylog: Pick<ResolvedAnalysis, 'keylogFile' | 'warnings'> &
    Partial<Pick<ResolvedAnalysis, 'dissection'>>;
}

/** Captures sent over HTTP: an upload's id leads to its file. */
export interface UploadLookup {
  file(id: string): string | undefined;
}

/** The ids start_capture_session gives (capture_<ms>_<hex>), when no sessionName is given. */
const SESSION_ID = /^capture_\d{13}_[0-9a-f]{9}$/;

export async function resolveSource(
  source: string,
  param: string,
  sessions: { get(id: string): Session | undefined },
  sandbox: FileSandbox,
  uploads?: UploadLookup,
): Promise<ResolvedSource> {
  if (UPLOAD_ID.test(source)) {
    const file = uploads?.file(source);
    if (file === undefined)
      throw new UserError(
        `${param}: there is no upload '${source}' on this server: uploads are kept for a while after their last use, then removed. Send the capture again (PUT /uploads).`,
      );
    return { file, label: `upload '${source}'`, sessionId: undefined, live: false };
  }
  const session = sessions.get(source);
  if (session) {
    if (session.state.phase === 'starting') {
      throw new UserError(
        `Capture session '${session.id}' has not begun capturing yet (dumpcap is waiting for interface "${session.settings.interface}"), so it has no packets to read. Try again once list_capture_sessions shows it running.`,
      );
    }
    if (session.state.phase === 'failed') {
      throw new UserError(
        `Capture session '${session.id}' failed, so it has no packets to read: ${session.state.error}`,
      );
    }
    // A running capture of several hosts: their files as they stand, merged.
    if (session.state.phase === 'running') await session.remote?.snapshot();
    return {
      file: session.file,
      label: `session '${session.id}'`,
      sessionId: session.id,
      live: session.state.phase === 'running',
      droppedByDumpcap: session.state.phase === 'finished' ? session.state.dropped : undefined,
      remote: session.settings.remote !== undefined,
    };
  }
  // A session id (as start_capture_session names them) that is not this client's: say that, not
  // that a file of that name is outside the allowed directories.
  if (SESSION_ID.test(source))
    throw new UserError(
      `${param}: there is no capture session '${source}' for this client. Sessions belong to the MCP connection that started them (over HTTP each client sees its own, unless the server runs with --shared-sessions); list_capture_sessions shows yours. For a saved capture, give its file's absolute path.`,
    );
  const file = await resolveInputFile(source, 'capture', param, sandbox);
  await checkCaptureHead(file);
  return { file, label: file, sessionId: undefined, live: false };
}
