// The npm package as a user gets it: `npm pack` holds only what runs (and the native sources it
// builds at install), and installed into an empty project it answers --version, doctor and an MCP
// tools/list; the summary counter is built at install where the machine can, or by
// `sharkmcp setup`, and doctor's advice names the command that fits the package.
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

  it('holds only the built code, the native sources, the README, the LICENSE and package.json', async () => {
    const { stdout } = await run('tar', ['tzf', tarball]);
    const files = stdout.split('\n').filter((f) => f !== '');
    // The bin is the bundle (scripts/bundle.ts): what the tests run is what users run.
    assert.ok(files.includes('package/dist/bundle/sharkmcp.js'));
    assert.ok(files.includes('package/dist/bundle/server.cjs'));
    assert.ok(files.includes('package/README.md'));
    assert.ok(files.includes('package/LICENSE'));
    for (const source of ['summary-counter.c', 'summary-counter.lua', 'sock-diag.c', 'ring-drain.c'])
      assert.ok(files.includes(`package/native/${source}`), `native/${source}, built at install`);
    const stray = files.filter(
      (f) =>
        !/^package\/(dist\/bundle\/.*\.c?js|native\/[\w-]+\.(c|lua)|README\.md|LICENSE|package\.json)$/.test(
          f,
        ),
    );
    assert.deepEqual(stray, [], 'nothing else: no tests, TypeScript, maps, scripts or unbundled modules');
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

/** A pcap file of one 60-byte Ethernet frame (record framing written by hand). */
function onePacketPcap(): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65_535, 16);
  header.writeUInt32LE(1, 20);
  const record = Buffer.alloc(16 + 60);
  record.writeUInt32LE(1_700_000_000, 0);
  record.writeUInt32LE(60, 8);
  record.writeUInt32LE(60, 12);
  return Buffer.concat([header, record]);
}

describe('the summary counter of an installed package', () => {
  it('is built at install where the machine can, rebuilt by sharkmcp setup, and doctor says so', async (t) => {
    const canBuild = await run('pkg-config', ['--exists', 'wireshark']).then(
      () => true,
      () => false,
    );
    if (!canBuild)
      return t.skip("no pkg-config or Wireshark's headers here: nothing can be built at install");
    const dir = await tempDir();
    try {
      const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
        cwd: REPO,
      });
      const [info] = JSON.parse(stdout) as { filename: string }[];
      const tarball = path.join(dir, info?.filename ?? '');
      // A global install into a scratch prefix, as `npm install -g` does.
      const prefix = path.join(dir, 'prefix');
      await run('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', tarball]);
      const bin = path.join(prefix, 'bin', 'sharkmcp');
      const counter = async (): Promise<{ verdict: string; detail: string; fix?: string }> => {
        const doctor = await run(bin, ['doctor', '--json']).catch((err: { stdout: string }) => err);
        const report = JSON.parse(doctor.stdout) as {
          checks: { name: string; verdict: string; detail: string; fix?: string }[];
        };
        const check = report.checks.find((c) => c.name === 'summary counter');
        assert.ok(check, doctor.stdout);
        return check;
      };
      assert.equal((await counter()).verdict, 'ok', 'built at install (postinstall)');
      // And tshark loads it: the installed counter prints its summary of a capture.
      const native = path.join(prefix, 'lib', 'node_modules', 'sharkmcp', 'dist', 'native');
      const capture = path.join(dir, 'one.pcap');
      await writeFile(capture, onePacketPcap());
      const counted = await run('tshark', [
        '-n',
        '-r',
        capture,
        '-q',
        '-X',
        `lua_script:${path.join(native, 'summary-counter.lua')}`,
        '-X',
        `lua_script1:${path.join(native, 'summary-counter.so')}`,
        '-X',
        'lua_script1:0',
        '-X',
        'lua_script1:',
        '-X',
        'lua_script1:0',
      ]);
      assert.match(counted.stdout, /^SHARKMCP-SUMMARY 1$/m, counted.stdout + counted.stderr);
      assert.match(counted.stdout, /^facts\t1\t/m, 'one packet counted inside tshark');
      // Gone (a Wireshark upgrade, a cleaned folder): doctor names the package's own command.
      await rm(native, { recursive: true, force: true });
      const missing = await counter();
      assert.equal(missing.verdict, 'warning');
      assert.match(missing.fix ?? '', /sharkmcp setup/);
      assert.doesNotMatch(`${missing.detail} ${missing.fix ?? ''}`, /npm run build/);
      const setup = await run(bin, ['setup']);
      assert.match(setup.stderr, /built the summary counter for Wireshark/);
      assert.equal((await counter()).verdict, 'ok', 'built again by sharkmcp setup');

      // A machine whose compiler fails: the install still succeeds, and says what to do later.
      const failing = path.join(dir, 'failing');
      const installed = await run(
        'npm',
        ['install', '-g', '--prefix', failing, '--no-audit', '--no-fund', '--foreground-scripts', tarball],
        { env: { ...process.env, CC: 'false' } },
      );
      assert.match(installed.stdout + installed.stderr, /skipped the summary counter/);
      const report = await run(path.join(failing, 'bin', 'sharkmcp'), ['doctor', '--json']).catch(
        (err: { stdout: string }) => err,
      );
      assert.match(report.stdout, /sharkmcp setup/);

      // And through npx, from the tarball.
      const npx = await run('npx', ['--yes', '--package', tarball, 'sharkmcp', '--version'], {
        env: { ...process.env, npm_config_cache: path.join(dir, 'npx-cache') },
      });
      assert.match(npx.stdout.trim(), /^\d+\.\d+\.\d+$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
