// Public captures from ../shared/captures (see its MANIFEST), read through the real server. Each
// test skips when the corpus is absent; expected facts are the MANIFEST's or tshark's own.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resultBody, useServer } from './helpers/in-process.js';
import { corpus } from './helpers/paths.js';
import { tsharkFields } from './helpers/tshark.js';

describe('corpus captures', () => {
  const server = useServer();

  it('decrypts illustrated-tls13 with its keylog: ping, then pong', async (t) => {
    const file = corpus('illustrated-tls13/captures/capture.pcap');
    const keylog = corpus('illustrated-tls13/captures/keylog.txt');
    if (!file || !keylog) return t.skip('../shared/captures is absent');
    const args = {
      filePath: file,
      displayFilter: 'data',
      outputFormat: 'fields',
      customFields: 'frame.number,data.data',
    };
    const locked = await server.mcp.call('analyze_pcap_file', args);
    assert.match(
      locked.text,
      /No packet matches the display filter/,
      'without the keylog nothing is decrypted',
    );
    const answer = await server.mcp.call('analyze_pcap_file', { ...args, sslKeylogFile: keylog });
    assert.equal(answer.isError, false, answer.text);
    const payloads = resultBody(answer.text)
      .split('\n')
      .map((l) => Buffer.from(l.split('\t')[1] ?? '', 'hex').toString('utf8'));
    assert.deepEqual(payloads, ['ping', 'pong']);

    const json = await server.mcp.call('analyze_pcap_file', {
      filePath: file,
      displayFilter: 'data',
      outputFormat: 'json',
      sslKeylogFile: keylog,
      maxChars: 60_000,
    });
    const packets = JSON.parse(resultBody(json.text)) as {
      _source: { layers: { data?: Record<string, string> } };
    }[];
    assert.deepEqual(
      packets.map((p) =>
        Buffer.from((p._source.layers.data?.['data.data'] ?? '').replace(/:/g, ''), 'hex').toString(),
      ),
      ['ping', 'pong'],
    );
  });

  it('returns the packets before the cut of a truncated capture, with a warning', async (t) => {
    const file = corpus('_derived/chrissanders-packets/ppa1e/http.truncated-midpacket.cap');
    if (!file) return t.skip('../shared/captures is absent');
    const answer = await server.mcp.call('analyze_pcap_file', { filePath: file, limit: 1000 });
    assert.equal(answer.isError, false, answer.text);
    const lines = resultBody(answer.text).split('\n');
    assert.equal(lines.length, 40, 'the MANIFEST: 40 whole packets before the cut');
    assert.match(lines[39] ?? '', /^\s*40\s/);
    assert.match(answer.text, /Warning: The capture file was cut short in the middle of a packet/);
    assert.match(answer.text, /Packets shown: 1-40 of the capture \(40 packets\): all of them\./);
  });

  it('answers "0 packets" for an empty capture', async (t) => {
    const file = corpus('zeek/testing/btest/Traces/empty.pcap');
    if (!file) return t.skip('../shared/captures is absent');
    for (const outputFormat of ['text', 'fields', 'json']) {
      const answer = await server.mcp.call('analyze_pcap_file', { filePath: file, outputFormat });
      assert.equal(answer.isError, false, answer.text);
      assert.match(answer.text, /The capture file holds 0 packets\./);
      if (outputFormat === 'json') assert.deepEqual(JSON.parse(resultBody(answer.text)), []);
    }
  });

  it('reads a classic pcap named .pcapng, and lists its HTTP requests as tshark does', async (t) => {
    const file = corpus('FoxIO-LLC-ja4/pcap/http1.pcapng');
    if (!file) return t.skip('../shared/captures is absent');
    const fields = ['frame.number', 'http.host', 'http.request.uri'];
    const expected = await tsharkFields(file, fields, { filter: 'http.request' });
    const answer = await server.mcp.call('analyze_pcap_file', {
      filePath: file,
      displayFilter: 'http.request',
      outputFormat: 'fields',
      customFields: fields.join(','),
      limit: 1000,
    });
    assert.deepEqual(
      resultBody(answer.text)
        .split('\n')
        .map((l) => l.split('\t')),
      expected,
    );
    assert.ok(expected.length > 0);
  });

  it('shows the malformed SSH packet the MANIFEST names', async (t) => {
    const file = corpus('FoxIO-LLC-ja4/pcap/ssh2-malformed.pcap');
    if (!file) return t.skip('../shared/captures is absent');
    const answer = await server.mcp.call('analyze_pcap_file', {
      filePath: file,
      displayFilter: '_ws.malformed',
    });
    assert.equal(answer.isError, false, answer.text);
    assert.match(resultBody(answer.text), /Malformed Packet/);
  });
});
