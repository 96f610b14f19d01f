// The npm package as a user gets it: `npm pack` holds only what runs, and installed into an empty
// project it answers --version, doctor and an MCP tools/list.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { tempDir } from './helpers/loopback-capture.js';
import { REPO } from './helpers/paths.js';

const run = promisify(execFile);

describe('npm package', () => {
  let dir = '';
  let tarball = '';
  let bin = '';
  before(async () => {
    dir = await tempDir();
    // The build has run; pack what it made (prepack would rebuild under the running tests).
    const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
      cwd: REPO,
    });
    const [info] = JSON.parse(stdout) as { filename: string }[];
    tarball = path.join(dir, info?.filename ?? '');
    const project = path.join(dir, 'project');
    await mkdir(project);
    await writeFile(
      path.join(project, 'package.json'),
      JSON.stringify({ name: 'empty', version: '1.0.0', private: true }),
    );
    await run('npm', ['install', '--no-audit', '--no-fund', tarball], { cwd: project });
    bin = path.join(project, 'node_modules', '.bin', 'sharkmcp');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('holds only the built code, the README, the LICENSE and package.json', async () => {
    const { stdout } = await run('tar', ['tzf', tarball]);
    const files = stdout.split('\n').filter((f) => f !== '');
    // The bin is the bundle (scripts/bundle.ts): what the tests run is what users run.
    assert.ok(files.includes('package/dist/bundle/sharkmcp.js'));
    assert.ok(files.includes('package/dist/bundle/server.cjs'));
    assert.ok(files.includes('package/README.md'));
    assert.ok(files.includes('package/LICENSE'));
    const stray = files.filter(
      (f) => !/^package\/(dist\/bundle\/.*\.c?js|README\.md|LICENSE|package\.json)$/.test(f),
    );
    assert.deepEqual(stray, [], 'nothing else: no tests, sources, maps, scripts or unbundled modules');
  });

  it('runs --version, doctor and an MCP tools/list once installed', async () => {
    const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
    assert.equal((await run(bin, ['--version'])).stdout.trim(), pkg.version);
    const doctor = await run(bin, ['doctor', '--json']).catch((err: { stdout: string }) => err);
    const report = JSON.parse(doctor.stdout) as { checks: { name: string }[] };
    assert.ok(report.checks.some((c) => c.name === 'tshark'));
    const client = new Client({ name: 'package-test', version: '1' });
    await client.connect(new StdioClientTransport({ command: bin, args: [], stderr: 'ignore' }));
    try {
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === 'start_capture_session'));
    } finally {
      await client.close();
    }
  });
});
