// The README's tool reference is generated from the registry; this fails when it is stale.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { renderToolReference, withReference } from '../src/mcp/reference.js';
import { TOOLS } from '../src/mcp/tools/index.js';
import { REPO } from './helpers/paths.js';

describe('README', () => {
  it('holds the tool reference the registry generates (npm run readme rewrites it)', () => {
    const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
    assert.equal(
      readme,
      withReference(readme, renderToolReference(TOOLS)),
      'the tool reference is stale: npm run readme',
    );
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
