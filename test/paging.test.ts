// Every paged tool, followed to its end the way an agent would: from a first call with a small
// page, send the exact call each "Next page:" line gives until an answer has none. The pages
// together must hold every item once and in order (as tshark, queried directly, lists them), each
// "shown" line must take up where the last one ended, and the last page must say nothing follows.
// On traffic made here in a capture session, and on corpus captures (skipped when ../shared is
// absent).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { requireCapture } from './helpers/loopback-capture.js';
import type { Session, ToolAnswer } from './helpers/mcp-client.js';
import { resultBody, useServer } from './helpers/mcp-client.js';
import { corpus } from './helpers/paths.js';
import { tsharkFields } from './helpers/tshark.js';

const run = promisify(execFile);

/** What a paged tool counts, as its "shown" line names it. */
type Unit = 'Packets' | 'Rows' | 'Chunks';

/**
 * Sends `args` to `tool`, then each "Next page:" call in turn, until an answer has none. Checks
 * on the way that every next call is the first one with only the offset changed, to where the
 * "shown" line ended. Returns the answers.
 */
async function allPages(
  mcp: Session,
  tool: string,
  args: Record<string, unknown>,
  unit: Unit,
): Promise<ToolAnswer[]> {
  const pages: ToolAnswer[] = [];
  let next: Record<string, unknown> | undefined = args;
  while (next) {
    const answer = await mcp.call(tool, next);
    assert.equal(answer.isError, false, answer.text);
    pages.push(answer);
    assert.ok(pages.length <= 60, `${tool} keeps giving a next page:\n${answer.text}`);
    const line = /^Next page: (\S+) (\{.*\})$/m.exec(answer.text);
    next = undefined;
    if (line) {
      assert.equal(line[1], tool, 'the next page is asked of the same tool');
      const shown = shownRange(answer.text, unit);
      next = JSON.parse(line[2] ?? '') as Record<string, unknown>;
      assert.deepEqual(next, { ...args, offset: shown.to }, 'the next call changes only the offset');
    }
  }
  return pages;
}

/** The range a page's "shown" line gives ("Rows shown: 11-20 of ..."), and the rest of the line. */
function shownRange(text: string, unit: Unit): { from: number; to: number; rest: string } {
  const m = new RegExp(`^${unit} shown: (\\d+)-(\\d+) (.*)$`, 'm').exec(text);
  assert.ok(m, `no "${unit} shown" range in:\n${text}`);
  return { from: Number(m[1]), to: Number(m[2]), rest: m[3] ?? '' };
}

/**
 * Checks the pages' "shown" lines against the items each page holds (`items`, one list a page):
 * each range starts where the last ended, counts the page's items, and says whether more follow;
 * the structured offsets agree. Returns the items of all pages in order.
 */
function checkPages<T>(pages: readonly ToolAnswer[], unit: Unit, items: (page: ToolAnswer) => T[]): T[] {
  const all: T[] = [];
  pages.forEach((page, i) => {
    const last = i === pages.length - 1;
    const shown = shownRange(page.text, unit);
    const held = items(page);
    assert.equal(shown.from, all.length + 1, `page ${i + 1} starts where page ${i} ended`);
    assert.equal(shown.to - shown.from + 1, held.length, `page ${i + 1}'s range counts its items`);
    assert.equal(page.structured?.['offset'], shown.from - 1);
    assert.equal(page.structured?.['nextOffset'], last ? null : shown.to);
    const more = unit === 'Packets' ? /more match\.$/ : /, and more follow\.$/;
    if (last) {
      assert.doesNotMatch(shown.rest, more, `the last page says nothing more follows:\n${page.text}`);
      assert.doesNotMatch(page.text, /^Next page:/m);
      if (unit === 'Packets')
        assert.match(shown.rest, pages.length === 1 ? /: all of them\.$/ : /: the last ones\.$/);
      else
        assert.match(
          shown.rest,
          new RegExp(`^of ${unit === 'Rows' ? '[\\d,]+ rows?' : all.length + held.length}\\.$`),
        );
    } else {
      assert.match(shown.rest, more, `page ${i + 1} says more follow`);
    }
    all.push(...held);
  });
  return all;
}

/** The first column of each line of a `fields` or `text` analysis answer: the frame numbers. */
function framesOfLines(page: ToolAnswer): number[] {
  return resultBody(page.text)
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => Number(/^\s*(\d+)\b/.exec(l)?.[1]));
}

/** The frame numbers of a `details` answer ("Frame 7: 74 bytes on wire ..."). */
function framesOfDetails(page: ToolAnswer): number[] {
  return [...resultBody(page.text).matchAll(/^Frame (\d+): /gm)].map((m) => Number(m[1]));
}

interface Chunk {
  readonly index: number;
  readonly fromA: boolean;
  readonly bytes: number;
}

/** follow_stream's chunks on a page, from their markers ("── A→B chunk 3, 12 bytes"). */
function chunksOf(page: ToolAnswer): Chunk[] {
  return [...page.text.matchAll(/^── (A→B|B→A) chunk (\d+), ([\d,]+) bytes?$/gm)].map((m) => ({
    index: Number(m[2]),
    fromA: m[1] === 'A→B',
    bytes: Number((m[3] ?? '').replace(/,/g, '')),
  }));
}

/** A TCP stream's chunks as tshark's raw follow lists them: one hex line each, B's indented. */
async function tsharkChunks(file: string, stream: number): Promise<Chunk[]> {
  const { stdout } = await run('tshark', ['-r', file, '-q', '-z', `follow,tcp,raw,${stream}`], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return [...stdout.matchAll(/^(\t?)([0-9a-f]+)$/gm)].map((m, i) => ({
    index: i + 1,
    fromA: m[1] === '',
    bytes: (m[2] ?? '').length / 2,
  }));
}

/**
 * Follows TCP stream `stream` of `file` (read as `source`) page by page from `args`; checks that
 * the pages hold the chunks tshark lists for it, each once and in order. Returns the pages and
 * how many chunks there are.
 */
async function followAll(
  mcp: Session,
  file: string,
  args: { source: string; stream: number } & Record<string, unknown>,
): Promise<{ pages: ToolAnswer[]; chunks: number }> {
  const pages = await allPages(mcp, 'follow_stream', args, 'Chunks');
  const expected = await tsharkChunks(file, args.stream);
  assert.deepEqual(checkPages(pages, 'Chunks', chunksOf), expected);
  return { pages, chunks: expected.length };
}

/** A corpus capture's path; the test is skipped when ../shared is absent. */
function corpusOrSkip(t: TestContext, relative: string): string | undefined {
  const file = corpus(relative);
  if (!file) t.skip('../shared/captures is absent');
  return file;
}

const frameNumbers = async (file: string, filter?: string): Promise<number[]> =>
  (await tsharkFields(file, ['frame.number'], filter === undefined ? {} : { filter })).map((r) =>
    Number(r[0]),
  );

describe('paging on traffic made here, through a capture session', () => {
  const server = useServer();
  const DATAGRAMS = 30;
  const ROUNDS = 12;
  const CONNECTIONS = 7;
  let made: string | undefined;
  /** The session's capture file, which the first test makes. */
  const madeFile = (): string => {
    assert.ok(made, 'the stop_capture_session test made the capture');
    return made;
  };

  it('stop_capture_session: its next pages re-read the session, every packet once', async (t) => {
    if (!(await requireCapture(t))) return;
    const receiver = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => receiver.bind(0, '127.0.0.1', resolve));
    const echo = net.createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    const udpPort = receiver.address().port;
    const tcpPort = (echo.address() as net.AddressInfo).port;
    try {
      const started = await server.mcp.call('start_capture_session', {
        captureFilter: `host 127.0.0.1 and (udp port ${udpPort} or tcp port ${tcpPort})`,
        sessionName: 'paging',
      });
      assert.equal(started.isError, false, started.text);
      await sendDatagrams(udpPort, DATAGRAMS);
      await pingPong(tcpPort, ROUNDS);
      for (let i = 0; i < CONNECTIONS - 1; i++) await pingPong(tcpPort, 1);
    } finally {
      receiver.close();
      echo.close();
    }

    const first = {
      sessionId: 'paging',
      outputFormat: 'fields',
      customFields: 'frame.number,data.data',
      limit: 25,
    };
    const pages = await allPages(server.mcp, 'stop_capture_session', first, 'Packets');
    const session = pages[0]?.structured?.['session'] as { file: string } | undefined;
    assert.ok(session, 'the answer describes the session');
    const file = session.file;
    made = file;
    const lines = checkPages(pages, 'Packets', (p) =>
      resultBody(p.text)
        .split('\n')
        .filter((l) => l !== ''),
    );
    assert.deepEqual(
      lines.map((l) => Number(l.split('\t')[0])),
      await frameNumbers(file),
    );
    // The datagrams, in the order they were sent, each once.
    const sent = lines
      .map((l) => Buffer.from(l.split('\t')[1] ?? '', 'hex').toString())
      .filter((payload) => payload.startsWith('datagram '));
    assert.deepEqual(
      sent,
      Array.from({ length: DATAGRAMS }, (_, i) => `datagram ${i}`),
    );
  });

  it('analyze_pcap_file: the session by its ID, text cut by maxChars, every packet once', async (t) => {
    if (!(await requireCapture(t))) return;
    const file = madeFile();
    const pages = await allPages(
      server.mcp,
      'analyze_pcap_file',
      { source: 'paging', displayFilter: 'udp', maxChars: 1_500 },
      'Packets',
    );
    assert.ok(pages.length > 2, `${pages.length} pages`);
    assert.ok(pages.every((p) => p.text.length <= 1_500));
    assert.ok(pages.slice(0, -1).some((p) => /cut there by maxChars; more match\.$/m.test(p.text)));
    assert.deepEqual(checkPages(pages, 'Packets', framesOfLines), await frameNumbers(file, 'udp'));
  });

  it('get_packet_details: a selection of frames, a few trees a page', async (t) => {
    if (!(await requireCapture(t))) return;
    const file = madeFile();
    const pages = await allPages(
      server.mcp,
      'get_packet_details',
      { source: 'paging', frames: '2-14,20,25-27', protocols: ['udp', 'tcp'], limit: 4 },
      'Packets',
    );
    const wanted = (await frameNumbers(file)).filter(
      (n) => (n >= 2 && n <= 14) || n === 20 || (n >= 25 && n <= 27),
    );
    assert.equal(pages.length, Math.ceil(wanted.length / 4));
    assert.deepEqual(checkPages(pages, 'Packets', framesOfDetails), wanted);
  });

  it('inspect_protocol: one tcp_health row per connection, in order', async (t) => {
    if (!(await requireCapture(t))) return;
    const file = madeFile();
    const pages = await allPages(
      server.mcp,
      'inspect_protocol',
      { source: 'paging', kind: 'tcp_health', limit: 3 },
      'Rows',
    );
    const rows = checkPages(
      pages,
      'Rows',
      (p) => p.structured?.['rows'] as { stream: number; packets: number }[],
    );
    // The text holds the same rows as the structured content, one line each under the columns.
    for (const page of pages) {
      const body = page.text
        .slice(page.text.indexOf('\nstream\t') + 1)
        .split('\n')
        .slice(1);
      assert.equal(body.length, (page.structured?.['rows'] as unknown[]).length);
    }
    const packets = new Map<number, number>();
    for (const [stream] of await tsharkFields(file, ['tcp.stream'], { filter: 'tcp' }))
      packets.set(Number(stream), (packets.get(Number(stream)) ?? 0) + 1);
    assert.equal(packets.size, CONNECTIONS);
    assert.deepEqual(
      rows.map((r) => [r.stream, r.packets]),
      [...packets],
    );
  });

  it('follow_stream: a many-turn conversation, a few chunks a page', async (t) => {
    if (!(await requireCapture(t))) return;
    const file = madeFile();
    const { pages, chunks } = await followAll(server.mcp, file, { source: 'paging', stream: 0, limit: 5 });
    assert.equal(chunks, 2 * ROUNDS);
    const text = pages.map((p) => p.text).join('\n');
    for (let i = 0; i < ROUNDS; i++)
      assert.equal(text.split(`ping ${i}\n`).length - 1, 2, `ping ${i}: sent and echoed`);
  });
});

describe('paging on corpus captures', () => {
  const server = useServer();

  it('analyze_pcap_file: fields by limit, every frame of the capture once', async (t) => {
    const file = corpusOrSkip(t, 'FoxIO-LLC-ja4/pcap/latest.pcapng');
    if (!file) return;
    const pages = await allPages(
      server.mcp,
      'analyze_pcap_file',
      { filePath: file, outputFormat: 'fields', customFields: 'frame.number,ip.src', limit: 40 },
      'Packets',
    );
    assert.equal(pages.length, Math.ceil(209 / 40));
    assert.deepEqual(checkPages(pages, 'Packets', framesOfLines), await frameNumbers(file));
    // Each page states the total: a lower bound while tshark stopped at a full page, exact at the end.
    pages.forEach((page, i) => {
      const last = i === pages.length - 1;
      const end = Math.min((i + 1) * 40, 209);
      assert.match(
        page.text,
        new RegExp(`^Packets shown: .*; ${last ? '' : 'at least '}${last ? 209 : end + 1} in all\\)`, 'm'),
      );
    });
  });

  it('analyze_pcap_file: json, whole packets a page, every match once', async (t) => {
    const file = corpusOrSkip(t, 'FoxIO-LLC-ja4/pcap/latest.pcapng');
    if (!file) return;
    const pages = await allPages(
      server.mcp,
      'analyze_pcap_file',
      { source: file, outputFormat: 'json', displayFilter: 'dns', limit: 8 },
      'Packets',
    );
    const frames = checkPages(pages, 'Packets', (p) =>
      (JSON.parse(resultBody(p.text)) as { _source: { layers: { frame: Record<string, string> } } }[]).map(
        (packet) => Number(packet._source.layers.frame['frame.number']),
      ),
    );
    assert.deepEqual(frames, await frameNumbers(file, 'dns'));
  });

  it('inspect_protocol: http rows cut by maxChars, every request once', async (t) => {
    const file = corpusOrSkip(t, 'FoxIO-LLC-ja4/pcap/http1.pcapng');
    if (!file) return;
    const pages = await allPages(
      server.mcp,
      'inspect_protocol',
      { source: file, kind: 'http', maxChars: 1_000 },
      'Rows',
    );
    assert.ok(pages.length > 2, `${pages.length} pages`);
    assert.ok(pages.every((p) => p.text.length <= 1_000));
    const rows = checkPages(pages, 'Rows', (p) => p.structured?.['rows'] as { frame: number }[]);
    // A row per request, and one per response whose request is not in the capture.
    const messages = await tsharkFields(file, ['frame.number', 'http.request', 'http.request_in'], {
      filter: 'http.request || http.response',
    });
    const requests = new Set(messages.filter((m) => m[1] === '1').map((m) => m[0]));
    assert.deepEqual(
      rows.map((r) => r.frame),
      messages.filter((m) => m[1] === '1' || !requests.has(m[2])).map((m) => Number(m[0])),
    );
  });

  it('follow_stream: a telnet session, ten chunks a page, every chunk once', async (t) => {
    const file = corpusOrSkip(t, 'chrissanders-packets/ppa1e/telnet.pcap');
    if (!file) return;
    const { pages, chunks } = await followAll(server.mcp, file, { source: file, stream: 0, limit: 10 });
    assert.equal(pages.length, Math.ceil(chunks / 10));
  });

  it('follow_stream: hex dumps longer than maxChars, one cut chunk a page', async (t) => {
    const file = corpusOrSkip(t, 'FoxIO-LLC-ja4/pcap/http1.pcapng');
    if (!file) return;
    const { pages } = await followAll(server.mcp, file, {
      source: file,
      stream: 28,
      format: 'hex',
      maxChars: 4_000,
    });
    assert.ok(pages.every((p) => p.text.length <= 4_000));
    assert.ok(pages.some((p) => /^\[chunk cut at maxChars: [\d,]+ characters in all\]$/m.test(p.text)));
  });
});

/** Sends `count` datagrams "datagram 0", "datagram 1", ... to 127.0.0.1:port, one after the other. */
async function sendDatagrams(port: number, count: number): Promise<void> {
  const socket = dgram.createSocket('udp4');
  try {
    for (let i = 0; i < count; i++) {
      await new Promise<void>((resolve, reject) =>
        socket.send(`datagram ${i}`, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
      );
    }
  } finally {
    socket.close();
  }
}

/** One connection to an echo server: "ping 0\n" ... sent one at a time, each after its echo. */
async function pingPong(port: number, rounds: number): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  try {
    for (let i = 0; i < rounds; i++) {
      const line = `ping ${i}\n`;
      const echoed = new Promise<void>((resolve) => {
        let got = '';
        const onData = (data: Buffer): void => {
          got += data.toString();
          if (got === line) {
            socket.off('data', onData);
            resolve();
          }
        };
        socket.on('data', onData);
      });
      socket.write(line);
      await echoed;
    }
  } finally {
    await new Promise<void>((resolve) => socket.end(resolve));
  }
}
