// The MCP ecosystem's own checks against the built server: the official conformance suite over
// Streamable HTTP (every scenario that applies to a real server passes; the ones written against
// the suite's own fixture tools, prompts and resources are listed with why they do not apply, and
// must fail only for that reason), and the MCP Inspector CLI listing and calling a tool over stdio
// and over HTTP. Both need Node 22: ./scripts/setup.sh --tests installs them with it from the npm
// registry into tools/mcp-checks; without them the tests say so and skip.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { startHttpServer, stopChildren } from './helpers/http-server.js';
import { CLI, REPO } from './helpers/paths.js';

const run = promisify(execFile);
after(stopChildren);

const CHECKS = path.join(REPO, 'tools', 'mcp-checks', 'node_modules');
const NODE22 = path.join(CHECKS, '.bin', 'node');
const CONFORMANCE = path.join(CHECKS, '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
const INSPECTOR = path.join(CHECKS, '.bin', 'mcp-inspector');

const missing = [NODE22, CONFORMANCE, INSPECTOR].find((p) => !existsSync(p));
const unavailable =
  missing === undefined
    ? undefined
    : `${path.relative(REPO, missing)} is not installed: ./scripts/setup.sh --tests installs the conformance suite and the Inspector (with Node 22) into tools/mcp-checks`;

/**
 * Scenarios that call the suite's own fixtures (test_* tools, prompts and test:// resources), which
 * a real server does not have: the name of the fixture each needs, found in its failure.
 */
const FIXTURES: Readonly<Record<string, string>> = {
  'tools-call-simple-text': 'test_simple_text',
  'tools-call-image': 'test_image_content',
  'tools-call-audio': 'test_audio_content',
  'tools-call-embedded-resource': 'test_embedded_resource',
  'tools-call-mixed-content': 'test_multiple_content_types',
  'tools-call-with-logging': 'test_tool_with_logging',
  'tools-call-error': 'test_error_handling',
  'tools-call-with-progress': 'test_tool_with_progress',
  'tools-call-sampling': 'test_sampling',
  'tools-call-elicitation': 'test_elicitation',
  'elicitation-sep1034-defaults': 'test_elicitation_sep1034_defaults',
  'elicitation-sep1330-enums': 'test_elicitation_sep1330_enums',
  'json-schema-2020-12': 'json_schema_2020_12_tool',
  'resources-read-text': 'test://static-text',
  'resources-read-binary': 'test://static-binary',
  'resources-templates-read': 'test://template/123/data',
  'prompts-get-simple': 'test_simple_prompt',
  'prompts-get-with-args': 'test_prompt_with_arguments',
  'prompts-get-embedded-resource': 'test_prompt_with_embedded_resource',
  'prompts-get-with-image': 'test_prompt_with_image',
};

interface Check {
  readonly status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO';
  readonly name: string;
  readonly errorMessage?: string;
}

/** Each scenario's checks, from the suite's output folders (server-<scenario>-<time>/checks.json). */
async function scenarioChecks(dir: string): Promise<Map<string, Check[]>> {
  const out = new Map<string, Check[]>();
  for (const entry of await readdir(dir)) {
    const name = /^server-(.+)-\d{4}-\d\d-\d\dT/.exec(entry)?.[1];
    if (name === undefined) continue;
    const checks = JSON.parse(await readFile(path.join(dir, entry, 'checks.json'), 'utf8')) as Check[];
    out.set(name, checks);
  }
  return out;
}

describe('the MCP ecosystem checks', { skip: unavailable }, () => {
  it('passes every conformance scenario that applies to it; the rest fail only for want of the suite’s fixtures', async (t) => {
    const server = await startHttpServer([]);
    const out = await mkdtemp(path.join(os.tmpdir(), 'sharkmcp-conformance-'));
    try {
      // Exit code 1 when any check fails, which the fixture scenarios do: the checks decide.
      await run(NODE22, [CONFORMANCE, 'server', '--url', server.url, '--suite', 'all', '-o', out], {
        maxBuffer: 16 * 1024 * 1024,
      }).catch((err: { stdout?: string }) => err);
      const scenarios = await scenarioChecks(out);
      assert.ok(scenarios.size >= 30, `${scenarios.size} scenarios ran`);
      const applied = [...scenarios.keys()].filter((s) => FIXTURES[s] === undefined).sort();
      t.diagnostic(`applicable and passing: ${applied.join(', ')}`);
      for (const [scenario, checks] of scenarios) {
        const failed = checks.filter((c) => c.status === 'FAILURE');
        const fixture = FIXTURES[scenario];
        if (fixture === undefined) {
          assert.deepEqual(
            failed.map((c) => `${c.name}: ${c.errorMessage ?? ''}`),
            [],
            `${scenario} applies to a real server and must pass`,
          );
          for (const w of checks.filter((c) => c.status === 'WARNING'))
            t.diagnostic(`${scenario} warns: ${w.errorMessage ?? w.name}`);
        } else {
          assert.ok(failed.length > 0, `${scenario} now passes: it applies, take it out of FIXTURES`);
          for (const c of failed)
            assert.ok(
              c.errorMessage?.includes(fixture) && /not found/.test(c.errorMessage),
              `${scenario} must fail only because ${fixture} is not there: ${c.errorMessage ?? c.name}`,
            );
        }
      }
      // Every fixture scenario ran: a new suite version that drops or renames one is noticed.
      for (const scenario of Object.keys(FIXTURES)) assert.ok(scenarios.has(scenario), `${scenario} ran`);
      assert.ok(applied.includes('completion-complete') && applied.includes('resources-subscribe'));
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  /** The Inspector CLI's JSON answer to one call. */
  const inspect = async (
    target: readonly string[],
    args: readonly string[],
  ): Promise<Record<string, unknown>> => {
    const { stdout } = await run(NODE22, [INSPECTOR, '--cli', ...target, ...args], {
      maxBuffer: 16 * 1024 * 1024,
      timeout: 60_000,
    });
    return JSON.parse(stdout) as Record<string, unknown>;
  };

  it("passes the Inspector's --strict check of tool schemas without a warning", async () => {
    const { stdout, stderr } = await run(
      NODE22,
      [INSPECTOR, '--cli', process.execPath, CLI, '--method', 'tools/list', '--strict'],
      { maxBuffer: 16 * 1024 * 1024, timeout: 60_000 },
    );
    const problems = stderr.split('\n').filter((l) => /^(Warning|Error)\b/.test(l));
    assert.deepEqual(problems, [], stderr);
    assert.ok(((JSON.parse(stdout) as { tools?: unknown[] }).tools ?? []).length > 0);
  });

  it('is listed and called by the MCP Inspector CLI over stdio and over HTTP', async () => {
    const server = await startHttpServer([]);
    for (const target of [
      [process.execPath, CLI],
      [server.url, '--transport', 'http'],
    ]) {
      const listed = await inspect(target, ['--method', 'tools/list']);
      const names = ((listed['tools'] ?? []) as { name: string }[]).map((x) => x.name);
      for (const seed of [
        'start_capture_session',
        'stop_capture_session',
        'analyze_pcap_file',
        'manage_config',
      ])
        assert.ok(names.includes(seed), `${target[0]}: ${names.join(', ')}`);
      const called = await inspect(target, [
        '--method',
        'tools/call',
        '--tool-name',
        'list_fields',
        '--tool-arg',
        'search=http.request.meth',
      ]);
      assert.notEqual(called['isError'], true, JSON.stringify(called));
      const text = ((called['content'] ?? []) as { text?: string }[]).map((c) => c.text ?? '').join('\n');
      assert.match(text, /http\.request\.method/, `${target[0]}: ${text}`);
    }
  });
});
