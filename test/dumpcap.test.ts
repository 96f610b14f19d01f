// dumpcap driven in child mode on loopback: capture begins before start() returns, packets sent
// right before stop() are in the file, and dumpcap's own reasons come back for a bad filter or
// interface.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CaptureStartError, DumpcapCapture } from '../src/capture/dumpcap.js';
import { locateWiresharkTools } from '../src/wireshark/locate.js';
import { group, LOOPBACK, requireCapture, tempDir } from './helpers/loopback-capture.js';
import { tsharkFields } from './helpers/tshark.js';

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

  it('keeps every datagram sent between start() and stop()', async (t) => {
    if (!(await requireCapture(t))) return;
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const port = socket.address().port;
    const file = path.join(dir, 'udp.pcapng');
    let end;
    try {
      const capture = await DumpcapCapture.start(group, dumpcap, {
        interface: LOOPBACK,
        captureFilter: `udp port ${port}`,
        file,
      });
      for (let i = 0; i < 5; i++) {
        await new Promise<void>((resolve, reject) =>
          socket.send(`datagram-${i}`, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
        );
      }
      end = await capture.stop();
    } finally {
      socket.close();
    }
    const rows = await tsharkFields(file, ['data.data']);
    assert.deepEqual(
      rows.map((r) => Buffer.from(r[0] ?? '', 'hex').toString()),
      [0, 1, 2, 3, 4].map((i) => `datagram-${i}`),
    );
    assert.equal(end.error, undefined);
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
