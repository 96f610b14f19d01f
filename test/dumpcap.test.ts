// dumpcap driven in child mode on loopback: capture begins before start() returns, packets sent
// right before stop() are in the file (the stop waits for dumpcap's ring, not a fixed time), and dumpcap's own reasons come back for a bad filter or
// interface.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { CaptureStartError, DumpcapCapture } from '../src/capture/dumpcap.js';
import { awaitRingDrain, KERNEL_DRAIN_MS, RING_DRAIN_HELPER } from '../src/capture/ring-drain.js';
import { locateWiresharkTools } from '../src/wireshark/locate.js';
import { group, LOOPBACK, requireCapture, tempDir } from './helpers/loopback-capture.js';
import { tsharkFields } from './helpers/tshark.js';

// This suite's own loopback addresses: other suites capture on lo at the same time.
const SENDER = '127.83.78.10';
const RECEIVER = '127.83.78.11';

describe('DumpcapCapture', () => {
  let dir = '';
  let dumpcap = '';
  before(async () => {
    dir = await tempDir();
    dumpcap = (await locateWiresharkTools(group)).require('dumpcap');
  });
  after(async () => {
    await group.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps every datagram sent between start() and stop(), the last ones right before stop()', async (t) => {
    if (!(await requireCapture(t))) return;
    // The kernel hands packets to dumpcap in blocks, on a 250 ms timer: without the wait for the
    // ring, datagrams sent just before a stop were never in the file. Several rounds, since where
    // the timer stands at the stop differs each time.
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, SENDER, resolve));
    const port = socket.address().port;
    try {
      for (let round = 0; round < 4; round++) {
        const file = path.join(dir, `udp-${round}.pcapng`);
        const capture = await DumpcapCapture.start(group, dumpcap, {
          interface: LOOPBACK,
          captureFilter: `udp and host ${RECEIVER} and port ${port}`,
          file,
        });
        // Spread over the capture so that the stop falls at a different point of the timer.
        await delay(round * 60);
        const sent = [0, 1, 2, 3, 4].map((i) => `round-${round}-datagram-${i}`);
        for (const text of sent) {
          await new Promise<void>((resolve, reject) =>
            socket.send(text, port, RECEIVER, (err) => (err ? reject(err) : resolve())),
          );
        }
        const end = await capture.stop();
        const rows = await tsharkFields(file, ['data.data']);
        assert.deepEqual(
          rows.map((r) => Buffer.from(r[0] ?? '', 'hex').toString()),
          sent,
          `round ${round}`,
        );
        assert.equal(end.error, undefined);
        if (existsSync(RING_DRAIN_HELPER))
          assert.equal(capture.lastDrain?.kind, 'drained', JSON.stringify(capture.lastDrain));
      }
    } finally {
      socket.close();
    }
  });

  it('without the ring-drain helper, a stop still waits out the ring', async () => {
    const ended = new Promise<never>(() => undefined);
    const t0 = performance.now();
    const outcome = await awaitRingDrain(group, process.pid, ended, path.join(dir, 'no-such-helper'));
    assert.equal(outcome.kind, 'fixedWait');
    assert.ok(performance.now() - t0 >= KERNEL_DRAIN_MS - 5);
  });

  it("reports dumpcap's reason for a capture filter it cannot compile", async (t) => {
    if (!(await requireCapture(t))) return;
    await assert.rejects(
      DumpcapCapture.start(group, dumpcap, {
        interface: LOOPBACK,
        captureFilter: 'tcp portx 80',
        file: path.join(dir, 'bad.pcapng'),
      }),
      (err: unknown) =>
        err instanceof CaptureStartError && err.kind === 'badFilter' && /syntax error/.test(err.message),
    );
    assert.equal(group.size, 0, 'no dumpcap is left behind');
  });

  it("reports dumpcap's reason for an interface that does not exist", async () => {
    await assert.rejects(
      DumpcapCapture.start(group, dumpcap, { interface: 'nosuch0', file: path.join(dir, 'none.pcapng') }),
      (err: unknown) => err instanceof CaptureStartError && /nosuch0/.test(err.message),
    );
    assert.equal(group.size, 0, 'no dumpcap is left behind');
  });
});
