// completion/complete and resource subscriptions through a real MCP client over stdio: what a
// prompt argument or the captures template can be (this client's sessions, saved configurations,
// digest kinds, interfaces, capture files inside the allowed directories and nothing outside), and
// a running session's resource told as its packets arrive, at a bounded rate.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { INSPECT_KINDS } from '../src/analysis/digests/index.js';
import { requireCapture, tempDir } from './helpers/loopback-capture.js';
import { connect } from './helpers/mcp-client.js';
import type { Session } from './helpers/mcp-client.js';

/** Starts session `name` on loopback, capturing UDP to `port` for a minute. */
async function startOnLoopback(mcp: Session, name: string, port: number): Promise<void> {
  const started = await mcp.call('start_capture_session', {
    interface: 'lo',
    captureFilter: `udp port ${port}`,
    timeout: 60,
    sessionName: name,
  });
  assert.equal(started.isError, false, started.text);
}

describe('completion/complete', () => {
  let dir: string;
  let mcp: Session;

  before(async () => {
    dir = await tempDir();
    await mkdir(path.join(dir, 'sub'));
    for (const f of ['a.pcap', 'b.pcapng', 'notes.txt', 'sub/c.cap']) await writeFile(path.join(dir, f), '');
    mcp = await connect({
      SHARKMCP_ALLOWED_DIRS: dir,
      SHARKMCP_CONFIG_DIR: path.join(dir, 'config'),
    });
  });
  after(async () => {
    await mcp?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const prompt = async (name: string, argument: string, value: string): Promise<string[]> =>
    (
      await mcp.client.complete({
        ref: { type: 'ref/prompt', name },
        argument: { name: argument, value },
      })
    ).completion.values;

  it('says the server completes', () => {
    assert.ok(mcp.client.getServerCapabilities()?.completions !== undefined);
  });

  it('completes inspect_protocol kinds', async () => {
    assert.deepEqual(
      await prompt('triage_capture', 'kind', 'd'),
      INSPECT_KINDS.filter((k) => k.startsWith('d')),
    );
    assert.ok((await prompt('triage_capture', 'kind', '')).includes('http'));
  });

  it('completes capture files and folders inside the allowed directories, and nothing outside', async () => {
    const real = (await prompt('triage_capture', 'source', ''))[0];
    assert.ok(real?.endsWith('/'), 'an empty value offers the roots');
    const inDir = await prompt('triage_capture', 'source', `${dir}/`);
    assert.deepEqual(inDir, [`${dir}/a.pcap`, `${dir}/b.pcapng`, `${dir}/sub/`]);
    assert.deepEqual(await prompt('triage_capture', 'source', `${dir}/b`), [`${dir}/b.pcapng`]);
    assert.deepEqual(await prompt('triage_capture', 'source', `${dir}/sub/`), [`${dir}/sub/c.cap`]);
    // A keylog is any file.
    assert.ok((await prompt('tls_handshake_failure', 'keylog', `${dir}/`)).includes(`${dir}/notes.txt`));
    // Outside the allowed directories nothing is listed, whatever is there; "/" offers the roots.
    assert.deepEqual(await prompt('triage_capture', 'source', '/etc/'), []);
    await symlink('/etc', path.join(dir, 'sub', 'out'));
    assert.deepEqual(
      await prompt('triage_capture', 'source', `${dir}/sub/out/`),
      [],
      'not through a symlink',
    );
    assert.deepEqual(await prompt('triage_capture', 'source', '/etc/pass'), []);
    const top = await prompt('triage_capture', 'source', '/');
    assert.ok(top.includes(`${dir}/`) && top.every((v) => !v.startsWith('/etc')), top.join(', '));
  });

  it('completes saved configurations and interfaces', async () => {
    const saved = await mcp.call('manage_config', {
      action: 'save',
      name: 'web-debug',
      config: { interface: 'lo', captureFilter: 'tcp port 8080', timeout: 30 },
    });
    assert.equal(saved.isError, false, saved.text);
    assert.deepEqual(await prompt('debug_http_client', 'config', 'web'), ['web-debug']);
    assert.deepEqual(await prompt('debug_http_client', 'config', 'x'), []);
    const listed = await mcp.call('list_interfaces', {});
    const names = ((listed.structured?.['local'] ?? []) as { name: string }[]).map((i) => i.name);
    assert.ok(names.length > 0, listed.text);
    assert.deepEqual(await prompt('slow_connection', 'interface', ''), names);
  });

  it('offers nothing, without an error, for an argument that does not complete or a prompt there is not', async () => {
    assert.deepEqual(await prompt('debug_http_client', 'port', '8'), []);
    assert.deepEqual(await prompt('no_such_prompt', 'source', ''), []);
  });

  it("completes this client's session ids, for prompts and for the captures template", async (t) => {
    if (!(await requireCapture(t))) return;
    await startOnLoopback(mcp, 'complete-me', 47901);
    try {
      assert.ok((await prompt('triage_capture', 'source', 'compl')).includes('complete-me'));
      const template = async (
        name: string,
        value: string,
        context?: Record<string, string>,
      ): Promise<string[]> =>
        (
          await mcp.client.complete({
            ref: { type: 'ref/resource', uri: 'sharkmcp://captures/{kind}/{id}' },
            argument: { name, value },
            ...(context && { context: { arguments: context } }),
          })
        ).completion.values;
      assert.deepEqual(await template('kind', ''), ['session', 'file']);
      assert.deepEqual(await template('id', 'complete', { kind: 'session' }), ['complete-me']);
      // Another client's sessions are not this one's to see.
      const other = await connect({ SHARKMCP_ALLOWED_DIRS: dir });
      try {
        const values = (
          await other.client.complete({
            ref: { type: 'ref/prompt', name: 'triage_capture' },
            argument: { name: 'source', value: 'compl' },
          })
        ).completion.values;
        assert.deepEqual(values, []);
      } finally {
        await other.close();
      }
    } finally {
      await mcp.call('delete_capture_session', { sessionId: 'complete-me' });
    }
  });
});

describe('resource subscriptions', () => {
  it("tells a subscriber of a running session's resource as packets arrive, at most once a second, and when it ends", async (t) => {
    if (!(await requireCapture(t))) return;
    const mcp = await connect({});
    const updates: number[] = [];
    mcp.client.setNotificationHandler('notifications/resources/updated', (n) => {
      if (n.params.uri === 'sharkmcp://captures/session/watched') updates.push(Date.now());
    });
    const socket = dgram.createSocket('udp4');
    try {
      assert.equal(mcp.client.getServerCapabilities()?.resources?.subscribe, true);
      await startOnLoopback(mcp, 'watched', 47902);
      await mcp.client.subscribeResource({ uri: 'sharkmcp://captures/session/watched' });
      // Quiet: nothing to tell.
      await delay(1_500);
      assert.equal(updates.length, 0, 'no update without new packets');
      // Three seconds of datagrams, hundreds a second: a few updates, not hundreds.
      const from = Date.now();
      while (Date.now() - from < 3_000) {
        await new Promise((r) => socket.send('x', 47902, '127.0.0.1', r));
        await delay(2);
      }
      await delay(1_200);
      const during = updates.length;
      assert.ok(during >= 2 && during <= 5, `${during} updates in about 4 s of packets`);
      for (let i = 1; i < updates.length; i++)
        assert.ok((updates[i] ?? 0) - (updates[i - 1] ?? 0) >= 900, 'at most one a second');
      // Its end is told at once.
      const stopped = await mcp.call('stop_capture_session', { sessionId: 'watched' });
      assert.equal(stopped.isError, false, stopped.text);
      for (let i = 0; i < 50 && updates.length === during; i++) await delay(50);
      assert.ok(updates.length > during, 'the end is told');
      await mcp.client.unsubscribeResource({ uri: 'sharkmcp://captures/session/watched' });
    } finally {
      socket.close();
      await mcp.call('delete_capture_session', { sessionId: 'watched' }).catch(() => undefined);
      await mcp.close();
    }
  });
});
