// The `process` parameter (issue 17): during a capture session made through a real MCP client,
// `curl` and a separate Node client send HTTP requests on loopback to one server. Each tool asked
// for one process answers with that process's traffic only, as the test sent it and as a direct
// tshark query counts it; follow_stream names the processes at a stream's ends and refuses a stream
// of another; a name the capture never saw, and a capture without a process record, are refused
// with what to ask instead.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { requireCapture } from './helpers/loopback-capture.js';
import { connect, useServer } from './helpers/mcp-client.js';
import { close, listen } from './helpers/traffic.js';
import { tsharkFields } from './helpers/tshark.js';

/** This suite's loopback range (127.83.74.0/24): its server, and each client's source address. */
const SERVER_HOST = '127.83.74.1';
const CURL_SOURCE = '127.83.74.10';
const NODE_SOURCE = '127.83.74.11';
const CURL_PATHS = ['/curl-a', '/curl-b', '/curl-c'];
const NODE_PATHS = ['/node-a', '/node-b'];

/** The Node client: one GET per path, one after another, each on its own connection. */
const NODE_CLIENT = `
const http = require('node:http');
const [host, port, source, ...paths] = process.argv.slice(1);
const get = (p) => new Promise((resolve, reject) => {
  const req = http.get({ host, port: Number(port), path: p, localAddress: source, agent: false }, (res) => {
    res.resume();
    res.on('end', resolve);
  });
  req.on('error', reject);
});
(async () => { for (const p of paths) await get(p); })().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
`;

function exited(child: ReturnType<typeof spawn>, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${what} exited with ${code}`))));
  });
}

interface InspectFacts {
  rows: { uri?: string; stream?: number | null; process?: string }[];
  total: number;
}

describe('the process parameter (Linux)', { skip: process.platform !== 'linux' && 'Linux only' }, () => {
  const server = useServer();

  it('narrows inspect_protocol, capture_statistics, analyze_pcap_file and follow_stream to one process', async (t) => {
    if (!(await requireCapture(t))) return;
    const { mcp, dir } = server;
    const web = http.createServer((_req, res) => setTimeout(() => res.end('ok'), 100));
    const at = await listen(web, SERVER_HOST);
    const saved = path.join(dir, 'two-clients.pcapng');
    const curlPids: number[] = [];
    let nodePid: number | undefined;
    try {
      const started = await mcp.call('start_capture_session', {
        interface: 'lo',
        captureFilter: `host ${SERVER_HOST}`,
        timeout: 60,
        sessionName: 'two-clients',
      });
      assert.equal(started.isError, false, started.text);
      const node = spawn(
        process.execPath,
        ['-e', NODE_CLIENT, SERVER_HOST, String(at.port), NODE_SOURCE, ...NODE_PATHS],
        { stdio: ['ignore', 'ignore', 'inherit'] },
      );
      nodePid = node.pid;
      const curls = async (): Promise<void> => {
        for (const p of CURL_PATHS) {
          const child = spawn(
            'curl',
            [
              '-s',
              '-o',
              '/dev/null',
              '--max-time',
              '10',
              '--interface',
              CURL_SOURCE,
              `http://${SERVER_HOST}:${at.port}${p}`,
            ],
            { stdio: 'ignore' },
          );
          if (child.pid !== undefined) curlPids.push(child.pid);
          await exited(child, 'curl');
        }
      };
      await Promise.all([curls(), exited(node, 'the Node client')]);
      await delay(200); // the last closes reach the capture
      const stopped = await mcp.call('stop_capture_session', { sessionId: 'two-clients', saveTo: saved });
      assert.equal(stopped.isError, false, stopped.text);
    } finally {
      await close(web);
    }
    assert.ok(nodePid !== undefined);

    // inspect_protocol: exactly the requests each client sent, on the session and the saved copy.
    for (const source of ['two-clients', saved]) {
      const curl = await mcp.call('inspect_protocol', { source, kind: 'http', process: 'curl' });
      assert.equal(curl.isError, false, curl.text);
      const curlRows = (curl.structured as unknown as InspectFacts).rows;
      assert.deepEqual(
        curlRows.map((r) => r.uri).sort(),
        [...CURL_PATHS].sort(),
        `${source}: curl's requests`,
      );
      assert.match(
        curl.text,
        new RegExp(`^Process: curl \\(pids ${[...curlPids].sort((a, b) => a - b).join(', ')}\\)$`, 'm'),
      );
      assert.equal(curl.text.match(/^Process record: /gm)?.length, 1, 'the record is named once');
      assert.match(
        curl.text,
        /^Display Filter: none$/m,
        "the header shows the caller's filter, not the joined one",
      );
      const byPid = await mcp.call('inspect_protocol', { source, kind: 'http', process: nodePid });
      assert.equal(byPid.isError, false, byPid.text);
      assert.deepEqual(
        (byPid.structured as unknown as InspectFacts).rows.map((r) => r.uri).sort(),
        [...NODE_PATHS].sort(),
      );
      assert.match(byPid.text, new RegExp(`^Process: node \\(pid ${nodePid}\\)$`, 'm'));
    }

    // Digest rows carry the process of their packet's ends; a capture without a record has no column.
    const digest = await mcp.call('inspect_protocol', { source: saved, kind: 'http' });
    assert.equal(digest.isError, false, digest.text);
    const digestFacts = digest.structured as unknown as InspectFacts & { columns: string[] };
    assert.ok(digestFacts.columns.includes('process'), 'a process column');
    assert.equal(digestFacts.rows.length, CURL_PATHS.length + NODE_PATHS.length);
    for (const row of digestFacts.rows) {
      const owner = CURL_PATHS.includes(String(row.uri))
        ? `curl\\[(${curlPids.join('|')})\\]`
        : `node\\[${nodePid}\\]`;
      assert.match(String(row.process), new RegExp(`^${owner} → node\\[${process.pid}\\]$`), digest.text);
    }
    const health = await mcp.call('inspect_protocol', { source: saved, kind: 'tcp_health' });
    const healthRows = (health.structured as unknown as InspectFacts).rows;
    assert.equal(healthRows.length, CURL_PATHS.length + NODE_PATHS.length);
    assert.ok(
      healthRows.every((r) =>
        new RegExp(`^(curl|node)\\[\\d+\\] → node\\[${process.pid}\\]$`).test(String(r.process)),
      ),
      JSON.stringify(healthRows.map((r) => r.process)),
    );

    // capture_statistics: the packets of curl's connections, as tshark counts them by curl's address.
    const curlPackets = await tsharkFields(saved, ['frame.number'], { filter: `ip.addr == ${CURL_SOURCE}` });
    const allPackets = await tsharkFields(saved, ['frame.number']);
    assert.ok(curlPackets.length > 0 && curlPackets.length < allPackets.length);
    const stats = await mcp.call('capture_statistics', {
      source: saved,
      process: 'curl',
      groupBy: ['ip.src'],
    });
    assert.equal(stats.isError, false, stats.text);
    const facts = stats.structured as { packets: number; rows: Record<string, unknown>[] } | undefined;
    assert.ok(facts);
    assert.deepEqual(
      new Set(facts.rows.map((r) => r['ip.src'])),
      new Set([CURL_SOURCE, SERVER_HOST]),
      'only curl and the server it spoke to',
    );
    assert.equal(facts.packets, curlPackets.length, "every packet of curl's connections, and no other");
    assert.match(stats.text, /^Process: curl \(pids /m);

    // export_packets: curl's packets only.
    const exported = await mcp.call('export_packets', {
      source: saved,
      process: 'curl',
      saveTo: path.join(dir, 'curl-only.pcapng'),
    });
    assert.equal(exported.isError, false, exported.text);
    assert.match(exported.text, /^Process: curl \(pids /m);
    const kept = await tsharkFields(path.join(dir, 'curl-only.pcapng'), ['ip.src']);
    assert.equal(kept.length, curlPackets.length);
    assert.deepEqual(new Set(kept.map((r) => r[0])), new Set([CURL_SOURCE, SERVER_HOST]));

    // analyze_pcap_file: with the caller's filter joined, curl's requests only.
    const requests = await mcp.call('analyze_pcap_file', {
      source: saved,
      process: 'curl',
      displayFilter: 'http.request',
      outputFormat: 'fields',
      customFields: 'ip.src,http.request.uri',
    });
    assert.equal(requests.isError, false, requests.text);
    assert.match(requests.text, /^Display Filter: http\.request$/m);
    for (const p of CURL_PATHS) assert.match(requests.text, new RegExp(`${CURL_SOURCE}\\t${p}$`, 'm'));
    for (const p of NODE_PATHS) assert.doesNotMatch(requests.text, new RegExp(p));
    const badFilter = await mcp.call('analyze_pcap_file', {
      source: saved,
      process: 'curl',
      displayFilter: 'http.nosuchfield == 1',
    });
    assert.equal(badFilter.isError, true);
    assert.match(badFilter.text, /displayFilter/);
    assert.doesNotMatch(badFilter.text, /frame\.time_epoch/, "the error is about the caller's filter alone");

    // follow_stream: the owners of a stream's ends; a stream of another process refused.
    const streams = await tsharkFields(saved, ['tcp.stream', 'ip.src'], {
      filter: 'tcp.flags.syn == 1 && tcp.flags.ack == 0',
    });
    const curlStream = Number(streams.find((r) => r[1] === CURL_SOURCE)?.[0]);
    const nodeStream = Number(streams.find((r) => r[1] === NODE_SOURCE)?.[0]);
    const followed = await mcp.call('follow_stream', { source: saved, stream: curlStream, process: 'curl' });
    assert.equal(followed.isError, false, followed.text);
    assert.match(
      followed.text,
      new RegExp(`^Processes: A curl\\[(${curlPids.join('|')})\\] ↔ B node\\[${process.pid}\\]$`, 'm'),
    );
    const plain = await mcp.call('follow_stream', { source: saved, stream: nodeStream });
    assert.match(
      plain.text,
      new RegExp(`^Processes: A node\\[${nodePid}\\] ↔ B node\\[${process.pid}\\]$`, 'm'),
    );
    const refused = await mcp.call('follow_stream', { source: saved, stream: nodeStream, process: 'curl' });
    assert.equal(refused.isError, true);
    assert.match(
      refused.text,
      new RegExp(`stream ${nodeStream} is not a conversation of curl .*node\\[${nodePid}\\]`),
    );

    // A name the capture never saw: what it did see.
    const unknown = await mcp.call('inspect_protocol', { source: saved, kind: 'http', process: 'wget' });
    assert.equal(unknown.isError, true);
    t.diagnostic(`unknown process: ${unknown.text}`);
    t.diagnostic(`another process's stream: ${refused.text}`);
    t.diagnostic(`follow header: ${followed.text.split('\n').slice(0, 5).join(' | ')}`);
    const seen =
      /no process named "wget".*node \(pids ([\d, ]+); \d+ sockets\), curl \(pids [\d, ]+; 3 sockets\)/s.exec(
        unknown.text,
      );
    assert.ok(seen, unknown.text);
    const nodePids = (seen[1] ?? '').split(', ').map(Number);
    assert.ok(
      nodePids.includes(nodePid) && nodePids.includes(process.pid),
      'the pids that tell the nodes apart',
    );

    // The record lives beside the copy, not in the server: another server (a restart) reads it.
    const restarted = await connect();
    try {
      const again = await restarted.call('inspect_protocol', {
        source: saved,
        kind: 'http',
        process: 'curl',
      });
      assert.equal(again.isError, false, again.text);
      assert.deepEqual(
        (again.structured as unknown as InspectFacts).rows.map((r) => r.uri).sort(),
        [...CURL_PATHS].sort(),
        'a restarted server narrows to the same requests',
      );
    } finally {
      await restarted.close();
    }

    // A capture without a process record (a copy without its sidecar): refused, saying why.
    const bare = path.join(dir, 'bare.pcapng');
    await copyFile(saved, bare);
    for (const [tool, args] of [
      ['inspect_protocol', { kind: 'http' }],
      ['capture_statistics', {}],
      ['analyze_pcap_file', {}],
      ['follow_stream', { stream: 0 }],
      ['export_packets', { saveTo: path.join(dir, 'never.pcapng') }],
    ] as const) {
      const answer = await mcp.call(tool, { source: bare, process: 'curl', ...args });
      assert.equal(answer.isError, true, `${tool}: ${answer.text}`);
      assert.match(answer.text, /this capture has no process record/);
    }
    assert.equal(existsSync(path.join(dir, 'never.pcapng')), false, 'a refused export writes nothing');
    const bareDigest = await mcp.call('inspect_protocol', { source: bare, kind: 'http' });
    assert.equal(
      (bareDigest.structured as { columns: string[] } | undefined)?.columns.includes('process'),
      false,
    );
    const noColumn = await mcp.call('follow_stream', { source: bare, stream: curlStream });
    assert.doesNotMatch(noColumn.text, /^Processes:/m, 'a capture without a record has no process line');
  });
});
