#!/usr/bin/env node
// The `sharkmcp` command: serves MCP over stdio (the default), and --help / --version. One
// shutdown path runs on stdin close, SIGINT and SIGTERM; a hard-exit timer guards it.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
// Only what every run needs is imported here: the server's modules load after its tools search
// has begun (startEarly), so that `tshark --version` runs while they load, and --help, --version
// and doctor load none of them.
import { allowedDirsFromEnv } from './storage/sandbox.js';
import { parseToolsets, toolsetsAdvice, unknownToolsets } from './mcp/toolsets.js';
import { startEarly } from './server/early-start.js';
import { PACKAGE } from './version.js';

const HELP = `sharkmcp ${PACKAGE.version}: an MCP server that gives AI agents Wireshark's eyes.

Usage:
  sharkmcp              serve MCP over stdio (what MCP clients run)
  sharkmcp --http       serve MCP over Streamable HTTP at http://127.0.0.1:8931/mcp, and take
                        capture files PUT to /uploads (their id is a source for every tool)
    --host HOST         listen on HOST (anything but loopback needs --token)
    --port PORT         listen on PORT (0: any free port)
    --token SECRET      require "Authorization: Bearer SECRET" (or SHARKMCP_TOKEN)
    --shared-sessions   every client sees every capture session (default: each HTTP client
                        sees only its own, and its captures end with its MCP session)
  Both:
    --allow-dir DIR     let calls read and write in DIR too (repeatable); they may also use the
                        client's MCP roots, else the working directory, and the server's own files
    --toolsets LIST     serve only these toolsets, comma-separated: capture, analysis,
                        statistics, export, config (or SHARKMCP_TOOLSETS; default all); the
                        seed's four tools (start/stop_capture_session, analyze_pcap_file,
                        manage_config) are always served
    --max-tshark N      Wireshark analysis processes (tshark, capinfos, editcap, mergecap) at
                        once; calls beyond wait their turn (or SHARKMCP_MAX_TSHARK; default: two
                        per core, at most one per GB of memory, at least 2)
  sharkmcp demo         capture some local HTTP, DNS and TLS traffic and show what an agent reads
  sharkmcp doctor       check tshark, dumpcap, capture permission and directories (--json)
  sharkmcp setup        build the summary counter and helpers for the Wireshark here (needs
                        gcc, pkg-config and Wireshark's headers; optional, faster summaries)
  sharkmcp --version    print the version
  sharkmcp --help       print this help

Environment:
  SHARKMCP_TSHARK, SHARKMCP_DUMPCAP, SHARKMCP_CAPINFOS   paths of Wireshark's tools
  SHARKMCP_CONFIG_DIR   where saved configurations live (default: $XDG_CONFIG_HOME/sharkmcp)
  SHARKMCP_MAX_SESSIONS capture sessions running at once (default 4)
  SHARKMCP_MAX_TSHARK   Wireshark analysis processes at once, as --max-tshark
  SHARKMCP_MAX_CAPTURE_MB  all capture files together, in MB (default 2000)
  SHARKMCP_ALLOWED_DIRS directories calls may use, as --allow-dir (separated by ':')
  SHARKMCP_TOKEN        bearer token for --http
  SHARKMCP_SHARED_SESSIONS=1  as --shared-sessions
  SHARKMCP_SESSION_IDLE_MINUTES  close an HTTP session idle this long, with its captures (default 60)
  SHARKMCP_MAX_UPLOAD_MB, SHARKMCP_UPLOAD_QUOTA_MB  one capture sent to /uploads, and all of one
                        client's, in MB (defaults 1000 and 2000)
  SHARKMCP_UPLOAD_TTL_MINUTES  remove an upload this long after its last use (default 60)
  SHARKMCP_SSHDUMP, SHARKMCP_SSH  paths of Wireshark's sshdump and OpenSSH's ssh (remote capture)
  SSLKEYLOGFILE         TLS keylog used when a call names none
`;

const SHUTDOWN_GRACE_MS = 5_000;
const DEFAULT_HTTP_PORT = 8931;

function log(message: string): void {
  process.stderr.write(`sharkmcp: ${message}\n`);
}

async function main(argv: string[]): Promise<number | undefined> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        'allow-dir': { type: 'string', multiple: true },
        'max-tshark': { type: 'string' },
        http: { type: 'boolean' },
        host: { type: 'string' },
        port: { type: 'string' },
        token: { type: 'string' },
        'shared-sessions': { type: 'boolean' },
        json: { type: 'boolean' },
        postinstall: { type: 'boolean' },
        toolsets: { type: 'string' },
      },
      allowPositionals: true,
    });
  } catch (err) {
    process.stderr.write(`sharkmcp: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help || positionals[0] === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${PACKAGE.version}\n`);
    return 0;
  }
  if (positionals[0] === 'demo' && positionals.length === 1) {
    const { runDemo } = await import('./demo/demo.js');
    // The demo's server is this same program: the bundle's entry, or tsc's cli.js.
    return runDemo((text) => process.stdout.write(text), process.argv[1] ?? fileURLToPath(import.meta.url));
  }
  if (positionals[0] === 'doctor' && positionals.length === 1) {
    const { renderDoctor, runDoctor } = await import('./doctor.js');
    const report = await runDoctor();
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : renderDoctor(report));
    return report.ok ? 0 : 1;
  }
  if (positionals[0] === 'setup' && positionals.length === 1) {
    const { runSetup } = await import('./wireshark/native-build.js');
    // At install (the package's postinstall) nothing fails the install: it only says what it did.
    return runSetup((m) => process.stderr.write(`sharkmcp setup: ${m}\n`), values.postinstall === true);
  }
  if (positionals.length > 0) {
    process.stderr.write(`sharkmcp: unknown argument "${positionals[0] ?? ''}".\n\n${HELP}`);
    return 2;
  }

  const allowedDirs = [...(values['allow-dir'] ?? []), ...allowedDirsFromEnv(process.env)];
  const port = Number(values.port ?? DEFAULT_HTTP_PORT);
  const httpOptions = {
    host: values.host ?? '127.0.0.1',
    port,
    token: values.token ?? process.env['SHARKMCP_TOKEN'],
    sharedSessions: values['shared-sessions'] === true || process.env['SHARKMCP_SHARED_SESSIONS'] === '1',
    sessionIdleMs: idleMinutes(process.env['SHARKMCP_SESSION_IDLE_MINUTES']),
    log,
  };
  if (values.http) {
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      process.stderr.write(`sharkmcp: --port ${values.port ?? ''} is not a port number.\n`);
      return 2;
    }
    const { httpOptionsProblem } = await import('./server/http.js');
    const problem = httpOptionsProblem(httpOptions);
    if (problem) {
      process.stderr.write(`sharkmcp: ${problem}\n`);
      return 2;
    }
  }
  const maxTshark = values['max-tshark'] === undefined ? undefined : Number(values['max-tshark']);
  if (maxTshark !== undefined && !(Number.isInteger(maxTshark) && maxTshark > 0)) {
    process.stderr.write(
      `sharkmcp: --max-tshark ${values['max-tshark'] ?? ''} is not a positive whole number.\n`,
    );
    return 2;
  }
  // --toolsets is checked here, so a misspelt one stops the start; SHARKMCP_TOOLSETS is warned of.
  const toolsets = values.toolsets === undefined ? undefined : parseToolsets(values.toolsets);
  const unknown = unknownToolsets(toolsets ?? []);
  if (unknown.length > 0) {
    process.stderr.write(`sharkmcp: --toolsets: ${toolsetsAdvice(unknown)}\n`);
    return 2;
  }
  const early = startEarly(process.env, maxTshark);
  const { createServer } = await import('./server/create-server.js');
  const app = createServer({ allowedDirs, early, ...(toolsets && { toolsets }) });
  app.logger.add((level, message) => {
    if (level !== 'debug') log(message);
  });
  let closeTransport: () => Promise<void>;
  if (values.http) {
    const { serveHttp } = await import('./server/http.js');
    const served = await serveHttp(app, httpOptions);
    log(
      `serving MCP over Streamable HTTP at ${served.url}${httpOptions.token ? ' (bearer token required)' : ''}`,
    );
    closeTransport = () => served.close();
  } else {
    const { serveStdio } = await import('@modelcontextprotocol/server/stdio');
    const handle = serveStdio((ctx) => app.createMcpServer({ era: ctx.era }), {
      onerror: (err) => log(`transport error: ${err.message}`),
    });
    closeTransport = () => handle.close();
    process.stdin.on('end', () => shutdown('stdin closed'));
    process.stdin.on('close', () => shutdown('stdin closed'));
  }

  let shuttingDown = false;
  const shutdown = (why: string): void => {
    if (shuttingDown) return;
    shuttingDown = true;
    log(`shutting down (${why})`);
    const hardExit = setTimeout(() => process.exit(1), SHUTDOWN_GRACE_MS);
    hardExit.unref();
    void Promise.allSettled([app.close(), closeTransport()]).then(() => process.exit(0));
  };
  // One client's fault must not end the server for every client: a stray rejection is a bug to
  // report, not a reason to exit.
  process.on('unhandledRejection', (reason) => {
    log(
      `internal error, still serving (please report it): ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`,
    );
  });
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));

  for (const warning of app.warnings) log(`warning: ${warning}`);
  const tools = await app.tools;
  // A client that left at once: the tools' versions were not read, which says nothing about them.
  if (shuttingDown) return undefined;
  for (const status of tools.all()) {
    log(
      status.found
        ? `${status.name} ${status.version} at ${status.path}`
        : `${status.name}: ${status.reason}`,
    );
  }
  log(`at most ${app.processes.slots.capacity} Wireshark analysis processes at once (--max-tshark)`);
  log(`${values.http ? 'ready' : 'serving MCP on stdio'}; saved configurations in ${app.configs.filePath}`);
  return undefined;
}

/** SHARKMCP_SESSION_IDLE_MINUTES as milliseconds (fractions allowed); undefined: the default. */
function idleMinutes(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const minutes = Number(raw);
  if (Number.isFinite(minutes) && minutes > 0) return minutes * 60_000;
  log(`warning: SHARKMCP_SESSION_IDLE_MINUTES=${JSON.stringify(raw)} is not a positive number; using 60.`);
  return undefined;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: unknown) => {
    log(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
