// MCP resources: every capture the server knows (capture sessions, and files calls analysed) under
// a stable URI, read as its summary and its bytes (up to a size cap); and the saved configurations.
import { readFile, stat } from 'node:fs/promises';
import {
  ProtocolError,
  ProtocolErrorCode,
  ResourceNotFoundError,
  ResourceTemplate,
} from '@modelcontextprotocol/server';
import { UserError } from '../errors.js';
import type { McpServer, ReadResourceResult, ResourceLink } from '@modelcontextprotocol/server';
import type { ResolvedSource } from '../analysis/source.js';
import { renderSummary } from '../analysis/summary/index.js';
import { ANALYSIS_TIMEOUT_MS, SUMMARY_TOP_N } from '../limits.js';
import { fileUri, sessionUri } from '../storage/known-captures.js';
import { CAPTURES_TEMPLATE } from './completions.js';
import type { Connection, ServerDeps } from './tool.js';

/** Capture bytes are included in a resource read up to this size. */
export const MAX_RESOURCE_BYTES = 8 * 1024 * 1024;
const PCAPNG = 'application/vnd.tcpdump.pcap';

/** A link to the capture an answer is about; a file becomes a known capture. */
export function captureLink(deps: ServerDeps, source: ResolvedSource): ResourceLink {
  if (source.sessionId !== undefined) {
    return {
      type: 'resource_link',
      uri: sessionUri(source.sessionId),
      name: `session ${source.sessionId}`,
      mimeType: PCAPNG,
    };
  }
  const known = deps.captures.addFile(source.file, deps.sessions.owner);
  return { type: 'resource_link', uri: known.uri, name: known.name, mimeType: PCAPNG };
}

/**
 * A read that fails for a reason the client can act on (a capture damaged or gone since it was
 * analysed) answers with that reason, not as an internal error.
 */
function answerable<A extends unknown[]>(
  read: (uri: URL, ...rest: A) => Promise<ReadResourceResult>,
): (uri: URL, ...rest: A) => Promise<ReadResourceResult> {
  return async (uri, ...rest) => {
    try {
      return await read(uri, ...rest);
    } catch (err) {
      if (err instanceof UserError)
        throw new ProtocolError(ProtocolErrorCode.InvalidParams, err.message, {
          uri: uri.href,
          reason: 'unreadable',
        });
      throw err;
    }
  };
}

/** Where the whole tool reference is: every tool's and parameter's full description. */
export const REFERENCE_URI = 'sharkmcp://reference/tools';

export function registerResources(
  server: McpServer,
  connection: Connection,
  /** The tool reference, as Markdown (the README's, from the registry). */
  reference: () => string,
): void {
  // tools/list says each tool and parameter briefly; the whole of what they do is read here, once.
  server.registerResource(
    'reference',
    REFERENCE_URI,
    {
      title: 'Tool reference',
      description:
        "Every tool's and parameter's full description, as Markdown: what tools/list says briefly.",
      mimeType: 'text/markdown',
    },
    (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/markdown', text: reference() }] }),
  );

  server.registerResource(
    'captures',
    new ResourceTemplate(CAPTURES_TEMPLATE, {
      list: (ctx) => {
        const deps = connection.depsFor(ctx);
        return {
          resources: [
            // A session that failed, or has not begun capturing, has no capture to read yet.
            ...deps.sessions.listSync().flatMap((s) =>
              s.state.phase === 'failed' || s.state.phase === 'starting'
                ? []
                : [
                    {
                      uri: sessionUri(s.id),
                      name: `session ${s.id}`,
                      mimeType: PCAPNG,
                      description: `capture session on ${s.settings.interface}, ${s.state.phase}`,
                    },
                  ],
            ),
            ...deps.captures
              .allFiles(deps.sessions.owner)
              .map((f) => ({ uri: f.uri, name: f.name, mimeType: PCAPNG, description: f.file })),
          ],
        };
      },
    }),
    {
      title: 'Captures',
      description: 'Capture sessions and the capture files analysed: a summary, and the bytes of small ones.',
      mimeType: PCAPNG,
    },
    answerable(async (uri, variables, ctx): Promise<ReadResourceResult> => {
      const deps = connection.depsFor(ctx);
      const kind = String(variables['kind'] ?? '');
      const id = decodeURIComponent(String(variables['id'] ?? ''));
      let file: string | undefined;
      let label = id;
      let live = false;
      if (kind === 'session') {
        const session = deps.sessions.get(id);
        if (session && session.state.phase !== 'failed' && session.state.phase !== 'starting') {
          file = session.file;
          label = `session '${id}'`;
          live = session.state.phase === 'running';
        }
      } else if (kind === 'file') {
        file = deps.captures.fileByUri(fileUri(id), deps.sessions.owner)?.file;
      }
      // The SDK's "resource not found": -32602 with the URI in its data on every revision (the
      // 2026-07-28 spec's code; the SDK rewrites the 2025 code, -32002, to it).
      if (file === undefined) {
        throw new ResourceNotFoundError(
          uri.href,
          `No capture at ${uri.href}: list resources to see the captures there are (a file becomes one once a tool has analysed it).`,
        );
      }
      // One read is one call in the queue for tshark slots, like a tool call.
      const summary = await deps.calls.withinCall(undefined, () =>
        deps.summarizer.summarize(
          { file, topN: SUMMARY_TOP_N.default, timeoutMs: ANALYSIS_TIMEOUT_MS, live },
          ctx.mcpReq.signal,
        ),
      );
      const size = (await stat(file)).size;
      const contents: ReadResourceResult['contents'] = [
        { uri: uri.href, mimeType: 'text/plain', text: renderSummary(label, summary, summary.warnings) },
      ];
      if (size <= MAX_RESOURCE_BYTES) {
        contents.push({ uri: uri.href, mimeType: PCAPNG, blob: (await readFile(file)).toString('base64') });
      } else {
        contents.push({
          uri: uri.href,
          mimeType: 'text/plain',
          text: `The capture is ${size.toLocaleString('en-US')} bytes, more than the ${MAX_RESOURCE_BYTES.toLocaleString('en-US')} a resource carries: read it with the analysis tools, or keep a copy with stop_capture_session's saveTo.`,
        });
      }
      return { contents };
    }),
  );

  server.registerResource(
    'configs',
    'sharkmcp://configs',
    {
      title: 'Saved configurations',
      description: 'The saved configurations (manage_config), as JSON.',
      mimeType: 'application/json',
    },
    async (uri, ctx) => ({
      contents: [
        {
          uri: uri.href,
          mimeType: 'application/json',
          text: JSON.stringify(await connection.depsFor(ctx).configs.list(), null, 2),
        },
      ],
    }),
  );
}
