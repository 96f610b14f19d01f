// What a server starts before anything else: its process group and the search for Wireshark's
// tools (`tshark --version` and its kin take a third of a second when their versions are not
// remembered from an earlier start). Kept apart from the rest of the
// server, which takes longer than that to load, so that the command line can begin it first and
// let both run at once; the first call then finds the tools located.
import { defaultConfigDir } from '../config/config-dir.js';
import { locateWiresharkTools } from '../wireshark/locate.js';
import type { WiresharkTools } from '../wireshark/locate.js';
import { ProcessGroup } from '../wireshark/process.js';
import { defaultProcessCap } from '../wireshark/slots.js';
import { VersionMemoryFile } from '../wireshark/version-memory.js';

export interface EarlyStart {
  readonly processes: ProcessGroup;
  /** Wireshark's tools, located once at start-up. */
  readonly tools: Promise<WiresharkTools>;
  /** Problems with the settings read here (environment), to report at start-up. */
  readonly warnings: readonly string[];
}

/** Starts the process group (SHARKMCP_MAX_TSHARK unless `maxTsharkProcesses`) and locates the tools. */
export function startEarly(env: NodeJS.ProcessEnv, maxTsharkProcesses?: number): EarlyStart {
  const warnings: string[] = [];
  const processes = new ProcessGroup({
    maxProcesses:
      maxTsharkProcesses ?? positiveIntFromEnv(env, 'SHARKMCP_MAX_TSHARK', defaultProcessCap(), warnings),
  });
  // Versions remembered from earlier starts: a start runs none of the tools unless one changed.
  const memory = new VersionMemoryFile(defaultConfigDir(env));
  return { processes, tools: locateWiresharkTools(processes, env, undefined, undefined, memory), warnings };
}

/** A positive whole number from the environment, else `fallback` (with a warning when it was set). */
export function positiveIntFromEnv(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  warnings: string[],
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (Number.isInteger(n) && n > 0) return n;
  warnings.push(`${name}=${JSON.stringify(raw)} is not a positive whole number; using ${fallback}.`);
  return fallback;
}
