// `sharkmcp doctor` as a person runs it: every check with a verdict, a real capture proving
// permission, overrides reported as they are, and an exit status that says whether capture works.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { requireCapture } from './helpers/loopback-capture.js';
import { CLI } from './helpers/paths.js';

interface Report {
  ok: boolean;
  checks: { name: string; verdict: string; detail: string; fix?: string }[];
}

function doctor(
  env: Record<string, string> = {},
  wrapper: string[] = [],
): Promise<{ code: number | null; report: Report }> {
  return new Promise((resolve, reject) => {
    const command = wrapper[0] ?? process.execPath;
    const args =
      wrapper.length > 0
        ? [...wrapper.slice(1), process.execPath, CLI, 'doctor', '--json']
        : [CLI, 'doctor', '--json'];
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, report: JSON.parse(out) as Report }));
  });
}

describe('sharkmcp doctor', () => {
  it('passes here, proving capture with a real packet', async (t) => {
    if (!(await requireCapture(t))) return;
    const { code, report } = await doctor();
    assert.equal(code, 0);
    assert.equal(report.ok, true);
    const names = report.checks.map((c) => c.name);
    for (const n of [
      'Node.js',
      'tshark',
      'dumpcap',
      'capinfos',
      'editcap',
      'mergecap',
      'sharkd',
      'interfaces',
      'capture',
      'config directory',
      'capture directory',
    ]) {
      assert.ok(names.includes(n), `checks ${n}`);
    }
    assert.match(report.checks.find((c) => c.name === 'capture')?.detail ?? '', /captured a packet on lo/);
  });

  it('reports an override that points nowhere, and fails', async () => {
    const { code, report } = await doctor({ SHARKMCP_TSHARK: '/nowhere/tshark' });
    assert.equal(code, 1);
    const tshark = report.checks.find((c) => c.name === 'tshark');
    assert.equal(tshark?.verdict, 'fail');
    assert.match(tshark?.detail ?? '', /SHARKMCP_TSHARK is set to "\/nowhere\/tshark"/);
  });

  it('fails without capture permission and names the fix', async (t) => {
    if (!(await requireCapture(t))) return;
    if (process.getuid?.() !== 0) return t.skip('needs root, to run doctor as an unprivileged user');
    const { code, report } = await doctor({ SHARKMCP_CONFIG_DIR: '/tmp' }, [
      'setpriv',
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
    ]);
    assert.equal(code, 1);
    const capture = report.checks.find((c) => c.name === 'capture');
    assert.equal(capture?.verdict, 'fail');
    assert.match(capture?.fix ?? '', /setcap cap_net_raw,cap_net_admin=eip/);
  });
});
