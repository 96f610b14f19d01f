// Builds SharkMCP's native parts from native/*.c into dist/native: the summary counter for tshark
// (for the Wireshark version whose headers are installed, recorded beside it), and on Linux the
// process sampler's socket watcher and the ring-drain watch. All optional: without a C compiler,
// pkg-config or Wireshark's headers, each part says what is missing and the server does without
// it (summaries stay exact, from per-packet lines, about twice as slow on large captures). Run by
// `npm run build` in a clone, at install from the npm package (postinstall), and by
// `sharkmcp setup`.
import { execFile } from 'node:child_process';
import { accessSync, constants, copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { OWN_PACKAGE } from '../util/package-root.js';
import {
  NATIVE_BUILD_FILE,
  NATIVE_BUILD_PACKAGES,
  NATIVE_DIR,
  NATIVE_LIBRARY,
  NATIVE_SCRIPT,
} from './native.js';

export interface NativeBuild {
  /** Whether the summary counter was built. */
  readonly counter: boolean;
  /** The Wireshark version it was built for. */
  readonly wireshark?: string | undefined;
}

const execFileAsync = promisify(execFile);

async function run(command: string, args: string[]): Promise<string> {
  return (await execFileAsync(command, args, { encoding: 'utf8' })).stdout.trim();
}

/**
 * Builds everything in `sourceDir` into `outDir` (emptied first), telling each step to `say`.
 * Never throws for a missing compiler or headers: that is what the answer says.
 */
export async function buildNative(
  sourceDir: string,
  outDir: string,
  say: (message: string) => void,
  compiler = process.env['CC'] ?? 'cc',
): Promise<NativeBuild> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });

  /** One Linux helper program from <name>.c; without it, `without` says what happens. */
  const helper = async (name: string, built: string, without: string): Promise<void> => {
    const out = path.join(outDir, name);
    try {
      await run(compiler, ['-O2', '-Wall', '-Werror', '-o', out, path.join(sourceDir, `${name}.c`)]);
      say(`built ${built}`);
    } catch (err) {
      rmSync(out, { force: true });
      const stderr = (err as { stderr?: string }).stderr ?? String(err);
      say(`skipped ${built}: ${compiler} failed; ${without}:\n${stderr.trim()}`);
    }
  };
  if (process.platform === 'linux') {
    await helper(
      'sock-diag',
      'the socket watcher (netlink sock_diag) for the process sampler',
      'the process sampler polls /proc from Node instead',
    );
    await helper(
      'ring-drain',
      "the ring-drain watch for stops (dumpcap's ring)",
      'stops wait a fixed 0.4 s instead',
    );
  }

  let wireshark: string;
  let cflags: string[];
  try {
    wireshark = await run('pkg-config', ['--modversion', 'wireshark']);
    cflags = (await run('pkg-config', ['--cflags', 'wireshark'])).split(/\s+/).filter(Boolean);
  } catch {
    say(
      `skipped the summary counter: pkg-config does not find Wireshark's headers (Debian/Ubuntu: apt-get install ${NATIVE_BUILD_PACKAGES}). Summaries stay exact, from per-packet lines.`,
    );
    return { counter: false };
  }
  try {
    await run(compiler, [
      '-O2',
      '-shared',
      '-fPIC',
      '-Wall',
      '-Werror',
      ...cflags,
      '-o',
      path.join(outDir, NATIVE_LIBRARY),
      path.join(sourceDir, 'summary-counter.c'),
    ]);
  } catch (err) {
    rmSync(path.join(outDir, NATIVE_LIBRARY), { force: true });
    const stderr = (err as { stderr?: string }).stderr ?? String(err);
    say(`skipped the summary counter: ${compiler} failed for Wireshark ${wireshark}:\n${stderr.trim()}`);
    return { counter: false, wireshark };
  }
  copyFileSync(path.join(sourceDir, 'summary-counter.lua'), path.join(outDir, NATIVE_SCRIPT));
  writeFileSync(path.join(outDir, NATIVE_BUILD_FILE), `${JSON.stringify({ wireshark }, null, 2)}\n`);
  say(`built the summary counter for Wireshark ${wireshark}`);
  return { counter: true, wireshark };
}

/**
 * `sharkmcp setup`: builds the native parts of this installed copy (from its native/ sources into
 * its dist/native). With `lenient` (the package's postinstall), nothing is ever a failure.
 * Returns the exit code.
 */
export async function runSetup(say: (message: string) => void, lenient = false): Promise<number> {
  const root = OWN_PACKAGE.root;
  const sources = root === undefined ? undefined : path.join(root, 'native');
  if (sources === undefined || !existsSync(path.join(sources, 'summary-counter.c'))) {
    say(`no native sources beside this copy of SharkMCP${root ? ` (${root})` : ''}: nothing to build.`);
    return lenient ? 0 : 1;
  }
  const parent = path.dirname(NATIVE_DIR);
  try {
    accessSync(parent, constants.W_OK);
  } catch {
    say(
      `cannot write ${NATIVE_DIR}: run sharkmcp setup as the user who installed SharkMCP (for a global install, e.g. sudo sharkmcp setup).`,
    );
    return lenient ? 0 : 1;
  }
  const built = await buildNative(sources, NATIVE_DIR, say);
  if (!built.counter && !lenient) {
    say('the summary counter was not built; SharkMCP works without it (see above for what it needs).');
  }
  return 0;
}
