// compare_captures through a real MCP client: "works with curl, fails from my app" made on
// loopback (the same servers; the second client sends a header the server rejects, refuses the
// server's certificate, and meets a DNS server that answers NXDOMAIN), and a corpus pair whose
// differing protocols the MANIFEST states.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, it } from 'node:test';
import { captureLoopback, requireCapture } from './helpers/loopback-capture.js';
import { useServer } from './helpers/in-process.js';
import { corpus } from './helpers/paths.js';
import {
  close,
  dnsServer,
  httpGet,
  httpsGet,
  httpsServer,
  listen,
  makeCertificate,
  resolveA,
} from './helpers/traffic.js';

interface Difference {
  what: string;
  baseline: string;
  candidate: string;
}

describe('compare_captures', () => {
  const server = useServer();

  it('names the HTTP status, TLS outcome and DNS answer that changed', async (t) => {
    if (!(await requireCapture(t))) return;
    const dir = server.dir;
    const keylog = path.join(dir, 'compare-keylog.txt');
    writeFileSync(keylog, '');
    const api = http.createServer((req, res) => {
      res.statusCode = req.headers['x-client'] === 'my-app' ? 500 : 200;
      res.end('api');
    });
    const secure = httpsServer(await makeCertificate(dir), keylog, (_req, res) => res.end('ok'));
    let broken = false;
    const dnsHost = '127.83.77.2';
    const dns = await dnsServer(dnsHost, 53, '10.9.8.7', () => broken);
    const { host: apiHost, port: apiPort } = await listen(api, '127.83.77.13', 80);
    const { host: tlsHost, port: tlsPort } = await listen(secure, '127.83.77.13', 443);
    const filter = `(host ${apiHost} and (tcp port ${apiPort} or tcp port ${tlsPort})) or (udp port 53 and host ${dnsHost})`;
    try {
      const baseline = await captureLoopback(dir, 'works', filter, async () => {
        await httpGet(apiPort, '/api', apiHost);
        await httpsGet(tlsPort, '/', false, tlsHost);
        await resolveA(dnsHost, dns.port, 'backend.sharkmcp.test');
      });
      broken = true;
      const candidate = await captureLoopback(dir, 'fails', filter, async () => {
        await httpGet(apiPort, '/api', apiHost, { 'X-Client': 'my-app' });
        await assert.rejects(httpsGet(tlsPort, '/', true, tlsHost), /self.signed|certificate/i);
        await assert.rejects(resolveA(dnsHost, dns.port, 'backend.sharkmcp.test'), /ENOTFOUND/);
      });
      const answer = await server.mcp.call('compare_captures', {
        baseline,
        candidate,
        sslKeylogFile: keylog,
      });
      assert.equal(answer.isError, false, answer.text);
      const c = answer.structured as unknown as { http: Difference[]; tls: Difference[]; dns: Difference[] };
      assert.deepEqual(c.http, [
        {
          what: `GET sharkmcp.test:${apiPort}/api`,
          baseline: '200 OK',
          candidate: '500 Internal Server Error',
        },
        // The HTTPS request (decrypted with the keylog) was only made where the certificate was accepted.
        {
          what: `GET ${tlsHost}${tlsPort === 443 ? '' : `:${tlsPort}`}/`,
          baseline: '200 OK',
          candidate: '(none)',
        },
      ]);
      assert.deepEqual(c.dns, [
        { what: 'backend.sharkmcp.test A', baseline: 'NOERROR 10.9.8.7', candidate: 'NXDOMAIN' },
      ]);
      assert.equal(c.tls.length, 1);
      assert.match(c.tls[0]?.baseline ?? '', /^established TLS 1\.3/);
      assert.doesNotMatch(c.tls[0]?.candidate ?? '', /^established/);
      // Counted per transaction: both clients sent a GET over HTTP and a Client Hello; only the
      // first got past the certificate to send its GET over TLS, and the server answered 500 to
      // the second's HTTP GET.
      const counts = (
        answer.structured as unknown as {
          transactions: { differ: { what: string; baseline: number; candidate: number }[] };
        }
      ).transactions.differ;
      assert.deepEqual(
        counts.filter((d) => d.what.startsWith('HTTP ')),
        [
          { what: 'HTTP 200 responses', baseline: 2, candidate: 0 },
          { what: 'HTTP 500 responses', baseline: 0, candidate: 1 },
          { what: 'HTTP GET requests', baseline: 2, candidate: 1 },
        ],
      );
      assert.ok(!counts.some((d) => d.what === 'TLS Client Hello' || d.what === 'DNS queries'), answer.text);
      assert.match(
        answer.text,
        /HTTP statuses that differ \(2\):\n {2}GET sharkmcp\.test:\d+\/api: baseline 200 OK; candidate 500 Internal Server Error\n/,
      );
    } finally {
      dns.socket.close();
      await close(api);
      await close(secure);
    }
  });

  it('lists the protocols only one capture has', async (t) => {
    const google = corpus('chrissanders-packets/http_google.pcapng');
    const espn = corpus('chrissanders-packets/http_espn.pcapng');
    if (!google || !espn) return t.skip('../shared/captures is absent');
    const answer = await server.mcp.call('compare_captures', { baseline: google, candidate: espn });
    const c = answer.structured as unknown as {
      onlyInCandidate: { protocols: string[]; serverPorts: string[] };
    };
    // The MANIFEST: http_espn has dns (over udp) and http_google does not.
    assert.ok(c.onlyInCandidate.protocols.includes('dns'));
    assert.ok(c.onlyInCandidate.serverPorts.includes('udp/53'));
  });
});
