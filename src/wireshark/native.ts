// SharkMCP's summary counter for tshark (native/summary-counter.c), when it was built for the
// Wireshark that is here: it adds up a summary's statistics inside tshark instead of a line per
// packet and filtered `-z` statistics. Built by `npm run build` when Wireshark's headers are
// installed; optional.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { buildCommand } from '../util/install-kind.js';
import { NATIVE_DIR } from '../util/native-helper.js';

export const NATIVE_LIBRARY = 'summary-counter.so';
export const NATIVE_SCRIPT = 'summary-counter.lua';
export const NATIVE_BUILD_FILE = 'build.json';
/** What building the counter needs, as Debian and Ubuntu package it. */
export const NATIVE_BUILD_PACKAGES = 'gcc pkg-config libwireshark-dev libglib2.0-dev';

export { NATIVE_DIR };

export interface ConversationCounter {
  readonly library: string;
  readonly script: string;
}

export type CounterStatus =
  | { readonly available: true; readonly counter: ConversationCounter; readonly wireshark: string }
  | { readonly available: false; readonly reason: string };

/**
 * The counter in `dir` if it was built for `tsharkVersion` (tap layouts may change between
 * Wireshark releases, so only the exact version is trusted), or why not.
 */
export function conversationCounter(
  tsharkVersion: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  dir = NATIVE_DIR,
): CounterStatus {
  if (env['SHARKMCP_NATIVE'] === '0') return { available: false, reason: 'SHARKMCP_NATIVE=0 turns it off.' };
  const build = path.join(dir, NATIVE_BUILD_FILE);
  if (!existsSync(build)) {
    return {
      available: false,
      reason: `it was not built (${buildCommand()} builds it when gcc, pkg-config and Wireshark's headers are installed: on Debian/Ubuntu, apt-get install ${NATIVE_BUILD_PACKAGES}).`,
    };
  }
  let wireshark: unknown;
  try {
    wireshark = (JSON.parse(readFileSync(build, 'utf8')) as { wireshark?: unknown }).wireshark;
  } catch {
    return { available: false, reason: `${build} cannot be read; run ${buildCommand()} again.` };
  }
  if (typeof wireshark !== 'string' || wireshark !== tsharkVersion) {
    return {
      available: false,
      reason: `it was built for Wireshark ${String(wireshark)}, and tshark here is ${tsharkVersion ?? 'unknown'}; run ${buildCommand()} again.`,
    };
  }
  return {
    available: true,
    wireshark,
    counter: { library: path.join(dir, NATIVE_LIBRARY), script: path.join(dir, NATIVE_SCRIPT) },
  };
}
