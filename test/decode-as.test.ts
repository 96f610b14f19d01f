// decodeAs and preferences on the analysis tools: an HTTP server on an odd port (9000, on this
// file's own loopback address) made here, captured, and read with and without the rule; the
// refusals (unknown layer or protocol with close matches, bad syntax, a preference outside the
// allow-list); saved configurations. Expected values are what the test sent and what tshark says
// when asked directly with the same -d.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { before, describe, it } from 'node:test';
import { readArgs } from '../src/wireshark/tshark-args.js';
import { EMPTY_PCAP } from '../src/wireshark/tshark.js';
import {
  checkPreferences,
  PreferenceCatalog,
  preferenceAllowed,
  parseDecodeAsRule,
} from '../src/wireshark/dissection.js';
import { captureLoopback, captureUnavailable, requireCapture } from './helpers/loopback-capture.js';
import { useServer } from './helpers/in-process.js';
import { inspectRows } from './helpers/digests.js';
import type { Session } from './helpers/mcp-client.js';

const run = promisify(execFile);

const HOST = '127.83.72.1';
const CLIENT = '127.83.72.2';
const PORT = 9000;
// HTTP/2 with prior knowledge (as gRPC speaks it): tshark has no heuristic that finds it on an
// unusual port, so without the rule it is bare TCP. (HTTP/1.x it finds on any port by its http_tcp
// heuristic, so an HTTP/1.x server would not show what the rule changes.)
const RULE = `tcp.port==${PORT},http2`;

/** What the test's client asks, and what its server answers. */
const EXCHANGES = [
  { method: 'GET', uri: '/decode-as/one', status: 200 },
  { method: 'GET', uri: '/decode-as/missing', status: 404 },
  { method: 'POST', uri: '/decode-as/two', status: 201 },
] as const;

/** An HTTP/2 server on HOST:PORT answering each EXCHANGES request with its status; a connection per request. */
async function http2OnOddPort(): Promise<void> {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const exchange = EXCHANGES.find((e) => e.uri === headers[':path']);
    stream.resume();
    stream.on('end', () => {
      stream.respond({ ':status': exchange?.status ?? 500, 'content-type': 'text/plain' });
      stream.end(`answer to ${String(headers[':path'])}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(PORT, HOST, resolve);
  });
  try {
    for (const e of EXCHANGES) {
      const session = http2.connect(`http://${HOST}:${PORT}`, {
        createConnection: () => net.connect({ host: HOST, port: PORT, localAddress: CLIENT }),
      });
      try {
        await new Promise<void>((resolve, reject) => {
          session.once('error', reject);
          const req = session.request({ ':method': e.method, ':path': e.uri });
          req.on('error', reject);
          req.resume();
          req.on('end', resolve);
          req.end(e.method === 'POST' ? 'body of the post' : undefined);
        });
      } finally {
        await new Promise<void>((resolve) => session.close(resolve));
      }
    }
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** tshark's own fields for the file read with -d RULE, so expected values do not come from the server. */
async function tsharkWithRule(file: string, fields: string[], filter: string): Promise<string[][]> {
  const { stdout } = await run('tshark', [
    '-r',
    file,
    '-d',
    RULE,
    '-Y',
    filter,
    '-T',
    'fields',
    ...fields.flatMap((f) => ['-e', f]),
  ]);
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t'));
}

/** Each value of `param` is refused with an error that matches, names the parameter and dumps nothing. */
async function refused(
  mcp: Session,
  file: string,
  param: 'decodeAs' | 'preferences',
  cases: readonly [string, RegExp][],
): Promise<void> {
  for (const [value, expected] of cases) {
    const answer = await mcp.call('inspect_protocol', { source: file, kind: 'http', [param]: [value] });
    assert.equal(answer.isError, true, `${value} was accepted:\n${answer.text}`);
    assert.match(answer.text, expected);
    assert.match(answer.text, new RegExp(`^Error: ${param}\\[0\\]`));
    assert.doesNotMatch(answer.text, /\n\s+at |Usage:/, 'no stack trace or usage dump');
  }
}

describe('decodeAs and preferences', () => {
  const server = useServer();
  let file = '';

  before(async () => {
    if ((await captureUnavailable()) !== undefined) return;
    file = await captureLoopback(
      server.dir,
      'odd-port',
      `host ${HOST} and tcp port ${PORT}`,
      http2OnOddPort,
      30,
    );
  });

  it('inspect_protocol http: nothing without decodeAs; the requests and statuses sent with it', async (t) => {
    if (!(await requireCapture(t))) return;
    const without = await inspectRows(server.mcp, { source: file, kind: 'http' });
    assert.deepEqual(without.rows, [], 'port 9000 is not HTTP to tshark by default');

    const { rows, text } = await inspectRows(server.mcp, { source: file, kind: 'http', decodeAs: [RULE] });
    assert.deepEqual(
      rows.map((r) => [r['method'], r['uri'], String(r['status']).split(' ')[0]]),
      EXCHANGES.map((e) => [e.method, e.uri, String(e.status)]),
      text,
    );
  });

  it('every other tool that reads a capture takes the rule too', async (t) => {
    if (!(await requireCapture(t))) return;
    const requests = await tsharkWithRule(
      file,
      ['frame.number', 'http2.headers.path'],
      'http2.headers.method',
    );
    assert.deepEqual(
      requests.map((r) => r[1]),
      EXCHANGES.map((e) => e.uri),
    );
    const requestFrame = Number(requests[0]?.[0]);

    // analyze_pcap_file (and stop_capture_session, which shares its parameters).
    const listing = {
      filePath: file,
      displayFilter: 'http2.headers.method',
      outputFormat: 'fields',
      customFields: 'http2.headers.path',
    };
    const plain = await server.mcp.call('analyze_pcap_file', listing);
    assert.equal(plain.isError, false, plain.text);
    assert.doesNotMatch(plain.text, /decode-as/);
    const decoded = await server.mcp.call('analyze_pcap_file', { ...listing, decodeAs: [RULE] });
    assert.equal(decoded.isError, false, decoded.text);
    for (const e of EXCHANGES) assert.match(decoded.text, new RegExp(`^${e.uri}$`, 'm'));
    assert.match(decoded.text, /^Decode As: tcp\.port==9000,http2$/m);

    // summarize_capture: HTTP/2 in the protocol hierarchy.
    const hasHttp2 = (answer: { structured?: Record<string, unknown> | undefined }): boolean =>
      (answer.structured?.['protocols'] as { protocol: string }[]).some((p) => p.protocol === 'http2');
    const summary = await server.mcp.call('summarize_capture', { source: file });
    assert.equal(hasHttp2(summary), false, summary.text);
    const decodedSummary = await server.mcp.call('summarize_capture', { source: file, decodeAs: [RULE] });
    assert.equal(hasHttp2(decodedSummary), true, decodedSummary.text);

    // follow_stream: the first request's HTTP/2 stream, its headers decoded.
    const follow = await server.mcp.call('follow_stream', {
      source: file,
      protocol: 'http2',
      stream: 0,
      substream: 1,
      decodeAs: [RULE],
    });
    assert.equal(follow.isError, false, follow.text);
    assert.match(follow.text, /\/decode-as\/one/);

    // get_packet_details: the HTTP/2 tree of the first request.
    const detailsArgs = { source: file, frames: String(requestFrame), protocols: ['http2'] };
    const details = await server.mcp.call('get_packet_details', { ...detailsArgs, decodeAs: [RULE] });
    assert.equal(details.isError, false, details.text);
    assert.match(details.text, /HyperText Transfer Protocol 2/);
    const plainDetails = await server.mcp.call('get_packet_details', detailsArgs);
    assert.doesNotMatch(plainDetails.text, /HyperText Transfer Protocol 2/);

    // capture_statistics: one row per status.
    const stats = await server.mcp.call('capture_statistics', {
      source: file,
      groupBy: ['http2.headers.status'],
      displayFilter: 'http2.headers.status',
      decodeAs: [RULE],
    });
    assert.equal(stats.isError, false, stats.text);
    const statuses = (stats.structured?.['rows'] as Record<string, unknown>[]).map((r) =>
      String(r['http2.headers.status']),
    );
    assert.deepEqual(statuses.sort(), EXCHANGES.map((e) => String(e.status)).sort());

    // export_packets: the requests only.
    const saveTo = path.join(server.dir, 'requests.pcapng');
    const exported = await server.mcp.call('export_packets', {
      source: file,
      displayFilter: 'http2.headers.method',
      saveTo,
      decodeAs: [RULE],
    });
    assert.equal(exported.isError, false, exported.text);
    const { stdout: count } = await run('capinfos', ['-M', '-c', '-T', '-r', saveTo]);
    assert.equal(count.trim().split('\n').at(-1)?.split('\t').at(-1), String(requests.length));

    // plot_capture: the flow diagram of the HTTP/2 packets.
    const flow = await server.mcp.call('plot_capture', {
      source: file,
      kind: 'flow',
      displayFilter: 'http2',
      decodeAs: [RULE],
    });
    assert.equal(flow.isError, false, flow.text);
    assert.match(String(flow.structured?.['mermaid']), /HEADERS/);

    // compare_captures: against an empty capture, HTTP/2 is a protocol only the baseline holds.
    const empty = path.join(server.dir, 'empty.pcap');
    await writeFile(empty, EMPTY_PCAP);
    const comparing = { baseline: file, candidate: empty };
    const compared = await server.mcp.call('compare_captures', { ...comparing, decodeAs: [RULE] });
    assert.equal(compared.isError, false, compared.text);
    assert.match(compared.text, /\bhttp2\b/);
    const plainCompared = await server.mcp.call('compare_captures', comparing);
    assert.doesNotMatch(plainCompared.text, /\bhttp2\b/);

    // export_objects takes the rule like the rest (tshark 4.0 exports HTTP/1.x objects only).
    const objects = await server.mcp.call('export_objects', {
      source: file,
      protocol: 'http',
      decodeAs: [RULE],
    });
    assert.equal(objects.isError, false, objects.text);
  });

  it('the port preference tshark keeps for a protocol (http2.tcp.port) decodes it too', async (t) => {
    if (!(await requireCapture(t))) return;
    const { rows } = await inspectRows(server.mcp, {
      source: file,
      kind: 'http',
      preferences: [`http2.tcp.port:${PORT}`],
    });
    assert.deepEqual(
      rows.map((r) => r['uri']),
      EXCHANGES.map((e) => e.uri),
    );
    const unknown = await server.mcp.call('inspect_protocol', {
      source: file,
      kind: 'http',
      preferences: ['nosuchprotocol.tcp.port:9000'],
    });
    assert.equal(unknown.isError, true, unknown.text);
    assert.match(unknown.text, /unknown preference/);
  });

  it('a preference changes what tshark shows (tcp.relative_sequence_numbers), and the header says so', async (t) => {
    if (!(await requireCapture(t))) return;
    const listing = {
      filePath: file,
      displayFilter: 'tcp.flags.syn == 1 && tcp.flags.ack == 0',
      outputFormat: 'fields',
      customFields: 'tcp.seq',
    };
    const raw = await tsharkWithRule(file, ['tcp.seq_raw'], listing.displayFilter);
    const relative = await server.mcp.call('analyze_pcap_file', listing);
    assert.match(relative.text, /^0$/m);
    const absolute = await server.mcp.call('analyze_pcap_file', {
      ...listing,
      preferences: ['tcp.relative_sequence_numbers:FALSE'],
    });
    assert.equal(absolute.isError, false, absolute.text);
    for (const [seq] of raw) assert.match(absolute.text, new RegExp(`^${seq}$`, 'm'));
    assert.match(absolute.text, /^Preferences: tcp\.relative_sequence_numbers:FALSE$/m);

    // Where a pass sets the same preference itself, its value wins: tshark keeps the last -o.
    const composed = readArgs({
      file,
      displayFilter: listing.displayFilter,
      preferences: ['tcp.relative_sequence_numbers:TRUE'],
      dissection: { decodeAs: [], preferences: ['tcp.relative_sequence_numbers:FALSE'] },
    });
    const { stdout } = await run('tshark', [...composed, '-T', 'fields', '-e', 'tcp.seq']);
    assert.deepEqual(
      stdout.split('\n').filter((l) => l !== ''),
      raw.map(() => '0'),
    );
  });

  it('an unknown protocol or layer gets close matches; bad syntax says how to write a rule', async (t) => {
    if (!(await requireCapture(t))) return;
    const cases: [string, RegExp][] = [
      [`tcp.port==${PORT},htpp2`, /cannot decode "tcp\.port" as "htpp2"\. Close matches: http2\b/],
      [`tcp.prot==${PORT},http`, /no decode-as layer "tcp\.prot"\. Close matches: tcp\.port/],
      [`tcp.port=${PORT},http`, /joined by "==", not "="/],
      [`tcp.port==${PORT}`, /Write "<layer>==<value>,<protocol>"/],
      ['tcp.port==nine,http', /takes a number up to 65,535, a range/],
      ['tcp.port==99999,http', /"99999" is not a value of "tcp\.port"/],
      ['ip.proto==6,http', /cannot decode "ip\.proto" as "http"/],
      // tshark 4.0 aborts (and may dump core) on a -d over a GUID table: refused before it runs.
      ['dcerpc.uuid==1,http', /cannot take from the command line/],
    ];
    await refused(server.mcp, file, 'decodeAs', cases);
    assert.deepEqual(
      (await readdir(server.dir)).filter((f) => f.startsWith('core')),
      [],
      'no core dump',
    );
  });

  it('preferences outside the allow-list are refused with what is allowed', async (t) => {
    if (!(await requireCapture(t))) return;
    const debugFile = path.join(server.dir, 'tls-debug.txt');
    const cases: [string, RegExp][] = [
      [
        'tls.keylog_file:/etc/passwd',
        /cannot be set here.*give the keylog as sslKeylogFile.*tls\.desegment_ssl_records/s,
      ],
      [`tls.debug_file:${debugFile}`, /cannot be set here: it is a path/],
      ['snort.alerts_source:From running Snort', /snort\.\* preferences are not about dissection/],
      ['gui.column.format:"a","%s"', /cannot be set here/],
      [
        'tcp.desegmnet_tcp_streams:FALSE',
        /no preference "tcp\.desegmnet_tcp_streams"\. Close matches: tcp\.desegment_tcp_streams/,
      ],
      ['tcp.desegment_tcp_streams:maybe', /takes TRUE or FALSE, not "maybe"/],
      ['tcp.default_window_scaling:huge', /takes one of: Not known, /],
      ['tcp.default_window_scaling:1;touch', /takes one of/],
      ['nothing-here', /Write "<name>:<value>"/],
    ];
    await refused(server.mcp, file, 'preferences', cases);
    assert.equal(existsSync(debugFile), false, 'tls.debug_file was not written');
  });

  it('saved configurations hold decodeAs and preferences; the call wins, an empty list included', async (t) => {
    if (!(await requireCapture(t))) return;
    const saved = await server.mcp.call('manage_config', {
      action: 'save',
      name: 'odd-port-http',
      config: { decodeAs: [RULE], preferences: ['tcp.desegment_tcp_streams:TRUE'] },
    });
    assert.equal(saved.isError, false, saved.text);
    const listing = {
      filePath: file,
      configName: 'odd-port-http',
      displayFilter: 'http2.headers.status',
      outputFormat: 'fields',
      customFields: 'http2.headers.status',
    };
    const fromConfig = await server.mcp.call('analyze_pcap_file', listing);
    assert.equal(fromConfig.isError, false, fromConfig.text);
    for (const e of EXCHANGES) assert.match(fromConfig.text, new RegExp(`^${e.status}$`, 'm'));
    const overridden = await server.mcp.call('analyze_pcap_file', { ...listing, decodeAs: [] });
    assert.doesNotMatch(overridden.text, /^200$/m);

    const typo = await server.mcp.call('manage_config', {
      action: 'save',
      name: 'odd-port-typo',
      config: { decodeAs: [`tcp.port==${PORT},htp2`] },
    });
    assert.equal(typo.isError, true, typo.text);
    assert.match(
      typo.text,
      /decodeAs\[0\] \(in config\): tshark cannot decode "tcp\.port" as "htp2"\. Close matches: http2\b/,
    );
    const listed = await server.mcp.call('manage_config', { action: 'list' });
    assert.doesNotMatch(listed.text, /odd-port-typo/);

    // A configuration written by hand (or for another tshark) is checked when a call uses it.
    const configFile = path.join(server.dir, 'config', 'sharkmcp-configs.json');
    const stored = JSON.parse(await readFile(configFile, 'utf8')) as { configs: Record<string, unknown> };
    stored.configs['by-hand'] = { decodeAs: [`tcp.port==${PORT},htp2`] };
    await writeFile(configFile, JSON.stringify(stored));
    const byHand = await server.mcp.call('analyze_pcap_file', { filePath: file, configName: 'by-hand' });
    assert.equal(byHand.isError, true, byHand.text);
    assert.match(byHand.text, /decodeAs\[0\] \(from saved configuration 'by-hand'\): tshark cannot decode/);
  });
});

describe('decodeAs and preferences: the rules, pure', () => {
  it("the caller's preferences come before the analysis's own, so the analysis's win", () => {
    const args = readArgs({
      file: 'f.pcap',
      preferences: ['tcp.calculate_timestamps:FALSE'],
      dissection: { decodeAs: [RULE], preferences: ['tcp.calculate_timestamps:TRUE'] },
    });
    const theirs = args.indexOf('tcp.calculate_timestamps:TRUE');
    const ours = args.indexOf('tcp.calculate_timestamps:FALSE');
    assert.ok(theirs > 0 && ours > theirs, args.join(' '));
    assert.equal(args[args.indexOf(RULE) - 1], '-d');
  });

  it('a rule is one argument, whatever it holds', () => {
    assert.throws(() => parseDecodeAsRule(`${RULE} -w /tmp/x`, 'decodeAs[0]'), /not a decode-as rule/);
    assert.throws(() => parseDecodeAsRule('-r /etc/passwd', 'decodeAs[0]'), /not a tshark option/);
  });

  it('the preference rule, on recorded -G defaultprefs lines', () => {
    const catalog = PreferenceCatalog.parse(
      [
        '# Whether to reassemble',
        '# TRUE or FALSE (case-insensitive)',
        '#tcp.desegment_tcp_streams: TRUE',
        '',
        '# The NSS keylog',
        '# A path to a file',
        '#tls.keylog_file: ',
        '',
        '# Generate a keylog',
        '# TRUE or FALSE (case-insensitive)',
        '#f5ethtrailer.generate_keylog: FALSE',
        '',
        '# Where Snort is',
        '# A string',
        '#snort.binary: /usr/sbin/snort',
        '',
        '# NetFlow UDP ports',
        '# A string denoting an positive integer range (e.g., "1-20,30-40")',
        '#cflow.netflow.ports: 2055,9996',
      ].join('\n'),
    );
    const allowed = (name: string): boolean =>
      preferenceAllowed(catalog.get(name) ?? { name, kind: 'other' });
    assert.equal(allowed('tcp.desegment_tcp_streams'), true);
    assert.equal(allowed('cflow.netflow.ports'), true);
    assert.equal(allowed('tls.keylog_file'), false);
    assert.equal(allowed('f5ethtrailer.generate_keylog'), false, 'a name about a keylog, whatever its kind');
    assert.equal(allowed('snort.binary'), false);
    assert.deepEqual(
      checkPreferences(['cflow.netflow.ports:2055,9000-9001', 'http.tcp.port:80,9000'], catalog, '').map(
        (p) => p.value,
      ),
      ['2055,9000-9001', '80,9000'],
    );
  });
});
