#!/usr/bin/env node
// The `sharkmcp` command: serves MCP over stdio (the default), and --help / --version. One
// shutdown path runs on stdin close, SIGINT and SIGTERM; a hard-exit timer guards it.
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { createServer } from './server/create-server.js';
import { PACKAGE } from './version.js';

const HELP = `sharkmcp ${PACKAGE.version}: an MCP server that gives AI agents Wireshark's eyes.

Usage:
  sharkmcp              serve MCP over stdio (what MCP clients run)
  sharkmcp --version    print the version
  sharkmcp --help       print this help

Environment:
  SHARKMCP_TSHARK, SHARKMCP_DUMPCAP, SHARKMCP_CAPINFOS   paths of Wireshark's tools
  SHARKMCP_CONFIG_DIR   where saved configurations live (default: $XDG_CONFIG_HOME/sharkmcp)
  SHARKMCP_MAX_SESSIONS capture sessions running at once (default 4)
  SHARKMCP_MAX_CAPTURE_MB  all capture files together, in MB (default 2000)
  SSLKEYLOGFILE         TLS keylog used when a call names none
`;

const SHUTDOWN_GRACE_MS = 5_000;

function log(message: string): void {
  process.stderr.write(`sharkmcp: ${message}\n`);
}

async function main(argv: string[]): Promise<number | undefined> {
  const [first] = argv;
  if (first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (first === '--version' || first === '-v') {
    process.stdout.write(`${PACKAGE.version}\n`);
    return 0;
  }
  if (first !== undefined) {
    process.stderr.write(`sharkmcp: unknown argument "${first}".\n\n${HELP}`);
    return 2;
  }

  const app = createServer();
  const handle = serveStdio(() => app.createMcpServer(), {
    onerror: (err) => log(`transport error: ${err.message}`),
  });

  let shuttingDown = false;
  const shutdown = (why: string): void => {
    if (shuttingDown) return;
    shuttingDown = true;
    log(`shutting down (${why})`);
    const hardExit = setTimeout(() => process.exit(1), SHUTDOWN_GRACE_MS);
    hardExit.unref();
    void Promise.allSettled([app.close(), handle.close()]).then(() => process.exit(0));
  };
  process.stdin.on('end', () => shutdown('stdin closed'));
  process.stdin.on('close', () => shutdown('stdin closed'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));

  for (const warning of app.warnings) log(`warning: ${warning}`);
  const tools = await app.tools;
  for (const status of tools.all()) {
    log(
      status.found
        ? `${status.name} ${status.version} at ${status.path}`
        : `${status.name}: ${status.reason}`,
    );
  }
  log(`serving MCP on stdio; saved configurations in ${app.configs.filePath}`);
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
