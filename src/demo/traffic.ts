// Real servers and clients on loopback, for the demo and the tests to capture: HTTP, DNS over UDP, and HTTPS with
// the TLS secrets written to a keylog file through Node's 'keylog' event.
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { appendFileSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Listens on `host`:`port`, or on 127.0.0.1 and a free port when that cannot be had (not root, or
 * taken). Tests prefer the protocol's own port: tshark picks dissectors by port first, and a free
 * port registered to some other protocol would hide HTTP or TLS from it.
 */
export async function listen(
  server: http.Server | https.Server,
  host = '127.0.0.1',
  port = 0,
): Promise<{ host: string; port: number }> {
  const attempt = (h: string, p: number): Promise<boolean> =>
    new Promise((resolve) => {
      const onError = (): void => resolve(false);
      server.once('error', onError);
      server.listen(p, h, () => {
        server.off('error', onError);
        resolve(true);
      });
    });
  if (!(await attempt(host, port))) await attempt('127.0.0.1', 0);
  const address = server.address() as AddressInfo;
  return { host: address.address, port: address.port };
}

export async function close(server: http.Server | https.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** GET http://host:port/path with a fresh connection; resolves with the body. */
export function httpGet(
  port: number,
  urlPath: string,
  host = '127.0.0.1',
  headers: Record<string, string> = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(
        { host, port, path: urlPath, agent: false, headers: { Host: `sharkmcp.test:${port}`, ...headers } },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve(body));
        },
      )
      .on('error', reject);
  });
}

/** A self-signed certificate for localhost, made with openssl in `dir`. */
export async function makeCertificate(dir: string): Promise<{ key: Buffer; cert: Buffer }> {
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '2',
    '-subj',
    '/CN=localhost',
  ]);
  return { key: readFileSync(key), cert: readFileSync(cert) };
}

/** An HTTPS server whose TLS secrets go to `keylogFile`. */
export function httpsServer(
  tlsFiles: { key: Buffer; cert: Buffer },
  keylogFile: string,
  handler: http.RequestListener,
): https.Server {
  const server = https.createServer({ key: tlsFiles.key, cert: tlsFiles.cert }, handler);
  server.on('keylog', (line: Buffer) => appendFileSync(keylogFile, line));
  return server;
}

export function httpsGet(port: number, urlPath: string, verify = false, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    https
      .get({ host, port, path: urlPath, agent: false, rejectUnauthorized: verify }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

/**
 * A DNS server on UDP that answers every A query with `address`. It builds its answer from the
 * query's own bytes (header and question copied, one answer added): traffic for tshark to read.
 */
export async function dnsServer(
  host: string,
  port: number,
  address: string,
  /** When it returns true for the queried name's presence, the answer is NXDOMAIN instead. */
  failing: () => boolean = () => false,
): Promise<{ socket: dgram.Socket; port: number }> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (query, peer) => {
    const questionEnd = findQuestionEnd(query);
    const header = Buffer.from(query.subarray(0, 12));
    if (failing()) {
      header.writeUInt16BE(0x8183, 2); // response, recursion desired and available, NXDOMAIN
      header.writeUInt16BE(0, 6);
      header.writeUInt16BE(0, 8);
      header.writeUInt16BE(0, 10);
      socket.send(Buffer.concat([header, query.subarray(12, questionEnd)]), peer.port, peer.address);
      return;
    }
    header.writeUInt16BE(0x8180, 2); // response, recursion desired and available, no error
    header.writeUInt16BE(1, 6); // one answer
    header.writeUInt16BE(0, 8);
    header.writeUInt16BE(0, 10);
    const answer = Buffer.alloc(16);
    answer.writeUInt16BE(0xc00c, 0); // name: pointer to the question's name
    answer.writeUInt16BE(1, 2); // type A
    answer.writeUInt16BE(1, 4); // class IN
    answer.writeUInt32BE(60, 6); // TTL
    answer.writeUInt16BE(4, 10);
    address.split('.').forEach((octet, i) => answer.writeUInt8(Number(octet), 12 + i));
    socket.send(Buffer.concat([header, query.subarray(12, questionEnd), answer]), peer.port, peer.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => resolve());
  });
  return { socket, port: socket.address().port };
}

function findQuestionEnd(query: Buffer): number {
  let at = 12;
  while (at < query.length && query[at] !== 0) at += (query[at] ?? 0) + 1;
  return at + 1 + 4;
}

export async function resolveA(serverHost: string, serverPort: number, name: string): Promise<string[]> {
  const resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([`${serverHost}:${serverPort}`]);
  return resolver.resolve4(name);
}

/** A UDP port on 127.0.0.1 that nothing listens on (bound once, then released). */
export async function freeUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}
