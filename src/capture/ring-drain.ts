// Waits, before dumpcap is stopped, until the kernel has handed dumpcap every packet it held at the
// call. libpcap on Linux captures through a TPACKET_V3 ring whose blocks reach dumpcap only when
// full or when their retire timer (250 ms, dumpcap's read timeout) fires, and dumpcap drops what
// the kernel still holds when it ends. The helper native/ring-drain.c (built by `npm run build`)
// watches dumpcap's ring itself, so a stop waits for the block that holds packets and no longer,
// and not at all when the open block is empty. Where the helper is missing or cannot see a V3 ring
// (not Linux, no pidfd_getfd rights, another libpcap), the stop waits out the ring's worst case.
import { existsSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { nativeHelperPath } from '../util/native-helper.js';
import type { ProcessGroup } from '../wireshark/process.js';

/** dist/native/ring-drain. */
export const RING_DRAIN_HELPER = nativeHelperPath('ring-drain');

/**
 * Without the helper: how long packets can sit in the kernel before dumpcap sees them. A block
 * retires at most one retire timeout (250 ms) after its first packet; measured here, a packet sent
 * 200 ms before SIGTERM was always in the file and one sent right before it never was.
 */
export const KERNEL_DRAIN_MS = 400;

/**
 * The helper's own bound. A block waits at most one retire timeout (250 ms); past this, dumpcap is
 * not reading (a starved machine) and the stop goes ahead rather than hang.
 */
export const RING_DRAIN_TIMEOUT_MS = 1500;

export type DrainOutcome =
  /** Every block held at the call reached dumpcap; `blocks` held packets, after `ms`. */
  | { readonly kind: 'drained'; readonly blocks: number; readonly ms: number; readonly retireMs: number }
  /** The helper's bound passed with blocks still held. */
  | { readonly kind: 'timeout'; readonly blocks: number; readonly ms: number; readonly retireMs: number }
  /** dumpcap exited by itself first: its file is complete. */
  | { readonly kind: 'ended' }
  /** No helper, or it could not see the ring: waited KERNEL_DRAIN_MS instead. */
  | { readonly kind: 'fixedWait'; readonly reason: string };

/** Parses the helper's one line ("drained <blocks> <µs> <retire ms>", "timeout ...", "! <reason>"). */
export function parseDrainLine(line: string): DrainOutcome | undefined {
  const m = /^(drained|timeout) (\d+) (\d+) (\d+)$/.exec(line.trim());
  if (m === null) return undefined;
  return {
    kind: m[1] === 'drained' ? 'drained' : 'timeout',
    blocks: Number(m[2]),
    ms: Number(m[3]) / 1000,
    retireMs: Number(m[4]),
  };
}

/**
 * Resolves once dumpcap (process `pid`) has taken every packet its ring held at the call, or once
 * `ended` settles (dumpcap exited by itself: nothing more to wait for).
 */
export async function awaitRingDrain(
  group: ProcessGroup,
  pid: number | undefined,
  ended: Promise<unknown>,
  helper: string = RING_DRAIN_HELPER,
): Promise<DrainOutcome> {
  const fixedWait = async (reason: string): Promise<DrainOutcome> => {
    await Promise.race([ended, delay(KERNEL_DRAIN_MS)]);
    return { kind: 'fixedWait', reason };
  };
  if (pid === undefined) return fixedWait('dumpcap has no pid');
  if (process.platform !== 'linux' || !existsSync(helper)) return fixedWait('no ring-drain helper');
  const stop = new AbortController();
  let out = '';
  const run = group.run({
    command: helper,
    args: [String(pid), String(RING_DRAIN_TIMEOUT_MS)],
    timeoutMs: RING_DRAIN_TIMEOUT_MS + 1000,
    // Part of a stop: it must not queue behind analyses for a slot.
    limited: false,
    signal: stop.signal,
    killGraceMs: 100,
    onStdout: (chunk) => {
      out += chunk.toString('utf8');
      return out.length > 4096 ? 'stop' : 'continue';
    },
  });
  // dumpcap ending by itself ends the wait: its file is complete.
  void ended.then(() => stop.abort());
  let failure = 'the helper did not answer';
  try {
    await run;
  } catch (err) {
    failure = err instanceof Error ? err.message : String(err);
  }
  if (stop.signal.aborted) return { kind: 'ended' };
  const outcome = parseDrainLine(out);
  if (outcome !== undefined) return outcome;
  const said = out.trim().replace(/^! /, '');
  return fixedWait(said !== '' ? said : failure);
}
