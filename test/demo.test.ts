// `sharkmcp demo` as the README runs it: it captures, shows what an agent reads (the HTTP requests,
// the DNS answer, the decrypted HTTPS request) and leaves nothing behind.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import os from 'node:os';
import { describe, it } from 'node:test';
import { requireCapture } from './helpers/loopback-capture.js';
import { CLI } from './helpers/paths.js';

describe('sharkmcp demo', () => {
  it('shows the traffic it made, decrypted, and cleans up', async (t) => {
    if (!(await requireCapture(t))) return;
    const before = new Set(readdirSync(os.tmpdir()).filter((n) => n.startsWith('sharkmcp-demo-')));
    const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, 'demo'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (c: Buffer) => (text += c.toString()));
      child.on('error', reject);
      child.on('exit', (exit) => resolve({ code: exit, out: text }));
    });
    assert.equal(code, 0, out);
    assert.match(out, /━━ start_capture_session ━━\nCapture session started successfully!\nSession ID: demo/);
    assert.match(out, /GET\t\S+\t\/api\/users\t200 OK/);
    assert.match(out, /GET\t\S+\t\/missing\t404 Not Found/);
    assert.match(out, /api\.demo\.test\tA\tNOERROR\t10\.20\.30\.40/);
    if (!out.includes('openssl is not installed')) assert.match(out, /\/account\?token=demo\t200 OK/);
    const after = readdirSync(os.tmpdir()).filter((n) => n.startsWith('sharkmcp-demo-') && !before.has(n));
    assert.deepEqual(after, [], 'the demo removed its files');
  });
});
