// Captures made by the tests themselves: dumpcap on loopback (through the product's own capture
// module) while a test's traffic runs. Where capture is not permitted, capture tests fail under
// CI=true and skip with the reason elsewhere.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { DumpcapCapture } from '../../src/capture/dumpcap.js';
import { locateWiresharkTools } from '../../src/wireshark/locate.js';
import { ProcessGroup } from '../../src/wireshark/process.js';

export const LOOPBACK = process.platform === 'linux' ? 'lo' : 'lo0';

export const group = new ProcessGroup();

export async function tempDir(prefix = 'sharkmcp-test-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

/**
 * Captures loopback packets that match `captureFilter` while `traffic` runs; returns the file.
 * With `atLeast`, waits (a bounded time) until dumpcap has written that many packets before
 * stopping, so a loaded machine cannot cut the traffic's tail off.
 */
export async function captureLoopback(
  dir: string,
  name: string,
  captureFilter: string,
  traffic: () => Promise<void>,
  atLeast = 0,
): Promise<string> {
  const tools = await locateWiresharkTools(group);
  const file = path.join(dir, `${name}.pcapng`);
  const capture = await DumpcapCapture.start(group, tools.require('dumpcap'), {
    interface: LOOPBACK,
    captureFilter,
    file,
  });
  try {
    await traffic();
    if (atLeast > 0) await capture.waitForPackets(atLeast, 10_000);
  } finally {
    await capture.stop();
  }
  return file;
}

let probe: Promise<string | undefined> | undefined;

/** Why capture on loopback does not work here, or undefined when it does. */
export function captureUnavailable(): Promise<string | undefined> {
  probe ??= (async () => {
    try {
      const dir = await tempDir();
      await captureLoopback(dir, 'probe', 'udp port 9', () => Promise.resolve());
      await rm(dir, { recursive: true, force: true });
      return undefined;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  })();
  return probe;
}

/** Skips the test (or fails it under CI=true) when capture is not possible on this machine. */
export async function requireCapture(t: TestContext): Promise<boolean> {
  const why = await captureUnavailable();
  if (why === undefined) return true;
  if (process.env['CI'] === 'true') throw new Error(`Capture on loopback must work in CI, but: ${why}`);
  t.skip(`capture on loopback is not permitted here: ${why}`);
  return false;
}
