// One capture with the traffic most tests read: three HTTP requests, a DNS query and answer, and
// an HTTPS request whose secrets are in a keylog file.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { captureLoopback } from './loopback-capture.js';
import {
  close,
  dnsServer,
  httpGet,
  httpsGet,
  httpsServer,
  listen,
  makeCertificate,
  resolveA,
} from './traffic.js';
import http from 'node:http';

export interface MixedCapture {
  readonly file: string;
  readonly keylog: string;
  readonly httpPort: number;
  readonly tlsPort: number;
  readonly httpPaths: readonly string[];
  readonly tlsPath: string;
  readonly dnsName: string;
  readonly dnsAnswer: string;
}

export const DNS_HOST = '127.83.77.1';

export async function makeMixedCapture(dir: string): Promise<MixedCapture> {
  const tlsFiles = await makeCertificate(dir);
  const keylog = path.join(dir, 'keylog.txt');
  writeFileSync(keylog, '');
  const plain = http.createServer((req, res) => res.end(`hello from ${req.url ?? ''}`));
  const secure = httpsServer(tlsFiles, keylog, (req, res) => res.end(`secret answer for ${req.url ?? ''}`));
  const httpPort = await listen(plain);
  const tlsPort = await listen(secure);
  const dns = await dnsServer(DNS_HOST, 53, '10.20.30.40');
  const httpPaths = ['/alpha', '/beta', '/gamma'];
  const tlsPath = '/hidden/path?token=42';
  const dnsName = 'api.sharkmcp.test';
  try {
    const file = await captureLoopback(
      dir,
      'mixed',
      `tcp port ${httpPort} or tcp port ${tlsPort} or (udp port 53 and host ${DNS_HOST})`,
      async () => {
        for (const p of httpPaths) await httpGet(httpPort, p);
        await resolveA(DNS_HOST, dns.port, dnsName);
        await httpsGet(tlsPort, tlsPath);
      },
      // Each HTTP(S) exchange is at least a handshake, request, response and teardown; DNS is two.
      4 * 8 + 2,
    );
    return { file, keylog, httpPort, tlsPort, httpPaths, tlsPath, dnsName, dnsAnswer: '10.20.30.40' };
  } finally {
    dns.socket.close();
    await close(plain);
    await close(secure);
  }
}
