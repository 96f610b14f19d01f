// The README's tools table and tool reference are generated from the registry, and its layout from
// scripts/layout.ts; this fails when any of them is stale.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { renderToolReference, renderToolTable } from '../src/mcp/reference.js';
import { LAYOUT } from '../scripts/layout.js';
import { generatedReadme } from '../scripts/readme.js';
import { TOOLS } from '../src/mcp/tools/index.js';
import { REPO } from './helpers/paths.js';

describe('README', () => {
  it('holds the tools table, the tool reference and the layout they are generated as (npm run readme rewrites them)', () => {
    const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
    assert.equal(readme, generatedReadme(readme), 'the README is stale: npm run readme');
  });

  it('shows every room of the layout', () => {
    const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
    const layout = readme.slice(readme.indexOf('<!-- layout:start'), readme.indexOf('<!-- layout:end'));
    for (const room of LAYOUT) assert.ok(layout.includes(`  ${room.path} `), room.path);
  });

  it('lists every tool in the tools table', () => {
    const table = renderToolTable(TOOLS);
    for (const tool of TOOLS) assert.ok(table.includes(`| \`${tool.name}\` |`), tool.name);
  });

  it('documents every tool and every parameter', () => {
    const reference = renderToolReference(TOOLS);
    for (const tool of TOOLS) {
      assert.ok(reference.includes(`### \`${tool.name}\``), tool.name);
      for (const name of Object.keys(tool.inputSchema.shape))
        assert.ok(reference.includes(`- \`${name}\``), `${tool.name}.${name}`);
    }
  });
});
