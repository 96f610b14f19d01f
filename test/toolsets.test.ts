// Toolsets: `--toolsets` (or SHARKMCP_TOOLSETS) serves a subset of the tools, the seed's four
// always among them, with instructions that name only what is served; a misspelt toolset stops the
// start with the list of toolsets, and one in the environment is warned of.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { SEED_TOOLS, TOOLSETS } from '../src/mcp/toolsets.js';
import { TOOLS } from '../src/mcp/tools/index.js';
import { serverEnv } from './helpers/mcp-client.js';
import { CLI } from './helpers/paths.js';

const run = promisify(execFile);

/** The tools and instructions a server started with `args` and `env` serves. */
async function served(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ names: string[]; instructions: string }> {
  const client = new Client({ name: 'toolsets-test', version: '1' });
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [CLI, ...args],
      env: serverEnv(env),
      stderr: 'ignore',
    }),
  );
  try {
    const { tools } = await client.listTools();
    return { names: tools.map((t) => t.name), instructions: client.getInstructions() ?? '' };
  } finally {
    await client.close();
  }
}

describe('toolsets', () => {
  it('puts every tool in a toolset', () => {
    const inSets = new Set(Object.values(TOOLSETS).flat());
    assert.deepEqual(
      TOOLS.map((t) => t.name).filter((n) => !inSets.has(n)),
      [],
    );
  });

  it('serves only the toolsets asked for, and the seed tools always', async () => {
    const all = await served([]);
    assert.deepEqual(
      all.names,
      TOOLS.map((t) => t.name),
      'all by default',
    );
    const analysis = await served(['--toolsets', 'analysis']);
    assert.deepEqual(new Set(analysis.names), new Set([...SEED_TOOLS, ...(TOOLSETS['analysis'] ?? [])]));
    assert.ok(!analysis.names.includes('capture_statistics'));
    assert.doesNotMatch(analysis.instructions, /capture_statistics/, 'instructions name only what is served');
    assert.match(analysis.instructions, /summarize_capture/);
    const fromEnv = await served([], { SHARKMCP_TOOLSETS: 'export, statistics' });
    assert.deepEqual(
      new Set(fromEnv.names),
      new Set([...SEED_TOOLS, ...(TOOLSETS['export'] ?? []), ...(TOOLSETS['statistics'] ?? [])]),
    );
  });

  it('refuses a toolset it does not know, with the list of those it does', async () => {
    const refused = await run(process.execPath, [CLI, '--toolsets', 'analysis,capturing']).catch(
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal((refused as { code?: number }).code, 2);
    assert.match(
      (refused as { stderr: string }).stderr,
      /unknown toolset "capturing": choose from capture, analysis, statistics, export, config/,
    );
  });
});
