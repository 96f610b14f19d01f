// The README's tools table and tool reference are generated from the registry; this fails when
// either is stale.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { renderToolReference, renderToolTable, withGeneratedSections } from '../src/mcp/reference.js';
import { TOOLS } from '../src/mcp/tools/index.js';
import { REPO } from './helpers/paths.js';

describe('README', () => {
  it('holds the tools table and the tool reference the registry generates (npm run readme rewrites them)', () => {
    const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
    assert.equal(readme, withGeneratedSections(readme, TOOLS), 'the README is stale: npm run readme');
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
