// A loopback capture where a TCP client port is used again long after: the second SYN reuses the
// ports of a connection older than any warm-up, which tshark flags "[TCP Port numbers reused]".
import net from 'node:net';
import { captureLoopback } from './loopback-capture.js';

/**
 * A capture made here where one client port serves two connections, 15 others between them: the
 * second SYN reuses the ports of a connection far older than a page's warm-up (not the file's first
 * frame, which every cut holds).
 */
export async function portReuseCapture(dir: string, host: string, client: string): Promise<string> {
  const server = net.createServer((socket) => {
    socket.on('data', () => socket.end('bye'));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as net.AddressInfo).port;
  const connect = (localPort?: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const c = net.connect({ host: host, port, localAddress: client, localPort }, () => c.write('hello'));
      c.on('data', () => c.end());
      c.on('close', () => resolve());
      c.on('error', reject);
    });
  // The server closes first, so the client's port is free again at once.
  const reused = 40000 + (process.pid % 20000);
  try {
    return await captureLoopback(
      dir,
      'reuse',
      `host ${host} and tcp port ${port}`,
      async () => {
        for (let i = 0; i < 2; i++) await connect();
        await connect(reused);
        for (let i = 0; i < 15; i++) await connect();
        await connect(reused);
        for (let i = 0; i < 3; i++) await connect();
      },
      150,
    );
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
