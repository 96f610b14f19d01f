// The output budget and the packet splitter, on recorded tshark output: pages cut at packet
// boundaries, never over budget, and honest about what follows.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPacketSplitter, MAX_PACKET_CHARS } from '../src/analysis/packet-stream.js';
import type { Packet } from '../src/analysis/packet-stream.js';
import { PageBuilder } from '../src/analysis/page.js';
import { PagedAnswer } from '../src/analysis/paged-answer.js';

const pkt = (text: string): Packet => ({ text, length: text.length });

function feed(builder: PageBuilder, packets: string[]): void {
  for (const p of packets) if (builder.add(pkt(p)) === 'stop') return;
}

const lines = Array.from({ length: 10 }, (_, i) => `${i + 1} packet line number ${i + 1}`);

describe('PageBuilder', () => {
  it('keeps `limit` packets from `offset` and reports that more match', () => {
    const b = new PageBuilder('text', { offset: 3, limit: 4, maxChars: 10_000 });
    feed(b, lines);
    const page = b.finish();
    assert.equal(page.shown, 4);
    assert.deepEqual(page.body.split('\n'), lines.slice(3, 7));
    assert.equal(page.moreMatch, true);
    assert.equal(page.cutBy, 'limit');
  });

  it('says nothing more matches when the stream ends inside the page', () => {
    const b = new PageBuilder('text', { offset: 8, limit: 4, maxChars: 10_000 });
    feed(b, lines);
    const page = b.finish();
    assert.deepEqual(page.body.split('\n'), lines.slice(8));
    assert.equal(page.moreMatch, false);
    assert.equal(page.cutBy, undefined);
  });

  it('asks to stop only once the packet after a full page has been seen', () => {
    const b = new PageBuilder('text', { offset: 0, limit: 2, maxChars: 10_000 });
    assert.equal(b.add(pkt('a')), 'continue');
    assert.equal(b.add(pkt('b')), 'continue');
    assert.equal(
      b.finish().moreMatch,
      false,
      'a page that is exactly full with nothing after it is the last',
    );
    assert.equal(b.add(pkt('c')), 'stop');
    assert.equal(b.finish().moreMatch, true);
  });

  it('ends the page at a packet boundary within maxChars', () => {
    const b = new PageBuilder('text', { offset: 0, limit: 100, maxChars: 60 });
    feed(b, lines);
    const page = b.finish();
    assert.ok(page.body.length <= 60, `body is ${page.body.length} chars`);
    assert.ok(page.shown >= 1);
    assert.deepEqual(page.body.split('\n'), lines.slice(0, page.shown));
    assert.equal(page.cutBy, 'maxChars');
    assert.equal(page.moreMatch, true);
  });

  it('cuts a single text line longer than the budget and says so', () => {
    const b = new PageBuilder('text', { offset: 0, limit: 10, maxChars: 50 });
    feed(b, ['x'.repeat(500), 'short']);
    const page = b.finish();
    assert.equal(page.shown, 1);
    assert.ok(page.body.length <= 50);
    assert.match(page.body, /line cut: 500 characters/);
    assert.equal(page.cutLine, true);
    assert.equal(page.moreMatch, true);
  });

  it('never cuts inside a JSON packet: an oversized first packet is reported instead', () => {
    const big = JSON.stringify({ data: 'y'.repeat(300) });
    const b = new PageBuilder('json', { offset: 0, limit: 5, maxChars: 100 });
    feed(b, [big, '{"a":1}']);
    const page = b.finish();
    assert.equal(page.shown, 0);
    assert.deepEqual(page.oversized, { index: 0, chars: big.length });
    assert.deepEqual(JSON.parse(page.body), []);
  });

  it('always produces valid JSON within maxChars', () => {
    const packets = Array.from({ length: 20 }, (_, i) => JSON.stringify({ n: i, pad: 'z'.repeat(i * 7) }));
    for (const maxChars of [40, 100, 333, 1000, 5000]) {
      const b = new PageBuilder('json', { offset: 2, limit: 50, maxChars });
      feed(b, packets);
      const page = b.finish();
      const parsed = JSON.parse(page.body) as { n: number }[];
      assert.equal(parsed.length, page.shown);
      assert.ok(page.body.length <= maxChars, `${page.body.length} > ${maxChars}`);
      parsed.forEach((p, i) => assert.equal(p.n, i + 2));
    }
  });
});

describe('packet splitter', () => {
  // tshark -T json prints an array with packets at an indent of two spaces.
  const tsharkJson = `[\n  {\n    "_index": "packets-1",\n    "_source": {\n      "layers": {\n        "frame": {\n          "frame.number": "1"\n        }\n      }\n    }\n  },\n  {\n    "_index": "packets-1",\n    "_source": {\n      "layers": {\n        "frame": {\n          "frame.number": "2",\n          "text": "a } b\\n  },"\n        }\n      }\n    }\n  }\n]\n`;

  it('splits -T json into compact packets, whatever the chunking', () => {
    const bytes = Buffer.from(tsharkJson);
    for (const size of [1, 3, 7, 64, bytes.length]) {
      const s = createPacketSplitter('json');
      const out: Packet[] = [];
      for (let i = 0; i < bytes.length; i += size) out.push(...s.push(bytes.subarray(i, i + size)));
      out.push(...s.end());
      assert.equal(out.length, 2, `chunk size ${size}`);
      const second = JSON.parse(out[1]?.text ?? '') as {
        _source: { layers: { frame: Record<string, string> } };
      };
      assert.equal(second._source.layers.frame['frame.number'], '2');
      assert.equal(second._source.layers.frame['text'], 'a } b\n  },');
      assert.ok(!(out[0]?.text ?? '').includes('\n'), 'compact: one line per packet');
    }
  });

  it('drops a JSON packet left open when tshark was stopped mid-packet', () => {
    const s = createPacketSplitter('json');
    const cut = tsharkJson.slice(0, tsharkJson.indexOf('"2"'));
    const out = [...s.push(Buffer.from(cut)), ...s.end()];
    assert.equal(out.length, 1);
    assert.match(out[0]?.text ?? '', /"frame.number":"1"/);
  });

  it('keeps UTF-8 characters split across chunks', () => {
    const text = Buffer.from('1 → a\n2 ünïcödé\n');
    const s = createPacketSplitter('text');
    const out = [...s.push(text.subarray(0, 3)), ...s.push(text.subarray(3)), ...s.end()];
    assert.deepEqual(
      out.map((p) => p.text),
      ['1 → a', '2 ünïcödé'],
    );
  });

  it('keeps empty lines of the fields format: they are packets with no values', () => {
    const s = createPacketSplitter('fields');
    assert.deepEqual(
      [...s.push(Buffer.from('a\tb\n\n\tc\n')), ...s.end()].map((p) => p.text),
      ['a\tb', '', '\tc'],
    );
  });

  it('keeps only the head of a line larger than any page, but counts all of it', () => {
    const s = createPacketSplitter('fields');
    const huge = 'h'.repeat(MAX_PACKET_CHARS * 3);
    const out: Packet[] = [];
    for (let i = 0; i < huge.length; i += 65_536) out.push(...s.push(Buffer.from(huge.slice(i, i + 65_536))));
    out.push(...s.push(Buffer.from('\r\nnext\n')), ...s.end());
    assert.equal(out.length, 2);
    assert.equal(out[0]?.text.length, MAX_PACKET_CHARS);
    assert.equal(out[0]?.length, huge.length + 1, 'the CR of an over-long line is counted, not stripped');
    assert.deepEqual(out[1], { text: 'next', length: 4 });
  });

  it('does not keep a JSON packet larger than any page, but reports its size', () => {
    const s = createPacketSplitter('json');
    const bigValue = 'v'.repeat(MAX_PACKET_CHARS);
    const json = `[\n  {\n    "a": "${bigValue}",\n    "b": "${bigValue}"\n  },\n  {\n    "c": 1\n  }\n]\n`;
    const out = [...s.push(Buffer.from(json)), ...s.end()];
    assert.equal(out.length, 2);
    assert.equal(out[0]?.text, '');
    assert.ok((out[0]?.length ?? 0) > 2 * MAX_PACKET_CHARS);
    assert.deepEqual(out[1], { text: '{"c":1}', length: 7 });
  });
});

describe('an oversized JSON packet', () => {
  it('is named with a maxChars it fits in, whatever its size (every remainder of a thousand)', () => {
    const answer = new PagedAnswer('packets', {
      call: {
        tool: 'analyze_pcap_file',
        args: { filePath: '/tmp/x.pcapng', outputFormat: 'json', maxChars: 1000 },
      },
      head: ["Analysis of '/tmp/x.pcapng' complete!", 'Display Filter: http'],
      warnings: [],
      lead: ['', 'Packet Analysis Results:'],
    });
    const limit = 10;
    for (let length = 3000; length < 4000; length++) {
      const packet: Packet = { text: `{${'x'.repeat(length - 2)}}`, length };
      const first = new PageBuilder('json', {
        offset: 0,
        limit,
        maxChars: answer.bodyBudget(1000, 0, limit),
      });
      first.add(packet);
      const page = first.finish();
      assert.ok(page.oversized, `a ${length}-character packet does not fit in 1000`);
      const shown = answer.oversizedShown({ ...page, oversized: page.oversized }, 1000, limit);
      const named = Number(/"maxChars":(\d+)/.exec(/To see it: (.*?)\. To skip/.exec(shown)?.[1] ?? '')?.[1]);
      assert.ok(named > 0, shown);
      const again = new PageBuilder('json', {
        offset: 0,
        limit,
        maxChars: answer.bodyBudget(named, 0, limit),
      });
      again.add(packet);
      assert.equal(again.finish().shown, 1, `a ${length}-character packet in maxChars ${named}`);
    }
  });
});
