// Finding field names: list_fields through a real MCP client, checked against tshark's own field
// list (`tshark -G fields`, read here directly); the close-match hint for an unknown field, which
// reads descriptions too; and the plain hints under a display filter error, each of whose rewrites
// tshark must accept.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { before, describe, it } from 'node:test';
import { useServer } from './helpers/in-process.js';
import type { Session } from './helpers/mcp-client.js';
import { EMPTY_PCAP } from '../src/wireshark/tshark.js';
import { abbreviates } from '../src/wireshark/field-suggestions.js';
import { captureToDisplay } from '../src/wireshark/filter-hints.js';

const run = promisify(execFile);

interface Found {
  field: string;
  type: string;
  protocol: string;
  name: string;
  description: string;
}

async function listFields(
  mcp: Session,
  args: Record<string, unknown>,
): Promise<{ text: string; fields: Found[]; total: number; next: number | null }> {
  const answer = await mcp.call('list_fields', args);
  assert.equal(answer.isError, false, answer.text);
  const s = answer.structured ?? {};
  return {
    text: answer.text,
    fields: s['fields'] as Found[],
    total: s['total'] as number,
    next: s['nextOffset'] as number | null,
  };
}

describe('list_fields', () => {
  const server = useServer();
  /** tshark's own field list: abbrev → [type, parent]. */
  const glossary = new Map<string, [string, string]>();

  before(async () => {
    const { stdout } = await run('tshark', ['-G', 'fields'], { maxBuffer: 64 * 1024 * 1024 });
    for (const line of stdout.split('\n')) {
      const c = line.split('\t');
      if (c[0] === 'F' && c[2]) glossary.set(c[2], [c[3] ?? '', c[4] ?? '']);
    }
  });

  it('"your ip address" in dhcp finds dhcp.ip.your first, with its type', async () => {
    const { fields, text } = await listFields(server.mcp, { protocol: 'dhcp', search: 'your ip address' });
    assert.equal(fields[0]?.field, 'dhcp.ip.your', text);
    assert.equal(fields[0]?.type, glossary.get('dhcp.ip.your')?.[0]);
    assert.match(fields[0]?.name ?? '', /your.*ip address/i);
    // Without the protocol, every protocol is searched, and dhcp.ip.your is still among the first.
    const anywhere = await listFields(server.mcp, { search: 'your ip address', limit: 10 });
    assert.ok(
      anywhere.fields.some((f) => f.field === 'dhcp.ip.your'),
      anywhere.text,
    );
    assert.ok(anywhere.fields.every((f) => /your/i.test(`${f.field} ${f.name} ${f.description}`)));
  });

  it("a protocol's fields: all of them, counted, paged with the exact next call", async () => {
    const expected = [...glossary].filter(([, [, parent]]) => parent === 'dns').map(([f]) => f);
    const first = await listFields(server.mcp, { protocol: 'dns', limit: 100 });
    // tshark's list has the protocol's own entry ("dns") too.
    assert.equal(first.total, expected.length + 1);
    assert.match(first.text, new RegExp(`Fields of dns: ${first.total.toLocaleString('en-US')} in all`));
    assert.equal(first.next, 100);
    assert.match(first.text, /Next page: list_fields \{"protocol":"dns","limit":100,"offset":100\}/);
    const seen = new Set(first.fields.map((f) => f.field));
    for (let offset: number | null = first.next; offset !== null;) {
      const page = await listFields(server.mcp, { protocol: 'dns', limit: 100, offset });
      for (const f of page.fields) seen.add(f.field);
      offset = page.next;
    }
    assert.deepEqual([...seen].filter((f) => f !== 'dns').sort(), expected.sort());
  });

  it('an unknown protocol, or no question, is a clear error', async () => {
    const typo = await server.mcp.call('list_fields', { protocol: 'dnss' });
    assert.equal(typo.isError, true);
    assert.match(typo.text, /knows no protocol "dnss"\. Close names: .*\bdns\b/);
    const none = await server.mcp.call('list_fields', {});
    assert.equal(none.isError, true);
    assert.match(none.text, /Give protocol .*search/);
  });

  it('answers fast once the field list is loaded', async () => {
    await listFields(server.mcp, { protocol: 'tcp', limit: 1 });
    const started = performance.now();
    await listFields(server.mcp, { search: 'retransmission timeout', limit: 5 });
    const ms = performance.now() - started;
    assert.ok(ms < 2_000, `a search over every field took ${Math.round(ms)} ms`);
  });
});

describe('hints for unknown fields and bad display filters', () => {
  const server = useServer();
  let file = '';
  before(async () => {
    file = path.join(server.dir, 'empty.pcap');
    await writeFile(file, EMPTY_PCAP);
  });

  const analyze = (args: Record<string, unknown>) =>
    server.mcp.call('analyze_pcap_file', { filePath: file, ...args });

  it("dhcp.yiaddr (another tool's name) points at dhcp.ip.your, as a field and in a filter", async () => {
    const asField = await analyze({ outputFormat: 'fields', customFields: 'dhcp.yiaddr,dhcp.giaddr' });
    assert.equal(asField.isError, true);
    assert.match(asField.text, /- dhcp\.yiaddr: unknown\. Close matches: dhcp\.ip\.your\b/);
    assert.match(asField.text, /- dhcp\.giaddr: unknown\. Close matches: dhcp\.ip\.relay\b/);
    const inFilter = await analyze({ displayFilter: 'dhcp.yiaddr == 10.0.0.5' });
    assert.equal(inFilter.isError, true);
    assert.match(inFilter.text, /Hint: dhcp\.yiaddr is not a field; close matches: dhcp\.ip\.your\b/);
  });

  for (const [filter, hint] of [
    ['tcp.port in {382 415}', 'tcp.port in {382, 415}'],
    ['http.request.uri == /index.html && tcp', 'http.request.uri == "/index.html" && tcp'],
    ['tcp port 80', 'tcp.port == 80'],
    ['port 53', '(tcp.port == 53 || udp.port == 53)'],
    ['host 127.83.20.1 and not port 22', 'ip.addr == 127.83.20.1 && !(tcp.port == 22 || udp.port == 22)'],
  ] as const) {
    it(`"${filter}" gets a hint with a filter tshark accepts`, async () => {
      const bad = await analyze({ displayFilter: filter });
      assert.equal(bad.isError, true);
      assert.ok(bad.text.includes(hint), bad.text);
      assert.match(bad.text, /tshark says:/);
      const good = await analyze({ displayFilter: hint });
      assert.equal(good.isError, false, good.text);
    });
  }

  it('reads abbreviations against display names, and simple capture filters', () => {
    assert.equal(abbreviates('yiaddr', ['your', 'client', 'ip', 'address']), 1);
    assert.equal(abbreviates('yiaddr', ['client', 'ip', 'address']), undefined);
    assert.equal(
      captureToDisplay('src host 10.0.0.1 or dst port 443'),
      'ip.src == 10.0.0.1 || (tcp.dstport == 443 || udp.dstport == 443)',
    );
    assert.equal(captureToDisplay('udp portrange 5060-5070'), 'udp.port in {5060..5070}');
    assert.equal(captureToDisplay('ether proto 0x0800'), undefined);
  });
});
