// Locating Wireshark's tools: found on PATH or in the platform's usual places with their version;
// an override that points nowhere is reported as such and never silently replaced.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ToolMissingError } from '../src/errors.js';
import { locateWiresharkTools } from '../src/wireshark/locate.js';
import { ProcessGroup } from '../src/wireshark/process.js';

describe('locateWiresharkTools', () => {
  const group = new ProcessGroup();
  after(() => group.close());

  it('finds tshark, dumpcap and capinfos with the same Wireshark version', async () => {
    const tools = await locateWiresharkTools(group);
    const versions = tools.all().map((s) => (s.found ? s.version : s.reason));
    for (const s of tools.all()) assert.ok(s.found, `${s.name}: ${s.found ? '' : s.reason}`);
    assert.equal(new Set(versions).size, 1, versions.join(', '));
    assert.match(versions[0] ?? '', /^\d+\.\d+\.\d+$/);
  });

  it('looks in the usual install places when PATH does not have them', async () => {
    const tools = await locateWiresharkTools(group, { PATH: '' });
    const tshark = tools.status('tshark');
    assert.ok(tshark.found);
    assert.equal(tshark.source, 'platform');
  });

  it('reports an override that points nowhere instead of using another tshark', async () => {
    const tools = await locateWiresharkTools(group, { ...process.env, SHARKMCP_TSHARK: '/nowhere/tshark' });
    const tshark = tools.status('tshark');
    assert.equal(tshark.found, false);
    assert.match(tshark.found ? '' : tshark.reason, /SHARKMCP_TSHARK is set to "\/nowhere\/tshark"/);
    assert.throws(
      () => tools.require('tshark'),
      (err: unknown) =>
        err instanceof ToolMissingError && /Fix or unset SHARKMCP_TSHARK\.$/.test(err.message),
    );
    assert.ok(tools.status('dumpcap').found, 'the other tools are unaffected');
  });

  it('says how to install a tool that is nowhere', async () => {
    const empty = await mkdtemp(path.join(os.tmpdir(), 'sharkmcp-test-'));
    try {
      const tools = await locateWiresharkTools(group, { PATH: empty }, [empty]);
      const tshark = tools.status('tshark');
      assert.equal(tshark.found, false);
      assert.match(tshark.found ? '' : tshark.reason, /tshark was not found on PATH/);
      assert.match(
        tshark.found ? '' : tshark.reason,
        /apt-get install -y tshark|brew install|winget install/,
      );
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('uses an override that points at a real tool', async () => {
    const real = (await locateWiresharkTools(group)).require('tshark');
    const tools = await locateWiresharkTools(group, { PATH: '', SHARKMCP_TSHARK: real });
    const tshark = tools.status('tshark');
    assert.ok(tshark.found);
    assert.equal(tshark.source, 'env');
  });
});
