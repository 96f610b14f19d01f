// resources/subscribe on a 2025-era connection: a client that subscribes to a capture session's
// resource hears notifications/resources/updated as its packets arrive, at most once per interval
// however fast they come, and once more when the session ends. Any URI may be subscribed to; only
// this client's sessions ever change.
import type { McpServer } from '@modelcontextprotocol/server';
import type { SessionManager } from '../capture/sessions.js';
import { sessionUri } from '../storage/known-captures.js';

/** The shortest time between two updates of one resource. */
export const UPDATE_INTERVAL_MS = 1_000;

/**
 * Serves subscriptions for one connection; the returned function stops them (when it closes).
 * The capability is declared here, before the connection starts.
 */
export function serveSubscriptions(
  server: McpServer,
  sessions: Pick<SessionManager, 'get' | 'onChange'>,
  owner: () => string | undefined,
  intervalMs = UPDATE_INTERVAL_MS,
): () => void {
  /** Subscribed URIs, with the packet count last told for each. */
  const subscribed = new Map<string, number | undefined>();
  server.server.registerCapabilities({ resources: { subscribe: true, listChanged: true } });
  const packetsOf = (uri: string): number | undefined => {
    const id = sessionIdOf(uri);
    const session = id === undefined ? undefined : sessions.get(id, owner());
    return session?.state.phase === 'running' ? session.state.capture.packets : undefined;
  };
  // From now on: the packets already there when the client subscribed are not news.
  server.server.setRequestHandler('resources/subscribe', (request) => {
    subscribed.set(request.params.uri, packetsOf(request.params.uri));
    return {};
  });
  server.server.setRequestHandler('resources/unsubscribe', (request) => {
    subscribed.delete(request.params.uri);
    return {};
  });
  const tell = (uri: string): void => {
    if (server.isConnected()) void server.server.sendResourceUpdated({ uri }).catch(() => undefined);
  };
  // New packets are told at most once an interval.
  const timer = setInterval(() => {
    for (const [uri, told] of subscribed) {
      const packets = packetsOf(uri);
      if (packets === undefined || packets === told) continue;
      subscribed.set(uri, packets);
      tell(uri);
    }
  }, intervalMs);
  timer.unref();
  // A session that ends (or is deleted) is told at once.
  const unwatch = sessions.onChange((session) => {
    const uri = sessionUri(session.id);
    if (session.owner === owner() && subscribed.has(uri) && session.state.phase !== 'running') tell(uri);
  });
  return () => {
    clearInterval(timer);
    unwatch();
    subscribed.clear();
  };
}

/** The session id of a session resource's URI, or undefined for another URI. */
function sessionIdOf(uri: string): string | undefined {
  const prefix = sessionUri('');
  if (!uri.startsWith(prefix)) return undefined;
  try {
    return decodeURIComponent(uri.slice(prefix.length));
  } catch {
    return undefined;
  }
}
