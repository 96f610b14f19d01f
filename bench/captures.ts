// The benchmark's captures, built here rather than downloaded: real traffic on loopback (HTTP,
// HTTPS with a keylog, DNS, a few larger downloads that TCP reassembles), captured by dumpcap, then
// enlarged by concatenating time-shifted copies with editcap and mergecap. Files are kept in a
// cache directory between runs, keyed by the recipe's version and size.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { DumpcapCapture } from '../src/capture/dumpcap.js';
import {
  close,
  dnsServer,
  httpGet,
  httpsGet,
  httpsServer,
  listen,
  makeCertificate,
  resolveA,
} from '../src/demo/traffic.js';
import { countPackets } from '../src/wireshark/capinfos.js';
import type { WiresharkTools } from '../src/wireshark/locate.js';
import type { ProcessGroup } from '../src/wireshark/process.js';

const run = promisify(execFile);
const RECIPE = 'v1';
// The loopback network the base traffic uses: engineers sharing a machine each build in their own
// /24 (SHARKMCP_BENCH_NET=127.83.82), so no capture sees another's traffic.
const NET = process.env['SHARKMCP_BENCH_NET'] ?? '127.83.78';
const HOST = `${NET}.10`;
const DNS_HOST = `${NET}.1`;

/** The loopback addresses the base's servers bind (a helper running beside another uses its own). */
export interface BenchHosts {
  readonly web: string;
  readonly dns: string;
}

export interface BenchCapture {
  readonly file: string;
  readonly keylog: string;
  readonly packets: number;
  readonly bytes: number;
}

export async function inParallel<T>(n: number, width: number, f: (i: number) => Promise<T>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < n) await f(next++);
  };
  await Promise.all(Array.from({ length: width }, lane));
}

/** About 7,300 packets of mixed loopback traffic, and its keylog. */
async function makeBase(
  group: ProcessGroup,
  tools: WiresharkTools,
  dir: string,
  hosts: BenchHosts = { web: HOST, dns: DNS_HOST },
): Promise<{ file: string; keylog: string }> {
  const { web, dns: dnsHost } = hosts;
  const file = path.join(dir, `base-${RECIPE}.pcapng`);
  const keylog = path.join(dir, `base-${RECIPE}.keys`);
  if (existsSync(file) && existsSync(keylog)) return { file, keylog };
  await writeFile(keylog, '');
  const tlsFiles = await makeCertificate(dir);
  const page = 'x'.repeat(1500);
  const big = Buffer.alloc(256 * 1024, 'b');
  const plain = http.createServer((req, res) => res.end(req.url?.startsWith('/big') ? big : page));
  const secure = httpsServer(tlsFiles, keylog, (req, res) => res.end(`secret ${req.url ?? ''}`));
  const httpAt = await listen(plain, web, 80);
  const tlsAt = await listen(secure, web, 443);
  const dns = await dnsServer(dnsHost, 53, '10.20.30.40', () => false);
  const partial = `${file}.part`;
  const capture = await DumpcapCapture.start(group, tools.require('dumpcap'), {
    interface: 'lo',
    captureFilter: `host ${web} or host ${dnsHost}`,
    file: partial,
  });
  try {
    await inParallel(500, 8, (i) => httpGet(httpAt.port, `/page/${i}`, httpAt.host));
    await inParallel(400, 8, (i) => resolveA(dnsHost, dns.port, `host${i}.bench.test`));
    await inParallel(100, 4, (i) => httpsGet(tlsAt.port, `/secret/${i}`, false, tlsAt.host));
    await inParallel(6, 2, (i) => httpGet(httpAt.port, `/big/${i}`, httpAt.host));
    // About 7,300 packets: wait (a bounded time) until dumpcap has written most of them.
    await capture.waitForPackets(7_000, 10_000);
  } finally {
    await capture.stop();
    await close(plain);
    await close(secure);
    dns.socket.close();
  }
  await rename(partial, file);
  return { file, keylog };
}

/**
 * `copies` back-to-back copies of `source`, each shifted in time past the one before, written
 * to `out` with mergecap -a (concatenate, in order).
 */
export async function concatenate(
  tools: WiresharkTools,
  source: string,
  durationSeconds: number,
  copies: number,
  out: string,
  dir: string,
): Promise<void> {
  const parts: string[] = [];
  try {
    for (let i = 0; i < copies; i++) {
      const part = path.join(dir, `part-${i}-${path.basename(out)}`);
      await run(tools.require('editcap'), ['-t', String(i * (Math.ceil(durationSeconds) + 1)), source, part]);
      parts.push(part);
    }
    await run(tools.require('mergecap'), ['-a', '-F', 'pcapng', '-w', `${out}.part`, ...parts]);
    await rename(`${out}.part`, out);
  } finally {
    await Promise.all(parts.map((p) => rm(p, { force: true })));
  }
}

export async function duration(tools: WiresharkTools, file: string): Promise<number> {
  const { stdout } = await run(tools.require('capinfos'), ['-u', '-M', '-T', '-r', file]);
  const cols = stdout.trim().split('\t');
  return Number(cols[1] ?? 0);
}

/**
 * Captures of about `sizes` packets each (the nearest whole number of copies of the base), built
 * once into `dir` and reused.
 */
export async function benchCaptures(
  group: ProcessGroup,
  tools: WiresharkTools,
  dir: string,
  sizes: readonly number[],
  hosts?: BenchHosts,
): Promise<BenchCapture[]> {
  await mkdir(dir, { recursive: true });
  const base = await makeBase(group, tools, dir, hosts);
  const basePackets = await countPackets(group, tools.require('capinfos'), base.file);
  if (!basePackets) throw new Error(`capinfos could not count the packets of ${base.file}.`);
  const baseDuration = await duration(tools, base.file);
  const out: BenchCapture[] = [];
  // Large files are built from a 20-copy block, so no file needs thousands of editcap runs.
  const blockCopies = 20;
  const block = path.join(dir, `block-${RECIPE}-${blockCopies}.pcapng`);
  for (const size of sizes) {
    const copies = Math.max(1, Math.round(size / basePackets));
    const file = path.join(dir, `bench-${RECIPE}-${copies}x.pcapng`);
    if (!existsSync(file)) {
      if (copies === 1) {
        await run(tools.require('editcap'), ['-F', 'pcapng', base.file, file]);
      } else if (copies <= blockCopies || copies % blockCopies !== 0) {
        await concatenate(tools, base.file, baseDuration, copies, file, dir);
      } else {
        if (!existsSync(block)) await concatenate(tools, base.file, baseDuration, blockCopies, block, dir);
        await concatenate(tools, block, await duration(tools, block), copies / blockCopies, file, dir);
      }
    }
    const packets = await countPackets(group, tools.require('capinfos'), file);
    const { size: bytes } = await stat(file);
    out.push({ file, keylog: base.keylog, packets: packets ?? 0, bytes });
  }
  return out;
}
