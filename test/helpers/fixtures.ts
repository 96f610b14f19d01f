// The traffic most tests read: three HTTP requests, a DNS query and answer, and an HTTPS request
// whose secrets are in a keylog file, from real servers and clients on loopback.
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { captureLoopback, tempDir } from './loopback-capture.js';
import { tsharkFields } from './tshark.js';
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

/** Longest a test waits for another test's traffic to free the DNS port. */
const DNS_PORT_WAIT_MS = 120_000;

/**
 * The DNS server on DNS_HOST:53, once no other test holds that port. DNS must be on port 53 for
 * tshark to dissect it, so only one mixed traffic runs at a time, in this test file or another one
 * running beside it: the port is the lock, bound first and freed last by each.
 */
async function bindDnsPort(): Promise<Awaited<ReturnType<typeof dnsServer>>> {
  const end = Date.now() + DNS_PORT_WAIT_MS;
  for (;;) {
    try {
      return await dnsServer(DNS_HOST, 53, '10.20.30.40');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || Date.now() > end)
        throw new Error(
          `the test DNS server cannot listen on ${DNS_HOST}:53 (${String(err)}): is another test run going?`,
          { cause: err },
        );
    }
    await delay(50);
  }
}

export async function startMixedTraffic(dir: string): Promise<MixedTraffic> {
  const tlsFiles = await makeCertificate(dir);
  const keylog = path.join(dir, 'keylog.txt');
  writeFileSync(keylog, '');
  const dns = await bindDnsPort();
  const plain = http.createServer((req, res) => res.end(`hello from ${req.url ?? ''}`));
  const secure = httpsServer(tlsFiles, keylog, (req, res) => res.end(`secret answer for ${req.url ?? ''}`));
  // Free while the DNS port is ours (the one who held it closed them first).
  const { host: httpHost, port: httpPort } = await listen(plain, SERVICE_HOST, 80);
  const { host: tlsHost, port: tlsPort } = await listen(secure, SERVICE_HOST, 443);
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
      await close(plain);
      await close(secure);
      await new Promise<void>((resolve) => dns.socket.close(() => resolve()));
    },
  };
}

export type MixedCapture = Omit<MixedTraffic, 'run' | 'close' | 'captureFilter' | 'minPackets'> & {
  readonly file: string;
};

export async function makeMixedCapture(dir: string): Promise<MixedCapture> {
  const traffic = await startMixedTraffic(dir);
  try {
    return await captureTraffic(traffic, dir);
  } finally {
    await traffic.close();
  }
}

/** Captures made before one comes out clean. */
const CAPTURE_TRIES = 3;

/**
 * The traffic captured, as the tests expect it: clean TCP. A loaded machine can hold loopback
 * packets past TCP's retransmission timer, and a capture with a retransmission in it is not the
 * traffic the tests reason about (no retransmissions; ranges cut where the test meant): such a
 * capture is made again, and what was wrong said on stderr.
 */
async function captureTraffic(traffic: MixedTraffic, dir: string): Promise<MixedCapture> {
  for (let attempt = 1; ; attempt++) {
    const file = await captureLoopback(
      dir,
      attempt === 1 ? 'mixed' : `mixed-${attempt}`,
      traffic.captureFilter,
      () => traffic.run(),
      traffic.minPackets,
    );
    const trouble = await tsharkFields(file, ['frame.number', '_ws.expert.message'], {
      filter: 'tcp.analysis.flags && !tcp.analysis.window_update',
    });
    if (trouble.length === 0 || attempt === CAPTURE_TRIES) return { ...traffic, file };
    process.stderr.write(
      `test capture ${file} is not clean TCP (${trouble.map((r) => r.join(' ')).join('; ')}): capturing again\n`,
    );
  }
}

let shared: Promise<MixedCapture> | undefined;

/**
 * The mixed capture, made once and shared by the tests that only read it (never change it): once
 * per `npm test` run, in the directory that test/run.ts gives the run and removes at its end, for
 * every test file, even those running at the same time; without it (a test file run on its own),
 * once per test file, in a directory removed when the file's process exits.
 */
export function sharedMixedCapture(): Promise<MixedCapture> {
  shared ??= makeShared(process.env['SHARKMCP_TEST_RUN_DIR'] || undefined);
  return shared;
}

async function makeShared(runDir: string | undefined): Promise<MixedCapture> {
  if (runDir === undefined) {
    const dir = await tempDir('sharkmcp-mixed-');
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    return makeMixedCapture(dir);
  }
  const home = path.join(runDir, 'mixed');
  const manifest = path.join(home, 'capture.json');
  const made = async (): Promise<MixedCapture> =>
    JSON.parse(await readFile(manifest, 'utf8')) as MixedCapture;
  if (existsSync(manifest)) return made();
  // The file that first holds the DNS port makes it; the files that waited for the port find it.
  const work = await mkdtemp(path.join(runDir, 'mixed-'));
  try {
    const traffic = await startMixedTraffic(work);
    try {
      if (existsSync(manifest)) return await made();
      const capture = await captureTraffic(traffic, work);
      // Named as it will be once `work` is renamed `home`, which makes it appear whole at once.
      const moved = (p: string): string => path.join(home, path.relative(work, p));
      const record: MixedCapture = { ...capture, file: moved(capture.file), keylog: moved(capture.keylog) };
      await writeFile(path.join(work, 'capture.json'), JSON.stringify(record));
      await rename(work, home);
      return record;
    } finally {
      await traffic.close();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
