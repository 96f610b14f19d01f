// How MCP clients find the server: the MCP Registry's server.json, valid against the Registry's
// published schema (kept in schemas/, draft-07), and agreeing with package.json, whose mcpName is
// how the Registry checks that the npm package is this server's.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { REPO } from './helpers/paths.js';

const read = (file: string): Record<string, unknown> =>
  JSON.parse(readFileSync(path.join(REPO, file), 'utf8')) as Record<string, unknown>;

interface ServerJson {
  $schema: string;
  name: string;
  description: string;
  version: string;
  repository: { url: string };
  packages: { registryType: string; identifier: string; version: string; transport: { type: string } }[];
}

describe('MCP Registry entry', () => {
  const schema = read('schemas/server.schema.json');
  const server = read('server.json') as unknown as ServerJson;
  const pkg = read('package.json') as {
    name: string;
    version: string;
    mcpName?: string;
    license?: string;
    repository?: { url: string };
  };

  it('is valid against the Registry schema it names', () => {
    assert.equal(server.$schema, schema['$id'], 'server.json names the schema kept in schemas/');
    // The schema is draft-07 and uses the non-standard "example" keyword: not strict.
    const ajv = new Ajv({ allErrors: true, strict: false });
    (addFormatsModule as unknown as (a: Ajv) => void)(ajv);
    const validate = ajv.compile(schema);
    assert.equal(validate(server), true, ajv.errorsText(validate.errors));
    // And it refuses what the Registry refuses: the check is not vacuous.
    assert.equal(validate({ ...server, description: 'x'.repeat(101) }), false);
    assert.equal(validate({ ...server, name: 'no slash' }), false);
  });

  it('agrees with package.json', () => {
    assert.equal(pkg.mcpName, server.name, 'the Registry checks the npm package by its mcpName');
    assert.equal(server.version, pkg.version);
    const npm = server.packages.find((p) => p.registryType === 'npm');
    assert.ok(npm, 'an npm package entry');
    assert.equal(npm.identifier, pkg.name);
    assert.equal(npm.version, pkg.version);
    assert.equal(npm.transport.type, 'stdio');
    assert.equal(pkg.repository?.url, `git+${server.repository.url}.git`);
    assert.equal(pkg.license, 'MIT');
    assert.match(readFileSync(path.join(REPO, 'LICENSE'), 'utf8'), /^MIT License/);
  });
});
