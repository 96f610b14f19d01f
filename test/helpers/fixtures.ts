// The traffic most tests read: three HTTP requests, a DNS query and answer, and an HTTPS request
// whose secrets are in a keylog file, from real servers and clients on loopback.
import { writeFileSync } from 'node:fs';
import http from 'node:http';
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

export const DNS_HOST = '127.83.77.1';
/** Where the HTTP and HTTPS servers listen, on their own ports 80 and 443 where that can be had. */
export const SERVICE_HOST = '127.83.77.10';

export interface MixedTraffic {
  readonly keylog: string;
  readonly httpHost: string;
  readonly httpPort: number;
  readonly tlsHost: string;
  readonly tlsPort: number;
  readonly httpPaths: readonly string[];
  readonly tlsPath: string;
  readonly dnsName: string;
  readonly dnsAnswer: string;
  /** A BPF filter that keeps exactly this traffic. */
  readonly captureFilter: string;
  /** Packets the traffic makes at the least: each HTTP(S) exchange a handshake, request, response and teardown; DNS two. */
  readonly minPackets: number;
  /** Makes the traffic once. */
  run(): Promise<void>;
  close(): Promise<void>;
}

export async function startMixedTraffic(dir: string): Promise<MixedTraffic> {
  const tlsFiles = await makeCertificate(dir);
  const keylog = path.join(dir, 'keylog.txt');
  writeFileSync(keylog, '');
  const plain = http.createServer((req, res) => res.end(`hello from ${req.url ?? ''}`));
  const secure = httpsServer(tlsFiles, keylog, (req, res) => res.end(`secret answer for ${req.url ?? ''}`));
  const { host: httpHost, port: httpPort } = await listen(plain, SERVICE_HOST, 80);
  const { host: tlsHost, port: tlsPort } = await listen(secure, SERVICE_HOST, 443);
  // DNS must be on port 53 for tshark to dissect it; if that is taken (another run of these tests),
  // close what was opened so the test file can still end, and say why.
  const dns = await dnsServer(DNS_HOST, 53, '10.20.30.40').catch(async (err: unknown) => {
    await close(plain);
    await close(secure);
    throw new Error(
      `the test DNS server cannot listen on ${DNS_HOST}:53 (${String(err)}): is another test run going?`,
    );
  });
  const httpPaths = ['/alpha', '/beta', '/gamma'];
  const tlsPath = '/hidden/path?token=42';
  const dnsName = 'api.sharkmcp.test';
  return {
    keylog,
    httpHost,
    httpPort,
    tlsHost,
    tlsPort,
    httpPaths,
    tlsPath,
    dnsName,
    dnsAnswer: '10.20.30.40',
    captureFilter: `(host ${httpHost} and tcp port ${httpPort}) or (host ${tlsHost} and tcp port ${tlsPort}) or (udp port 53 and host ${DNS_HOST})`,
    minPackets: 4 * 8 + 2,
    async run() {
      for (const p of httpPaths) await httpGet(httpPort, p, httpHost);
      await resolveA(DNS_HOST, dns.port, dnsName);
      await httpsGet(tlsPort, tlsPath, false, tlsHost);
    },
    async close() {
      dns.socket.close();
      await close(plain);
      await close(secure);
    },
  };
}

export type MixedCapture = Omit<MixedTraffic, 'run' | 'close' | 'captureFilter' | 'minPackets'> & {
  readonly file: string;
};

export async function makeMixedCapture(dir: string): Promise<MixedCapture> {
  const traffic = await startMixedTraffic(dir);
  try {
    const file = await captureLoopback(
      dir,
      'mixed',
      traffic.captureFilter,
      () => traffic.run(),
      traffic.minPackets,
    );
    return { ...traffic, file };
  } finally {
    await traffic.close();
  }
}
