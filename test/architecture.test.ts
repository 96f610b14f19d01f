// The architecture the folder tree promises: domain modules never import the MCP SDK, and no
// source file can reach a shell.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { SRC } from './helpers/paths.js';

/** Where the MCP SDK may be imported: the MCP layer, the server factory, the entry point and the demo (a client). */
const MCP_ALLOWED = ['mcp/', 'server/', 'cli.ts', 'demo/demo.ts'];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

function importsOf(text: string): string[] {
  return [
    ...text.matchAll(/(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1] ?? m[2] ?? '');
}

describe('architecture', () => {
  const files = sources(SRC);

  it('finds the source tree', () => {
    assert.ok(files.length > 10);
  });

  it('keeps the MCP SDK out of the domain modules', () => {
    const offenders = files.flatMap((file) => {
      const rel = path.relative(SRC, file).split(path.sep).join('/');
      if (MCP_ALLOWED.some((a) => rel === a || rel.startsWith(a))) return [];
      return importsOf(readFileSync(file, 'utf8'))
        .filter((spec) => spec.startsWith('@modelcontextprotocol/'))
        .map((spec) => `${rel} imports ${spec}`);
    });
    assert.deepEqual(offenders, []);
  });

  it('never runs a shell: child_process gives spawn and execFile only, never shell: true', () => {
    const offenders = files.flatMap((file) => {
      const text = readFileSync(file, 'utf8');
      const rel = path.relative(SRC, file);
      const found: string[] = [];
      for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*['"](?:node:)?child_process['"]/g)) {
        const names = (m[1] ?? '').split(',').map(
          (n) =>
            n
              .replace(/^\s*type\s+/, '')
              .trim()
              .split(/\s+as\s+/)[0],
        );
        for (const n of names)
          if (n && !['spawn', 'execFile', 'ChildProcess'].includes(n)) found.push(`${rel} imports ${n}`);
      }
      if (/import\s+\*\s+as\s+\w+\s+from\s*['"](?:node:)?child_process['"]/.test(text))
        found.push(`${rel} imports all of child_process`);
      if (/shell\s*:\s*true/.test(text)) found.push(`${rel} sets shell: true`);
      return found;
    });
    assert.deepEqual(offenders, []);
  });

  it('writes nothing to stdout outside the entry point (stdout is the MCP channel)', () => {
    const offenders = files
      .filter((f) => !f.endsWith(`${path.sep}cli.ts`))
      .filter((f) => /console\.log\(|process\.stdout\.write\(/.test(readFileSync(f, 'utf8')))
      .map((f) => path.relative(SRC, f));
    assert.deepEqual(offenders, []);
  });
});
