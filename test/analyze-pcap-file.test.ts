// analyze_pcap_file through a real MCP client (the server in this process), on a capture the tests
// make on loopback (HTTP, DNS, HTTPS with a keylog). Expected values come from tshark queried
// directly, not from the server.
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sharedMixedCapture } from './helpers/fixtures.js';
import type { MixedCapture } from './helpers/fixtures.js';
import { captureUnavailable, group, requireCapture, tempDir } from './helpers/loopback-capture.js';
import { connect, resultBody } from './helpers/in-process.js';
import type { Session } from './helpers/mcp-client.js';
import { tsharkFields } from './helpers/tshark.js';

describe('analyze_pcap_file on a capture made here', () => {
  let dir = '';
  let capture: MixedCapture | undefined;
  let mcp: Session;

  before(async () => {
    dir = await tempDir();
    if ((await captureUnavailable()) === undefined) capture = await sharedMixedCapture();
    mcp = await connect({ SHARKMCP_CONFIG_DIR: path.join(dir, 'config') });
  });
  after(async () => {
    try {
      await mcp?.close();
    } finally {
      await group.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  /** The capture, or a skip (a failure under CI=true) when capture is not possible here. */
  async function cap(t: Parameters<typeof requireCapture>[0]): Promise<MixedCapture | undefined> {
    if (!(await requireCapture(t))) return undefined;
    assert.ok(capture);
    return capture;
  }

  it('lists the HTTP requests the test made, in the seed layout', async (t) => {
    const c = await cap(t);
    if (!c) return;
    const answer = await mcp.call('analyze_pcap_file', { filePath: c.file, displayFilter: 'http.request' });
    assert.equal(answer.isError, false, answer.text);
    assert.match(
      answer.text,
      new RegExp(`^Analysis of '${c.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}' complete!\n`),
    );
    assert.match(
      answer.text,
      /\nDisplay Filter: http\.request\nOutput Format: text\nSSL Decryption: Disabled\n/,
    );
    const lines = resultBody(answer.text).split('\n');
    assert.equal(lines.length, c.httpPaths.length);
    c.httpPaths.forEach((p, i) => assert.match(lines[i] ?? '', new RegExp(`GET ${p} HTTP/1\\.1`)));
    assert.match(answer.text, /all of them/);
    assert.equal(answer.structured?.['moreMatch'], false);
  });

  it('decrypts TLS with the keylog, and only with it', async (t) => {
    const c = await cap(t);
    if (!c) return;
    const plain = await mcp.call('analyze_pcap_file', {
      filePath: c.file,
      displayFilter: `tcp.port == ${c.tlsPort}`,
    });
    assert.doesNotMatch(plain.text, /hidden\/path/);
    const decrypted = await mcp.call('analyze_pcap_file', {
      filePath: c.file,
      displayFilter: `tcp.port == ${c.tlsPort} && http`,
      sslKeylogFile: c.keylog,
    });
    assert.equal(decrypted.isError, false, decrypted.text);
    assert.match(decrypted.text, /SSL Decryption: Enabled/);
    assert.match(resultBody(decrypted.text), /GET \/hidden\/path\?token=42 HTTP\/1\.1/);
    assert.match(resultBody(decrypted.text), /HTTP\/1\.1 200 OK/);
  });

  it('shows the DNS query and its answer', async (t) => {
    const c = await cap(t);
    if (!c) return;
    const answer = await mcp.call('analyze_pcap_file', {
      filePath: c.file,
      displayFilter: 'dns',
      outputFormat: 'fields',
      customFields: 'dns.qry.name,dns.flags.response,dns.a',
    });
    assert.deepEqual(resultBody(answer.text).split('\n'), [
      `${c.dnsName}\t0\t`,
      `${c.dnsName}\t1\t${c.dnsAnswer}`,
    ]);
    assert.match(
      answer.text,
      /Fields \(tab-separated columns\): dns\.qry\.name, dns\.flags\.response, dns\.a/,
    );
  });

  it('uses the seed default columns for fields', async (t) => {
    const c = await cap(t);
    if (!c) return;
    const answer = await mcp.call('analyze_pcap_file', {
      filePath: c.file,
      outputFormat: 'fields',
      limit: 3,
    });
    const expected = (
      await tsharkFields(c.file, [
        'frame.number',
        'frame.time_relative',
        'ip.src',
        'ip.dst',
        'tcp.srcport',
        'tcp.dstport',
      ])
    ).slice(0, 3);
    assert.deepEqual(
      resultBody(answer.text)
        .split('\n')
        .map((l) => l.split('\t')),
      expected,
    );
  });

  it('pages through every packet exactly once, following the next-page arguments it gives', async (t) => {
    const c = await cap(t);
    if (!c) return;
    const expected = (await tsharkFields(c.file, ['frame.number'], { filter: 'tcp' })).map((r) => r[0]);
    const seen: string[] = [];
    let args: Record<string, unknown> | undefined = {
      filePath: c.file,
      displayFilter: 'tcp',
      outputFormat: 'fields',
      customFields: 'frame.number',
      limit: 7,
    };
    let pages = 0;
    while (args) {
      const answer = await mcp.call('analyze_pcap_file', args);
      assert.equal(answer.isError, false, answer.text);
      seen.push(...resultBody(answer.text).split('\n'));
      const next = /\nNext page: analyze_pcap_file (\{.*\})\n/.exec(answer.text);
      args = next?.[1] ? (JSON.parse(next[1]) as Record<string, unknown>) : undefined;
      assert.ok(++pages < 100, 'paging does not end');
    }
    assert.deepEqual(seen, expected);
    assert.equal(pages, Math.ceil(expected.length / 7));
  });

  it('keeps the whole answer within maxChars and cuts at a packet boundary', async (t) => {
    const c = await cap(t);
    if (!c) return;
    const all = resultBody(
      (await mcp.call('analyze_pcap_file', { filePath: c.file, limit: 1000 })).text,
    ).split('\n');
    for (const maxChars of [1000, 2500]) {
      const answer = await mcp.call('analyze_pcap_file', { filePath: c.file, maxChars, limit: 1000 });
      assert.ok(answer.text.length <= maxChars, `${answer.text.length} > ${maxChars}`);
      const lines = resultBody(answer.text).split('\n');
      assert.deepEqual(lines, all.slice(0, lines.length), 'whole packet lines, in order');
      assert.match(answer.text, /cut there by maxChars; more match/);
    }
  });

  it('gives valid compact JSON, one packet a line, cut at packet boundaries', async (t) => {
    const c = await cap(t);
    if (!c) return;
    const answer = await mcp.call('analyze_pcap_file', {
      filePath: c.file,
      outputFormat: 'json',
      displayFilter: 'http',
      maxChars: 30_000,
    });
    const body = resultBody(answer.text);
    const packets = JSON.parse(body) as { _source: { layers: { frame: Record<string, string> } } }[];
    const expected = (await tsharkFields(c.file, ['frame.number'], { filter: 'http' })).map((r) => r[0]);
    assert.ok(packets.length >= 1);
    assert.deepEqual(
      packets.map((p) => p._source.layers.frame['frame.number']),
      expected.slice(0, packets.length),
    );
    assert.equal(body.split('\n').length, packets.length + 2);
    assert.ok(answer.text.length <= 30_000);
  });

  it('names the call that shows a JSON packet larger than maxChars, and the one that skips it', async (t) => {
    const c = await cap(t);
    if (!c) return;
    const base = { filePath: c.file, outputFormat: 'json', displayFilter: 'http', maxChars: 1000 };
    const answer = await mcp.call('analyze_pcap_file', base);
    assert.equal(answer.isError, false, answer.text);
    assert.deepEqual(JSON.parse(resultBody(answer.text)), []);
    assert.match(answer.text, /Matching packet 1 alone is [\d,]+ characters of JSON/);
    const see = /To see it: analyze_pcap_file (\{.*?\})\./.exec(answer.text)?.[1];
    const skip = /To skip it: analyze_pcap_file (\{.*?\})\./.exec(answer.text)?.[1];
    assert.ok(see && skip, answer.text);
    const expected = (await tsharkFields(c.file, ['frame.number'], { filter: 'http' })).map((r) => r[0]);
    const seen = await mcp.call('analyze_pcap_file', JSON.parse(see) as Record<string, unknown>);
    const shown = JSON.parse(resultBody(seen.text)) as {
      _source: { layers: { frame: Record<string, string> } };
    }[];
    assert.equal(
      shown[0]?._source.layers.frame['frame.number'],
      expected[0],
      `${answer.text}\n---\n${seen.text}`,
    );
    assert.deepEqual(JSON.parse(skip), { ...base, offset: 1 });
  });

  it('fills parameters from a saved configuration; explicit arguments win', async (t) => {
    const c = await cap(t);
    if (!c) return;
    const saved = await mcp.call('manage_config', {
      action: 'save',
      name: 'dns-only',
      config: { displayFilter: 'dns', outputFormat: 'fields', customFields: 'dns.qry.name' },
    });
    assert.equal(saved.isError, false, saved.text);
    const fromConfig = await mcp.call('analyze_pcap_file', { filePath: c.file, configName: 'dns-only' });
    assert.match(fromConfig.text, /Using saved config: dns-only\nDisplay Filter: dns\nOutput Format: fields/);
    assert.deepEqual(resultBody(fromConfig.text).split('\n'), [c.dnsName, c.dnsName]);
    const overridden = await mcp.call('analyze_pcap_file', {
      filePath: c.file,
      configName: 'dns-only',
      displayFilter: 'http.request',
    });
    assert.match(overridden.text, /Display Filter: http\.request/);
    assert.equal(resultBody(overridden.text).split('\n').length, c.httpPaths.length);
    const missing = await mcp.call('analyze_pcap_file', { filePath: c.file, configName: 'nope' });
    assert.equal(missing.isError, true);
    assert.match(missing.text, /Configuration 'nope' not found\. Saved configurations: dns-only/);
  });

  it('answers a filter that matches nothing, and an offset past the end', async (t) => {
    const c = await cap(t);
    if (!c) return;
    const total = (await tsharkFields(c.file, ['frame.number'])).length;
    const none = await mcp.call('analyze_pcap_file', { filePath: c.file, displayFilter: 'smb2' });
    assert.equal(none.isError, false);
    assert.match(
      none.text,
      new RegExp(`No packet matches the display filter \\(the capture holds ${total} packets\\)`),
    );
    const past = await mcp.call('analyze_pcap_file', { filePath: c.file, offset: total + 5 });
    assert.match(past.text, new RegExp(`past the end: ${total} packets match`));
  });

  it('names an unknown field with close matches', async () => {
    const file = path.join(dir, 'not-needed.pcap');
    await writeFile(file, Buffer.alloc(0));
    const answer = await mcp.call('analyze_pcap_file', {
      filePath: capture?.file ?? file,
      outputFormat: 'fields',
      customFields: 'ip.src,http.hots,dns.qry.nmae',
    });
    assert.equal(answer.isError, true);
    assert.match(answer.text, /- http\.hots: unknown\. Close matches: http\.host/);
    assert.match(answer.text, /- dns\.qry\.nmae: unknown\. Close matches: dns\.qry\.name/);
    assert.doesNotMatch(answer.text, /- ip\.src:/);
  });

  it('checks the display filter before the run and quotes tshark', async () => {
    const answer = await mcp.call('analyze_pcap_file', {
      filePath: capture?.file ?? '/dev/null',
      displayFilter: 'tcp.port == ',
    });
    assert.equal(answer.isError, true);
    assert.match(answer.text, /displayFilter is not a valid Wireshark display filter/);
    assert.match(answer.text, /Unexpected end of filter expression/);
  });

  it('refuses a keylog file that does not exist', async () => {
    const answer = await mcp.call('analyze_pcap_file', {
      filePath: capture?.file ?? '/dev/null',
      sslKeylogFile: path.join(dir, 'no-such-keylog.txt'),
    });
    assert.equal(answer.isError, true);
    assert.match(answer.text, /sslKeylogFile: no file at/);
  });

  it('explains a missing file, a directory and a file that is not a capture', async () => {
    const missing = await mcp.call('analyze_pcap_file', { filePath: path.join(dir, 'nope.pcap') });
    assert.match(
      missing.text,
      /filePath: no file at ".*nope\.pcap"\. Give the path of an existing capture file/,
    );
    const directory = await mcp.call('analyze_pcap_file', { filePath: dir });
    assert.match(directory.text, /is a directory/);
    const text = path.join(dir, 'notes.txt');
    await writeFile(text, 'these are not packets\n');
    const notCapture = await mcp.call('analyze_pcap_file', { filePath: text });
    assert.equal(notCapture.isError, true);
    assert.match(notCapture.text, /is not a capture file that tshark can read/);
  });
});
