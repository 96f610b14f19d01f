// Builds SharkMCP's summary counter for tshark (native/summary-counter.c) into dist/native, for
// the Wireshark version whose headers are installed, and records that version beside it. Optional:
// without a C compiler, pkg-config or Wireshark's headers it says what is missing and exits 0, and
// summaries count conversations from per-packet lines instead (exact too, about twice as slow).
// Also the process sampler's socket watcher (native/sock-diag.c, Linux), which needs only a C
// compiler and the kernel's headers: without them the sampler polls /proc from Node instead. And the
// ring-drain watch (native/ring-drain.c, Linux) that stops use; without it they wait a fixed 0.4 s.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  NATIVE_BUILD_FILE,
  NATIVE_BUILD_PACKAGES,
  NATIVE_LIBRARY,
  NATIVE_SCRIPT,
} from '../src/wireshark/native.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const out = path.join(root, 'dist', 'native');
const say = (message: string): void => void process.stderr.write(`build-native: ${message}\n`);

function run(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const compiler = process.env['CC'] ?? 'cc';

/** Builds one Linux helper program from native/<name>.c; without it, `without` says what happens. */
function buildHelper(name: string, built: string, without: string): void {
  const helper = path.join(out, name);
  try {
    run(compiler, ['-O2', '-Wall', '-Werror', '-o', helper, path.join(root, 'native', `${name}.c`)]);
    say(`built ${built}`);
  } catch (err) {
    rmSync(helper, { force: true });
    const stderr = (err as { stderr?: string }).stderr ?? String(err);
    say(`skipped ${built}: ${compiler} failed; ${without}:\n${stderr.trim()}`);
  }
}

if (process.platform === 'linux') {
  buildHelper(
    'sock-diag',
    'the socket watcher (netlink sock_diag) for the process sampler',
    'the process sampler polls /proc from Node instead',
  );
  buildHelper(
    'ring-drain',
    "the ring-drain watch for stops (dumpcap's ring)",
    'stops wait a fixed 0.4 s instead',
  );
}

let wireshark: string;
let cflags: string[];
try {
  wireshark = run('pkg-config', ['--modversion', 'wireshark']);
  cflags = run('pkg-config', ['--cflags', 'wireshark']).split(/\s+/).filter(Boolean);
} catch {
  say(
    `skipped: pkg-config does not find Wireshark's headers (Debian/Ubuntu: apt-get install ${NATIVE_BUILD_PACKAGES}). Summaries stay exact, from per-packet lines.`,
  );
  process.exit(0);
}
try {
  run(compiler, [
    '-O2',
    '-shared',
    '-fPIC',
    '-Wall',
    '-Werror',
    ...cflags,
    '-o',
    path.join(out, NATIVE_LIBRARY),
    path.join(root, 'native', 'summary-counter.c'),
  ]);
} catch (err) {
  rmSync(path.join(out, NATIVE_LIBRARY), { force: true });
  const stderr = (err as { stderr?: string }).stderr ?? String(err);
  say(`skipped: ${compiler} failed for Wireshark ${wireshark}:\n${stderr.trim()}`);
  process.exit(0);
}
copyFileSync(path.join(root, 'native', 'summary-counter.lua'), path.join(out, NATIVE_SCRIPT));
writeFileSync(path.join(out, NATIVE_BUILD_FILE), `${JSON.stringify({ wireshark }, null, 2)}\n`);
say(`built the summary counter for Wireshark ${wireshark}`);
