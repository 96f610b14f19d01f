// Finds Wireshark's command-line tools once, at start-up: an environment override first
// (SHARKMCP_TSHARK and the like, never silently replaced when it is wrong), then PATH, then the
// usual install locations of each platform. Each tool's version is read once and cached.
import { access, constants, stat } from 'node:fs/promises';
import path from 'node:path';
import { ToolMissingError } from '../errors.js';
import type { ProcessGroup } from './process.js';
import { runCollect } from './process.js';
import { binaryIdentity } from './version-memory.js';
import type { VersionMemory } from './version-memory.js';

/** Every Wireshark tool the project knows; the server itself needs TOOL_NAMES. */
export const ALL_TOOL_NAMES = ['tshark', 'dumpcap', 'capinfos', 'editcap', 'mergecap', 'sharkd'] as const;
export type ToolName = (typeof ALL_TOOL_NAMES)[number];
export const TOOL_NAMES: readonly ToolName[] = ['tshark', 'dumpcap', 'capinfos'];

export type ToolStatus =
  | {
      readonly found: true;
      readonly name: ToolName;
      readonly path: string;
      /** Wireshark's version as the tool reports it, e.g. "4.0.17". */
      readonly version: string;
      readonly source: 'env' | 'path' | 'platform';
    }
  | { readonly found: false; readonly name: ToolName; readonly reason: string };

export class WiresharkTools {
  constructor(private readonly statuses: ReadonlyMap<ToolName, ToolStatus>) {}

  status(name: ToolName): ToolStatus {
    return this.statuses.get(name) ?? { found: false, name, reason: `${name} was not looked for.` };
  }

  /** The statuses of the tools that were looked for. */
  all(): ToolStatus[] {
    return [...this.statuses.values()];
  }

  /** The path of a tool that must be there, or a ToolMissingError that says how to install it. */
  require(name: ToolName): string {
    const s = this.status(name);
    if (!s.found) throw new ToolMissingError(name, s.reason);
    return s.path;
  }
}

export function envVarFor(name: ToolName): string {
  return `SHARKMCP_${name.toUpperCase()}`;
}

export function installAdvice(): string {
  switch (process.platform) {
    case 'darwin':
      return 'Install Wireshark (brew install --cask wireshark, or brew install wireshark for the command-line tools only).';
    case 'win32':
      return 'Install Wireshark from wireshark.org (it includes tshark, dumpcap and capinfos) or: winget install WiresharkFoundation.Wireshark.';
    default:
      return 'Install Wireshark\'s command-line tools: on Debian/Ubuntu "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y tshark", on Fedora "sudo dnf install wireshark-cli", on Arch "sudo pacman -S wireshark-cli".';
  }
}

function platformDirs(): string[] {
  switch (process.platform) {
    case 'darwin':
      return [
        '/opt/homebrew/bin',
        '/usr/local/bin',
        '/Applications/Wireshark.app/Contents/MacOS',
        '/usr/bin',
      ];
    case 'win32':
      return [
        process.env['ProgramFiles'] ? path.join(process.env['ProgramFiles'], 'Wireshark') : '',
        process.env['ProgramFiles(x86)'] ? path.join(process.env['ProgramFiles(x86)'], 'Wireshark') : '',
        'C:\\Program Files\\Wireshark',
      ].filter((d) => d !== '');
    default:
      return ['/usr/bin', '/usr/local/bin', '/usr/sbin', '/snap/bin'];
  }
}

function executableName(name: ToolName): string {
  return process.platform === 'win32' ? `${name}.exe` : name;
}

async function isExecutableFile(p: string): Promise<boolean> {
  try {
    const s = await stat(p);
    if (!s.isFile()) return false;
    await access(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function findInDirs(name: ToolName, dirs: readonly string[]): Promise<string | undefined> {
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = path.join(dir, executableName(name));
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** Parses the version out of a tool's `--version` banner, e.g. "TShark (Wireshark) 4.0.17 (...)". */
export function parseVersionBanner(banner: string): string | undefined {
  return banner.match(/\(Wireshark\)\s+(\d+\.\d+\.\d+)/)?.[1];
}

/** The version a tool prints, or why it printed none (stopped, timed out, or not Wireshark's). */
async function readVersion(
  group: ProcessGroup,
  toolPath: string,
): Promise<{ version?: string; why?: string }> {
  const { stdout, result } = await runCollect(group, {
    command: toolPath,
    args: ['--version'],
    timeoutMs: 15_000,
    maxBytes: 4096,
  });
  const version = parseVersionBanner(stdout) ?? parseVersionBanner(result.stderr);
  if (version !== undefined) return { version };
  if (result.timedOut) return { why: `${toolPath} did not answer --version within 15 s.` };
  // Stopped from outside: the server was shutting down (a client that left at once).
  if (result.exitSignal !== null && group.closing)
    return { why: `the server shut down before ${toolPath} answered --version.` };
  return { why: `${toolPath} did not answer --version like a Wireshark tool.` };
}

async function locateOne(
  group: ProcessGroup,
  name: ToolName,
  env: NodeJS.ProcessEnv,
  installDirs: readonly string[],
  memory: VersionMemory | undefined,
): Promise<ToolStatus> {
  const override = env[envVarFor(name)];
  let found: { path: string; source: 'env' | 'path' | 'platform' } | undefined;
  if (override !== undefined && override !== '') {
    if (!(await isExecutableFile(override))) {
      return {
        found: false,
        name,
        reason: `${envVarFor(name)} is set to "${override}", which is not an executable file. Fix or unset ${envVarFor(name)}.`,
      };
    }
    found = { path: path.resolve(override), source: 'env' };
  } else {
    const pathDirs = (env['PATH'] ?? '').split(path.delimiter).filter((d) => path.isAbsolute(d));
    const onPath = await findInDirs(name, pathDirs);
    if (onPath) found = { path: onPath, source: 'path' };
    else {
      const inPlatform = await findInDirs(name, installDirs);
      if (inPlatform) found = { path: inPlatform, source: 'platform' };
    }
  }
  if (!found) {
    return {
      found: false,
      name,
      reason: `${name} was not found on PATH or in ${installDirs.join(', ')}. ${installAdvice()} (Or set ${envVarFor(name)} to its path if it is installed elsewhere.)`,
    };
  }
  try {
    const identity = memory && (await binaryIdentity(found.path));
    const known = identity === undefined ? undefined : await memory?.recall(found.path, identity);
    const { version, why } = known !== undefined ? { version: known } : await readVersion(group, found.path);
    if (version === undefined) return { found: false, name, reason: why ?? 'no version' };
    if (identity !== undefined && known === undefined) await memory?.remember(found.path, identity, version);
    return { found: true, name, path: found.path, version, source: found.source };
  } catch (err) {
    return { found: false, name, reason: `${found.path} could not be run: ${(err as Error).message}` };
  }
}

/** Locates every tool in parallel. Never throws: a missing tool is a status that says why. */
export async function locateWiresharkTools(
  group: ProcessGroup,
  env: NodeJS.ProcessEnv = process.env,
  /** The usual install places to look in after PATH. */
  installDirs: readonly string[] = platformDirs(),
  names: readonly ToolName[] = TOOL_NAMES,
  /** Versions read at earlier starts, by binary; none: every version is asked for. */
  memory?: VersionMemory,
): Promise<WiresharkTools> {
  const statuses = await Promise.all(names.map((n) => locateOne(group, n, env, installDirs, memory)));
  await memory?.save();
  return new WiresharkTools(new Map(statuses.map((s) => [s.name, s])));
}
