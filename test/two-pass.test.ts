// Fields tshark fills only in its second pass (dns.response_in, http.response_in) work in every
// tool that takes a display filter or fields: a capture made here on loopback holds DNS queries of
// which the test's own server answers some and drops the others, and HTTP requests; each answer is
// checked against the test's own knowledge and against `tshark -2` queried directly. Then the rule
// itself (which names are frame-number fields) on tshark's real field list.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import {
  captureLoopback,
  captureUnavailable,
  group,
  requireCapture,
  tempDir,
} from './helpers/loopback-capture.js';
import { useServer } from './helpers/in-process.js';
import type { Session } from './helpers/mcp-client.js';
import { GlossarySource } from '../src/wireshark/glossary.js';
import { namesInFilter, TwoPassRule } from '../src/wireshark/two-pass.js';
import { locateWiresharkTools } from '../src/wireshark/locate.js';

const run = promisify(execFile);

// This file's loopback addresses (127.83.20.0/24 belongs to it): a DNS server, an HTTP server, and
// the client address every request comes from.
const DNS_SERVER = '127.83.20.53';
const HTTP_SERVER = '127.83.20.80';
const CLIENT = '127.83.20.2';
const CAPTURE_FILTER = `host ${DNS_SERVER} or host ${HTTP_SERVER}`;

const ANSWERED = ['a1.twopass.test', 'a2.twopass.test', 'a3.twopass.test'];
const DROPPED = ['d1.twopass.test', 'd2.twopass.test'];
const HTTP_PATHS = ['/one', '/two', '/three'];

/** A DNS answer to `query`: its header with QR and RA set, one A record 127.83.20.99 for the question. */
function answer(query: Buffer): Buffer {
  const header = Buffer.from(query.subarray(0, 12));
  header.writeUInt16BE(0x8180, 2); // response, recursion desired and available, rcode 0
  header.writeUInt16BE(1, 6); // one answer
  const record = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 83, 20, 99]);
  return Buffer.concat([header, query.subarray(12), record]);
}

/** Queries for every name (answered ones get an answer, dropped ones none), then HTTP requests. */
async function traffic(): Promise<void> {
  const dns = dgram.createSocket('udp4');
  dns.on('message', (msg, from) => {
    const dropped = DROPPED.some((name) => msg.includes(Buffer.from(name.split('.')[0] ?? '')));
    if (!dropped) dns.send(answer(msg), from.port, from.address);
  });
  await new Promise<void>((resolve) => dns.bind(53, DNS_SERVER, resolve));
  const web = http.createServer((req, res) => res.end(`path ${req.url ?? ''}\n`));
  await new Promise<void>((resolve) => web.listen(8080, HTTP_SERVER, resolve));
  try {
    const resolver = new Resolver({ timeout: 300, tries: 1 });
    resolver.setServers([DNS_SERVER]);
    resolver.setLocalAddress(CLIENT);
    for (const name of [...ANSWERED, ...DROPPED]) {
      const got = await resolver.resolve4(name).catch(() => []);
      assert.deepEqual(got, ANSWERED.includes(name) ? ['127.83.20.99'] : [], name);
    }
    const port = (web.address() as AddressInfo).port;
    for (const p of HTTP_PATHS) {
      await new Promise<void>((resolve, reject) => {
        http
          .get({ host: HTTP_SERVER, port, path: p, localAddress: CLIENT, agent: false }, (res) => {
            res.resume();
            res.on('end', resolve);
          })
          .on('error', reject);
      });
    }
  } finally {
    dns.close();
    await new Promise((resolve) => web.close(resolve));
  }
}

/** `tshark -2 -r file -Y filter -T fields -e ...`, or one pass when `passes` is 1. */
async function tsharkDirect(
  file: string,
  filter: string,
  fields: string[],
  passes: 1 | 2 = 2,
): Promise<string[]> {
  const args = [...(passes === 2 ? ['-2'] : []), '-r', file, '-Y', filter, '-T', 'fields'];
  for (const f of fields) args.push('-e', f);
  const { stdout } = await run('tshark', args);
  return stdout.split('\n').filter((l) => l !== '');
}

/** The tab-separated lines of a packet listing in the fields format (after "Packet Analysis Results:"). */
async function fieldLines(
  mcp: Session,
  tool: string,
  args: Record<string, unknown>,
  customFields: string,
): Promise<string[]> {
  const answer = await mcp.call(tool, { ...args, outputFormat: 'fields', customFields });
  assert.equal(answer.isError, false, answer.text);
  return answer.text
    .split('\nPacket Analysis Results:\n')[1]!
    .split('\n')
    .filter((l) => l !== '');
}

describe('two-pass fields on a capture made here', () => {
  const server = useServer();
  let dir = '';
  let file = '';

  before(async () => {
    dir = await tempDir('sharkmcp-twopass-');
    if ((await captureUnavailable()) !== undefined) return;
    file = await captureLoopback(
      dir,
      'twopass',
      CAPTURE_FILTER,
      traffic,
      2 * ANSWERED.length + DROPPED.length,
    );
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('!dns.response_in matches exactly the unanswered queries (one pass would match them all)', async (t) => {
    if (!(await requireCapture(t))) return;
    const filter = 'dns.flags.response == 0 && !dns.response_in';
    const names = await fieldLines(
      server.mcp,
      'analyze_pcap_file',
      { filePath: file, displayFilter: filter },
      'dns.qry.name',
    );
    assert.deepEqual([...names].sort(), [...DROPPED].sort());
    assert.deepEqual(names, await tsharkDirect(file, filter, ['dns.qry.name']));
    // What the tool would have said in one pass: every query, answered or not.
    assert.deepEqual(
      (await tsharkDirect(file, filter, ['dns.qry.name'], 1)).sort(),
      [...ANSWERED, ...DROPPED].sort(),
    );
  });

  it('http.response_in is filled as a custom field and works as a filter', async (t) => {
    if (!(await requireCapture(t))) return;
    const lines = await fieldLines(
      server.mcp,
      'analyze_pcap_file',
      { filePath: file, displayFilter: 'http.request' },
      'frame.number,http.request.uri,http.response_in',
    );
    assert.deepEqual(
      lines.map((l) => l.split('\t')[1]),
      HTTP_PATHS,
    );
    assert.ok(
      lines.every((l) => /^\d+\t\S+\t\d+$/.test(l)),
      `every request names its response frame:\n${lines.join('\n')}`,
    );
    assert.deepEqual(
      lines,
      await tsharkDirect(file, 'http.request', ['frame.number', 'http.request.uri', 'http.response_in']),
    );
    assert.deepEqual(
      await fieldLines(
        server.mcp,
        'analyze_pcap_file',
        { source: file, displayFilter: 'http.response_in' },
        'frame.number',
      ),
      lines.map((l) => l.split('\t')[0]),
    );
  });

  it('inspect_protocol: a filter on dns.response_in narrows the digest to the unanswered queries', async (t) => {
    if (!(await requireCapture(t))) return;
    const answer = await server.mcp.call('inspect_protocol', {
      source: file,
      kind: 'dns',
      displayFilter: 'dns.flags.response == 0 && !dns.response_in',
    });
    assert.equal(answer.isError, false, answer.text);
    const rows = answer.structured?.['rows'] as Record<string, unknown>[];
    assert.deepEqual(rows.map((r) => r['query']).sort(), [...DROPPED].sort());
    const http = await server.mcp.call('inspect_protocol', {
      source: file,
      kind: 'http',
      displayFilter: 'http.response_in',
    });
    assert.equal(http.isError, false, http.text);
    const uris = (http.structured?.['rows'] as Record<string, unknown>[]).map((r) => r['uri']);
    assert.deepEqual(uris, HTTP_PATHS);
  });

  it('get_packet_details shows the frame a query was answered in', async (t) => {
    if (!(await requireCapture(t))) return;
    const [frame, responseIn] = (
      await tsharkDirect(file, `dns.qry.name == "${ANSWERED[0]}" && dns.flags.response == 0`, [
        'frame.number',
        'dns.response_in',
      ])
    )[0]!.split('\t');
    assert.match(responseIn ?? '', /^\d+$/);
    const answer = await server.mcp.call('get_packet_details', {
      source: file,
      frames: frame!,
      protocols: ['dns'],
    });
    assert.equal(answer.isError, false, answer.text);
    assert.match(answer.text, new RegExp(`\\[Response In: ${responseIn}\\]`));
  });

  it('stop_capture_session answers a second-pass filter on its own capture', async (t) => {
    if (!(await requireCapture(t))) return;
    const started = await server.mcp.call('start_capture_session', {
      interface: 'lo',
      captureFilter: CAPTURE_FILTER,
      timeout: 60,
    });
    assert.equal(started.isError, false, started.text);
    const id = started.structured?.['id'] as string;
    await delay(300);
    await traffic();
    await delay(500);
    const names = await fieldLines(
      server.mcp,
      'stop_capture_session',
      { sessionId: id, displayFilter: 'dns.flags.response == 0 && !dns.response_in' },
      'dns.qry.name',
    );
    assert.deepEqual(names.sort(), [...DROPPED].sort());
    await server.mcp.call('delete_capture_session', { sessionId: id });
  });
});

describe('the two-pass rule', () => {
  it('reads names out of a filter, not out of its strings', () => {
    assert.deepEqual(namesInFilter('dns.qry.name == "x.response_in" && !dns.response_in'), [
      'dns.qry.name',
      'dns.response_in',
    ]);
    assert.deepEqual(namesInFilter('frame.number in {1..5} or tcp.port==80'), [
      'frame.number',
      'in',
      'or',
      'tcp.port',
    ]);
  });

  it('asks for the second pass exactly when a name is a frame-number field', async () => {
    const tools = await locateWiresharkTools(group);
    const rule = new TwoPassRule(new GlossarySource(group, () => Promise.resolve(tools.require('tshark'))));
    assert.equal(await rule.needed({ displayFilter: '!dns.response_in' }), true);
    assert.equal(await rule.needed({ fields: ['ip.src', 'tcp.reassembled_in'] }), true);
    assert.equal(await rule.needed({ displayFilter: 'frame.number in {1..5}' }), false);
    // A field that points back is filled in one pass: the dns digest reads it on every call.
    assert.equal(await rule.needed({ fields: ['dns.id', 'dns.response_to'] }), false);
    assert.equal(await rule.needed({ displayFilter: 'http.host == "x"', fields: ['ip.src'] }), false);
  });

  it('decides a filter of protocol names without reading the glossary', async () => {
    // A glossary that never comes: the rule must not wait for it.
    const never = { get: () => new Promise<never>(() => undefined) } as unknown as GlossarySource;
    const rule = new TwoPassRule(never);
    assert.equal(await rule.needed({ displayFilter: 'http or (dns and not icmp)' }), false);
    assert.equal(await rule.needed({ fields: ['tcp'] }), false);
  });
});
