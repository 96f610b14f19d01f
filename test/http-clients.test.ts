// Streamable HTTP against clients as they really are: ones that declare roots (and answer, never
// answer, or leave at once), ones on the newest protocol revision, and several at the same time.
// Each test ends by checking that the server still serves a second client.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  Client,
  ResourceNotFoundError,
  StreamableHTTPClientTransport,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { EMPTY_PCAP } from '../src/wireshark/tshark.js';
import { isProcessAlive } from '../src/util/pid.js';
import { requireCapture } from './helpers/loopback-capture.js';
import { CLI } from './helpers/paths.js';
import { startHttpServer, stopChildren } from './helpers/http-server.js';
import type { HttpChild } from './helpers/http-server.js';

after(stopChildren);

interface RootsBehaviour {
  /** Directories the client offers as roots; undefined: it declares roots but never answers. */
  readonly roots: readonly string[] | undefined;
}

async function connectWithRoots(url: string, behaviour: RootsBehaviour, revision?: string): Promise<Client> {
  const client = new Client(
    { name: 'roots-client', version: '1' },
    {
      capabilities: { roots: { listChanged: true } },
      ...(revision ? { versionNegotiation: { mode: { pin: revision } } } : {}),
    },
  );
  client.setRequestHandler('roots/list', () =>
    behaviour.roots === undefined
      ? new Promise(() => undefined)
      : Promise.resolve({
          roots: behaviour.roots.map((d) => ({ uri: pathToFileURL(d).href, name: path.basename(d) })),
        }),
  );
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

async function plainClient(url: string): Promise<Client> {
  const client = new Client({ name: 'second-client', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

function textOf(result: Awaited<ReturnType<Client['callTool']>>): string {
  return (result.content as { type: string; text?: string }[])
    .filter((c) => c.type === 'text')
    .map((c) => c.text ?? '')
    .join('\n');
}

/** A second client lists the tools and reads a capture in the operator's directory. */
async function assertStillServes(server: HttpChild, capture: string): Promise<void> {
  assert.equal(server.child.exitCode, null, `the server exited:\n${server.stderr()}`);
  const second = await plainClient(server.url);
  try {
    const { tools } = await second.listTools();
    assert.ok(tools.length > 0);
    const answer = await second.callTool({ name: 'analyze_pcap_file', arguments: { filePath: capture } });
    assert.equal(answer.isError ?? false, false, textOf(answer));
  } finally {
    await second.close();
  }
}

describe('HTTP clients that declare roots', () => {
  let base = '';
  let operatorDir = '';
  let rootDir = '';
  let elsewhere = '';
  before(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'sharkmcp-http-roots-'));
    for (const d of ['operator', 'root', 'elsewhere']) await mkdir(path.join(base, d));
    operatorDir = path.join(base, 'operator');
    rootDir = path.join(base, 'root');
    elsewhere = path.join(base, 'elsewhere');
    for (const d of [operatorDir, rootDir, elsewhere])
      await writeFile(path.join(d, 'empty.pcap'), EMPTY_PCAP);
  });
  after(() => rm(base, { recursive: true, force: true }));

  const server = (): Promise<HttpChild> => startHttpServer([], { SHARKMCP_ALLOWED_DIRS: operatorDir });

  for (const revision of [undefined, 'newest']) {
    it(`honours the roots it answers with: a file inside is read, one outside refused (${revision ?? '2025'} revision)`, async () => {
      const s = await server();
      const client = await connectWithRoots(
        s.url,
        { roots: [rootDir] },
        revision && (await newestOverStdio(operatorDir)),
      );
      try {
        if (revision) assert.equal(client.getNegotiatedProtocolVersion(), await newestOverStdio(operatorDir));
        const inside = await client.callTool({
          name: 'analyze_pcap_file',
          arguments: { filePath: path.join(rootDir, 'empty.pcap') },
        });
        assert.equal(inside.isError ?? false, false, textOf(inside));
        assert.match(textOf(inside), /holds 0 packets/);
        const outside = await client.callTool({
          name: 'analyze_pcap_file',
          arguments: { filePath: path.join(elsewhere, 'empty.pcap') },
        });
        assert.equal(outside.isError, true, textOf(outside));
        assert.match(textOf(outside), /outside the directories this server may use/);
        assert.ok(textOf(outside).includes(rootDir), 'the refusal names the client root');
      } finally {
        await client.close();
      }
      await assertStillServes(s, path.join(operatorDir, 'empty.pcap'));
    });
  }

  it('answers within seconds from the operator directories when roots/list is never answered', async () => {
    const s = await server();
    const client = await connectWithRoots(s.url, { roots: undefined });
    try {
      const started = Date.now();
      const answer = await client.callTool(
        { name: 'analyze_pcap_file', arguments: { filePath: path.join(operatorDir, 'empty.pcap') } },
        { timeout: 20_000 },
      );
      const took = Date.now() - started;
      assert.equal(answer.isError ?? false, false, textOf(answer));
      assert.ok(took < 10_000, `answered after ${took} ms`);
      // Asked once: the next call does not wait again.
      const again = Date.now();
      await client.callTool({
        name: 'analyze_pcap_file',
        arguments: { filePath: path.join(operatorDir, 'empty.pcap') },
      });
      assert.ok(Date.now() - again < 3_000, 'the second call did not wait for roots again');
      assert.match(s.stderr(), /roots\/list/);
    } finally {
      await client.close();
    }
    await assertStillServes(s, path.join(operatorDir, 'empty.pcap'));
  });

  it('survives a client that ends its session right after connecting', async () => {
    const s = await server();
    for (let i = 0; i < 3; i++) {
      const client = await connectWithRoots(s.url, { roots: [rootDir] });
      await client.listTools();
      await (client.transport as StreamableHTTPClientTransport).terminateSession();
      await client.close();
    }
    // A rejected roots request surfaced only after a moment in the old server.
    await new Promise((r) => setTimeout(r, 1_000));
    await assertStillServes(s, path.join(operatorDir, 'empty.pcap'));
  });
});

/** The revision a client that asks for the newest one gets over stdio, which serves every era. */
async function newestOverStdio(dir: string): Promise<string> {
  const client = new Client({ name: 'probe', version: '1' }, { versionNegotiation: { mode: 'auto' } });
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [CLI],
      env: { ...processEnv(), SHARKMCP_ALLOWED_DIRS: dir },
    }),
  );
  try {
    const version = client.getNegotiatedProtocolVersion();
    assert.ok(version !== undefined);
    return version;
  } finally {
    await client.close();
  }
}

function processEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined),
  );
}

describe('HTTP on the newest protocol revision', () => {
  it('serves a client pinned to the newest revision the SDK knows', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'sharkmcp-http-modern-'));
    try {
      await writeFile(path.join(dir, 'empty.pcap'), EMPTY_PCAP);
      const newest = await newestOverStdio(dir);
      const s = await startHttpServer([], { SHARKMCP_ALLOWED_DIRS: dir });
      const client = new Client(
        { name: 'modern-client', version: '1' },
        { versionNegotiation: { mode: { pin: newest } } },
      );
      await client.connect(new StreamableHTTPClientTransport(new URL(s.url)));
      try {
        assert.equal(client.getNegotiatedProtocolVersion(), newest);
        const { tools } = await client.listTools();
        assert.ok(tools.some((t) => t.name === 'analyze_pcap_file'));
        const answer = await client.callTool({
          name: 'analyze_pcap_file',
          arguments: { filePath: path.join(dir, 'empty.pcap') },
        });
        assert.equal(answer.isError ?? false, false, textOf(answer));
        assert.match(textOf(answer), /holds 0 packets/);
      } finally {
        await client.close();
      }
      await assertStillServes(s, path.join(dir, 'empty.pcap'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('HTTP on every 2025-era revision', () => {
  it('initializes with each revision the SDK supports and answers in it', async () => {
    const s = await startHttpServer([]);
    for (const version of SUPPORTED_PROTOCOL_VERSIONS) {
      const res = await fetch(s.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
        }),
      });
      const body = await res.text();
      assert.equal(res.status, 200, `${version}: ${body}`);
      const json = body.startsWith('{') ? body : (/^data: (.*)$/m.exec(body)?.[1] ?? '{}');
      const message = JSON.parse(json) as { result?: { protocolVersion?: string } };
      assert.equal(message.result?.protocolVersion, version, body);
    }
  });
});

describe('HTTP clients and their own captures', () => {
  const connectPlain = async (url: string): Promise<Client> => plainClient(url);
  const answer = async (client: Client, name: string, args: Record<string, unknown>): Promise<string> =>
    textOf(await client.callTool({ name, arguments: args }));

  it("keeps one client's capture sessions from another, which sees them as not there", async (t) => {
    if (!(await requireCapture(t))) return;
    const s = await startHttpServer([]);
    const a = await connectPlain(s.url);
    const b = await connectPlain(s.url);
    try {
      const started = await a.callTool({
        name: 'start_capture_session',
        arguments: { sessionName: 'mine', captureFilter: 'udp port 9', timeout: 60 },
      });
      assert.equal(started.isError ?? false, false, textOf(started));
      assert.match(await answer(a, 'list_capture_sessions', {}), /mine/);
      assert.doesNotMatch(await answer(b, 'list_capture_sessions', {}), /mine/);

      // Each of these answers exactly as it does for a session that never existed.
      const calls: [string, (id: string) => Record<string, unknown>][] = [
        ['stop_capture_session', (id) => ({ sessionId: id })],
        ['delete_capture_session', (id) => ({ sessionId: id })],
        ['summarize_capture', (id) => ({ source: id })],
        ['analyze_pcap_file', (id) => ({ source: id })],
      ];
      for (const [tool, args] of calls) {
        const theirs = await b.callTool({ name: tool, arguments: args('mine') });
        const none = await b.callTool({ name: tool, arguments: args('never-was') });
        assert.equal(theirs.isError, true, `${tool}: ${textOf(theirs)}`);
        assert.equal(textOf(theirs).replaceAll('mine', 'X'), textOf(none).replaceAll('never-was', 'X'), tool);
      }
      // A generated id of A's, given to B as a source: the same answer as an id that never was,
      // saying that sessions are per client, not that a file of that name is outside the roots.
      const unnamed = await a.callTool({
        name: 'start_capture_session',
        arguments: { captureFilter: 'udp port 9', timeout: 60 },
      });
      const id = /capture_\d{13}_[0-9a-f]{9}/.exec(textOf(unnamed))?.[0] ?? '';
      assert.ok(id, textOf(unnamed));
      const ofA = await b.callTool({ name: 'summarize_capture', arguments: { source: id } });
      const never = await b.callTool({
        name: 'summarize_capture',
        arguments: { source: 'capture_1700000000000_0123456ab' },
      });
      assert.equal(ofA.isError, true);
      assert.match(
        textOf(ofA),
        /no capture session '.*' for this client\..*--shared-sessions.*list_capture_sessions/,
      );
      assert.equal(
        textOf(ofA).replaceAll(id, 'X'),
        textOf(never).replaceAll('capture_1700000000000_0123456ab', 'X'),
      );
      await a.callTool({ name: 'delete_capture_session', arguments: { sessionId: id } });
      await assert.rejects(
        b.readResource({ uri: 'sharkmcp://captures/session/mine' }),
        ResourceNotFoundError,
      );
      const { resources } = await b.listResources();
      assert.ok(!resources.some((r) => r.uri.includes('mine')), 'B does not see A as a resource');

      // B may use the same name for a session of its own.
      const own = await b.callTool({
        name: 'start_capture_session',
        arguments: { sessionName: 'mine', captureFilter: 'udp port 9', timeout: 60 },
      });
      assert.equal(own.isError ?? false, false, textOf(own));
      await b.callTool({ name: 'delete_capture_session', arguments: { sessionId: 'mine' } });

      // A's session is untouched by all of that.
      const stopped = await a.callTool({ name: 'stop_capture_session', arguments: { sessionId: 'mine' } });
      assert.equal(stopped.isError ?? false, false, textOf(stopped));
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('shares one pool with --shared-sessions', async (t) => {
    if (!(await requireCapture(t))) return;
    const s = await startHttpServer(['--shared-sessions']);
    const a = await connectPlain(s.url);
    const b = await connectPlain(s.url);
    try {
      await a.callTool({
        name: 'start_capture_session',
        arguments: { sessionName: 'ours', captureFilter: 'udp port 9', timeout: 60 },
      });
      assert.match(await answer(b, 'list_capture_sessions', {}), /ours/);
      const stopped = await b.callTool({ name: 'stop_capture_session', arguments: { sessionId: 'ours' } });
      assert.equal(stopped.isError ?? false, false, textOf(stopped));
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('HTTP sessions a client left without ending', () => {
  it('closes a session idle past the limit, but not one with a running capture', async (t) => {
    const s = await startHttpServer([], { SHARKMCP_SESSION_IDLE_MINUTES: '0.02' });
    // A client that goes away without ending its session (no DELETE): its stream closes, nothing more.
    const vanished = await plainClient(s.url);
    await vanished.listTools();
    await vanished.close();
    const end = Date.now() + 10_000;
    // The log says "closing it", then "closed" once the transport has closed.
    while (!/HTTP session \S+ closed/.test(s.stderr()) && Date.now() < end) await delay(100);
    assert.match(s.stderr(), /HTTP session \S+ idle for \d+ s: closing it/);
    assert.match(s.stderr(), /HTTP session \S+ closed/);

    if (!(await requireCapture(t))) return;
    const capturing = await plainClient(s.url);
    const started = await capturing.callTool({
      name: 'start_capture_session',
      arguments: { sessionName: 'long', captureFilter: 'udp port 9', timeout: 60 },
    });
    const pid = (started.structuredContent as { pid: number | null }).pid;
    await capturing.close();
    await delay(3_000);
    const closings = s.stderr().match(/closing it/g) ?? [];
    assert.equal(closings.length, 1, 'the session with a running capture was not closed');
    assert.ok(pid !== null && isProcessAlive(pid), 'its capture runs on');
  });
});
