// A DNS query from a source port the test picks. Node's resolver (c-ares) takes a random source port
// for each query, and among a thousand queries some share one: tshark then makes them one UDP
// stream, whose history reaches far back in the capture. A test that needs each query to be its
// own stream sends it from a port of its own.
import dgram from 'node:dgram';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * One A query for `name` to `server`:`port`, sent from `localPort` (below the kernel's ephemeral
 * range, so no other socket takes it), waiting up to 2 s for the answer.
 */
export async function queryFromPort(
  server: string,
  port: number,
  name: string,
  localPort: number,
): Promise<void> {
  const socket = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(localPort, '0.0.0.0', () => resolve());
    });
    const header = Buffer.alloc(12);
    header.writeUInt16BE(localPort & 0xffff, 0); // the transaction ID
    header.writeUInt16BE(0x0100, 2); // a standard query, recursion desired
    header.writeUInt16BE(1, 4); // one question
    const labels = name
      .split('.')
      .filter((l) => l !== '')
      .map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')]));
    const question = Buffer.concat([...labels, Buffer.from([0, 0, 1, 0, 1])]); // end, type A, class IN
    const answered = new Promise<void>((resolve) => socket.once('message', () => resolve()));
    socket.send(Buffer.concat([header, question]), port, server);
    await Promise.race([answered, delay(2000)]);
  } finally {
    socket.close();
  }
}
