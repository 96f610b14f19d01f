// The server's log: events of the domain (captures starting and ending, tshark runs) go to every
// sink, which are stderr and each connected MCP client's logging notifications (the SDK filters
// those by the level the client set with logging/setLevel). Never stdout: in stdio mode it is the
// protocol's.

export const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
/** Whom an event concerns: a capture session's owner sees it, other clients do not. */
export interface LogAbout {
  readonly owner: string | undefined;
}
export type LogSink = (level: LogLevel, message: string, about?: LogAbout) => void;

export class Logger {
  private readonly sinks = new Set<LogSink>();

  /** Adds a sink; the returned function removes it. */
  add(sink: LogSink): () => void {
    this.sinks.add(sink);
    return () => this.sinks.delete(sink);
  }

  log(level: LogLevel, message: string, about?: LogAbout): void {
    for (const sink of this.sinks) {
      try {
        sink(level, message, about);
      } catch {
        // A sink that fails (a client gone) must not break the work being logged.
      }
    }
  }

  debug(message: string, about?: LogAbout): void {
    this.log('debug', message, about);
  }
  info(message: string, about?: LogAbout): void {
    this.log('info', message, about);
  }
  warning(message: string, about?: LogAbout): void {
    this.log('warning', message, about);
  }
}
