// The architecture the folder tree promises: every import follows the rooms written down in
// scripts/layout.ts (so the MCP SDK stays out of the domain, src/mcp/ never reaches Wireshark's
// tools, nothing imports upward), and no source file can reach a shell.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { importProblem, LAYOUT, roomOf } from '../scripts/layout.js';
import { SRC } from './helpers/paths.js';

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

/** A source file's path under src/, with '/'. */
const rel = (file: string): string => path.relative(SRC, file).split(path.sep).join('/');

/** Each import of each source file: the project's own as paths under src/ (.ts), packages by name. */
function edges(files: readonly string[]): { from: string; spec: string; own: boolean }[] {
  return files.flatMap((file) =>
    importsOf(readFileSync(file, 'utf8')).map((spec) =>
      spec.startsWith('.')
        ? {
            from: rel(file),
            spec: rel(path.resolve(path.dirname(file), spec)).replace(/\.js$/, '.ts'),
            own: true,
          }
        : { from: rel(file), spec, own: false },
    ),
  );
}

describe('architecture', () => {
  const files = sources(SRC);

  it('finds the source tree', () => {
    assert.ok(files.length > 10);
  });

  it('keeps the MCP SDK out of the domain modules', () => {
    const offenders = edges(files)
      .filter((e) => !e.own && e.spec.startsWith('@modelcontextprotocol/'))
      .flatMap((e) => importProblem(e.from, e.spec, false) ?? []);
    assert.deepEqual(offenders, []);
    // The rule has teeth: the domain may not, the MCP layer may.
    assert.ok(importProblem('analysis/inspect.ts', '@modelcontextprotocol/server', false));
    assert.equal(importProblem('mcp/tool.ts', '@modelcontextprotocol/server', false), undefined);
  });

  it('puts every source file in a room of scripts/layout.ts', () => {
    assert.deepEqual(
      files.map(rel).filter((f) => roomOf(f) === undefined),
      [],
    );
    for (const room of LAYOUT)
      for (const i of room.imports)
        assert.ok(i.startsWith('@') || LAYOUT.some((r) => r.path === i), `${room.path} names ${i}, no room`);
  });

  it('follows scripts/layout.ts: each import goes to its own room or one the room may use', () => {
    const offenders = edges(files)
      .filter((e) => e.own)
      .flatMap((e) => importProblem(e.from, e.spec, true) ?? []);
    assert.deepEqual(offenders, []);
  });

  it('never lets src/mcp/ reach Wireshark: no wireshark/ import, no child process, no tshark flags', () => {
    assert.ok(importProblem('mcp/tools/follow-stream.ts', 'wireshark/process.ts', true));
    const mcp = files.filter((f) => rel(f).startsWith('mcp/'));
    const offenders = mcp.flatMap((file) => {
      const text = readFileSync(file, 'utf8');
      return [
        ...(/['"](?:node:)?child_process['"]/.test(text) ? [`${rel(file)} imports child_process`] : []),
        ...(/['"]-[rYzTeoOVqx]['"]/.test(text) ? [`${rel(file)} spells a tshark flag`] : []),
      ];
    });
    assert.deepEqual(offenders, []);
  });

  it('takes every tool default from src/limits.ts, where the code that applies it reads it too', () => {
    // A literal default in a schema is a second declaration of it: the handler applies its own.
    const offenders = files
      .filter((f) => rel(f).startsWith('mcp/'))
      .flatMap((file) =>
        [...readFileSync(file, 'utf8').matchAll(/\.meta\(\{\s*default:\s*(['"`]|[1-9])/g)].map(
          (m) => `${rel(file)}: ${m[0]}`,
        ),
      );
    assert.deepEqual(offenders, []);
  });

  it('never imports upward: the rooms, as their imports order them, have no cycle', () => {
    const seen = new Map<string, 'visiting' | 'done'>();
    const visit = (room: string, trail: string[]): void => {
      if (seen.get(room) === 'done') return;
      assert.notEqual(seen.get(room), 'visiting', `a cycle: ${[...trail, room].join(' → ')}`);
      seen.set(room, 'visiting');
      for (const next of LAYOUT.find((r) => r.path === room)?.imports ?? [])
        if (!next.startsWith('@')) visit(next, [...trail, room]);
      seen.set(room, 'done');
    };
    for (const room of LAYOUT) visit(room.path, []);
  });

  it('never runs a shell: child_process gives spawn and execFile only, never shell: true', () => {
    const offenders = files.flatMap((file) => {
      const text = readFileSync(file, 'utf8');
      const name = rel(file);
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
          if (n && !['spawn', 'execFile', 'ChildProcess'].includes(n)) found.push(`${name} imports ${n}`);
      }
      if (/import\s+\*\s+as\s+\w+\s+from\s*['"](?:node:)?child_process['"]/.test(text))
        found.push(`${name} imports all of child_process`);
      if (/shell\s*:\s*true/.test(text)) found.push(`${name} sets shell: true`);
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
