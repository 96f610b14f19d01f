// One client's view of the capture sessions: the sessions its owner started, and nothing of any
// other client's (another's session answers as one that does not exist). Over stdio, and with
// --shared-sessions, every client has the same view: the one shared pool.
import type { ProgressSink } from '../util/progress.js';
import type { Session, SessionLimits, SessionManager, StartRequest } from './sessions.js';
import type { SessionView } from './session-view.js';

export class OwnedSessions {
  constructor(
    private readonly manager: SessionManager,
    /** The MCP session (HTTP) whose sessions these are; undefined: the shared pool. */
    readonly owner: string | undefined,
  ) {}

  get limits(): SessionLimits {
    return this.manager.limits;
  }

  start(req: Omit<StartRequest, 'owner'>): Promise<Session> {
    return this.manager.start({ ...req, owner: this.owner });
  }

  get(id: string): Session | undefined {
    return this.manager.get(id, this.owner);
  }

  require(id: string): Session {
    return this.manager.require(id, this.owner);
  }

  stop(id: string): Promise<Session> {
    return this.manager.stop(id, this.owner);
  }

  delete(id: string): Promise<Session> {
    return this.manager.delete(id, this.owner);
  }

  waitUntilEnded(id: string, signal: AbortSignal, progress?: ProgressSink): Promise<void> {
    return this.manager.waitUntilEnded(id, this.owner, signal, progress);
  }

  saveCopy(session: Session, target: string): Promise<void> {
    return this.manager.saveCopy(session, target);
  }

  listSync(): Session[] {
    return this.manager.listSync(this.owner);
  }

  list(): Promise<SessionView[]> {
    return this.manager.list(this.owner);
  }

  view(session: Session): Promise<SessionView> {
    return this.manager.view(session);
  }
}
