// A corpus of hostile calls across every tool and every parameter the server publishes (read from
// tools/list, so a new parameter is covered the day it appears): shell and option injection,
// paths out of the roots, special files, NUL bytes, huge strings, wrong types, odd numbers, unknown
// tools and extra fields. After each call: no canary file exists (every injection tries to make
// one), nothing outside the roots changed or leaked, the server still answers, and a refusal is a
// clear isError text that says what to do. The counts are printed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Tool } from '@modelcontextprotocol/client';
import { EMPTY_PCAP } from '../src/wireshark/tshark.js';
import { captureUnavailable } from './helpers/loopback-capture.js';
import { connect } from './helpers/in-process.js';
import type { Session } from './helpers/mcp-client.js';

/** Parameters that name a file; they also get the path payloads. */
const PATH_PARAMS = new Set(['filePath', 'source', 'baseline', 'candidate', 'sslKeylogFile', 'saveTo']);
const FILTER_PARAMS = new Set(['displayFilter', 'captureFilter']);
const NAME_PARAMS = new Set(['sessionName', 'configName', 'name', 'sessionId']);

interface Outcome {
  readonly tool: string;
  readonly label: string;
  readonly isError: boolean;
  readonly protocolError: boolean;
  readonly text: string;
}

describe('hostile-input corpus', () => {
  let base = '';
  let root = '';
  let outside = '';
  let canary = '';
  let luaCanary = '';
  let secret = '';
  let mcp: Session | undefined;
  let tools: Tool[] = [];
  let capturing = false;
  const outcomes: Outcome[] = [];

  before(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'sharkmcp-hostile-'));
    root = path.join(base, 'root');
    outside = path.join(base, 'outside');
    await mkdir(root);
    await mkdir(outside);
    canary = path.join(base, 'CANARY');
    luaCanary = path.join(base, 'LUA-CANARY');
    secret = `SHARKMCP-SECRET-${process.pid}-${Date.now()}`;
    await writeFile(path.join(root, 'good.pcap'), EMPTY_PCAP);
    await writeFile(path.join(root, 'empty'), '');
    await writeFile(path.join(outside, 'secret.pcap'), Buffer.concat([EMPTY_PCAP, Buffer.from(secret)]));
    await writeFile(path.join(outside, 'secret.txt'), `CLIENT_RANDOM ${secret}\n`);
    await writeFile(path.join(outside, 'evil.lua'), `os.execute("touch ${luaCanary}")\n`);
    await symlink(path.join(outside, 'secret.pcap'), path.join(root, 'link-out.pcap'));
    await symlink(outside, path.join(root, 'dir-link'));
    await mkdir(path.join(root, 'a-directory'));
    spawnSync('mkfifo', [path.join(root, 'fifo.pcap')]);
    // 8 GB that take no disk: a file the size of a huge capture that holds nothing.
    await writeFile(path.join(root, 'sparse.pcap'), EMPTY_PCAP);
    await truncate(path.join(root, 'sparse.pcap'), 8 * 1024 ** 3);
    capturing = (await captureUnavailable()) === undefined;
    mcp = await connect({ SHARKMCP_ALLOWED_DIRS: root, SHARKMCP_CONFIG_DIR: path.join(base, 'config') });
    tools = (await mcp.client.listTools()).tools;
    if (capturing) {
      await mcp.call('start_capture_session', { sessionName: 'base', captureFilter: 'udp port 9' });
      await mcp.call('stop_capture_session', { sessionId: 'base' });
    }
  });

  after(async () => {
    try {
      await mcp?.close();
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });

  /** Every value that tries to run something: each would create the canary if it ran. */
  const injections = (): [string, string][] => [
    ['command substitution', `$(touch ${canary})`],
    ['backticks', `\`touch ${canary}\``],
    ['command separator', `x; touch ${canary} #`],
    ['pipe', `x | touch ${canary}`],
    ['tshark write option', `-w ${canary}`],
    ['Lua script option', `-X lua_script:${path.join(outside, 'evil.lua')}`],
    ['preference option', `-o tls.keylog_file:${path.join(outside, 'secret.txt')}`],
    ['NUL byte', 'x\u0000y'],
    ['100 KB string', 'A'.repeat(100_000)],
    ['newline and right-to-left mark', `a\n\u202Eb`],
  ];

  const paths = (): [string, string][] => [
    ['traversal', `${root}/../../../../../../etc/passwd`],
    ['absolute outside', '/etc/passwd'],
    ['file outside, existing', path.join(outside, 'secret.pcap')],
    ['file outside, missing', path.join(outside, 'missing.pcap')],
    ['symlink out of the root', path.join(root, 'link-out.pcap')],
    ['through a symlinked folder', path.join(root, 'dir-link', 'secret.pcap')],
    ['/proc/self/environ', '/proc/self/environ'],
    ['/proc/self/fd/0', '/proc/self/fd/0'],
    ['/dev/zero', '/dev/zero'],
    ['FIFO', path.join(root, 'fifo.pcap')],
    ['directory', path.join(root, 'a-directory')],
    ['empty file', path.join(root, 'empty')],
    ['sparse 8 GB file', path.join(root, 'sparse.pcap')],
    ['file URL', 'file:///etc/passwd'],
    ['home shorthand', '~/.ssh/id_rsa'],
  ];

  const filters = (): [string, string][] => [
    ['deeply nested', `${'('.repeat(3000)}tcp${')'.repeat(3000)}`],
    ['long conjunction', Array.from({ length: 600 }, (_, i) => `tcp.port == ${i + 1}`).join(' or ')],
    ['unbalanced', '((tcp'],
  ];

  const names = (): [string, string][] => [
    ['__proto__', '__proto__'],
    ['constructor', 'constructor'],
    ['dot-dot', '../../x'],
    ['right-to-left name', 'abc\u202Egnp.exe'],
  ];

  const numbers = (): [string, unknown][] => [
    ['negative', -1],
    ['fraction', 1.5],
    ['huge', 1e300],
    ['numeric string', '5'],
    ['null', null],
    ['object', { valueOf: 1 }],
  ];

  const arrays = (): [string, unknown][] => [
    ['not an array', 'tcp'],
    ['injections inside', injections().map(([, v]) => v)],
    ['10,000 items', Array.from({ length: 10_000 }, () => 'tcp')],
    ['nested', [[['tcp']]]],
  ];

  const objects = (): [string, unknown][] => [
    ['__proto__ key', JSON.parse('{"__proto__": {"displayFilter": "tcp"}, "displayFilter": "udp"}')],
    ['constructor key', { constructor: { prototype: { polluted: true } } }],
    ['injection inside', { displayFilter: `$(touch ${canary})`, captureFilter: `; touch ${canary}` }],
    ['deeply nested', JSON.parse(`${'{"a":'.repeat(500)}1${'}'.repeat(500)}`)],
    ['array instead', ['displayFilter', 'tcp']],
  ];

  /** Valid values for the parameters a call needs, so the hostile one is what is tested. */
  const valid = (tool: string, param: string): unknown =>
    ({
      // A finished session to stop again; a session that never was, for delete to refuse.
      sessionId: tool === 'stop_capture_session' ? 'base' : 'no-such-session',
      source: path.join(root, 'good.pcap'),
      filePath: path.join(root, 'good.pcap'),
      baseline: path.join(root, 'good.pcap'),
      candidate: path.join(root, 'good.pcap'),
      action: 'list',
      kind: tool === 'plot_capture' ? 'io' : 'dns',
      frames: '1',
      protocol: 'http',
      // A new file each call: an export never writes over one, so a reused name would be refused.
      saveTo: path.join(root, `export-${++exports}.pcapng`),
    })[param];
  let exports = 0;

  const baseArgs = (tool: Tool): Record<string, unknown> =>
    Object.fromEntries((tool.inputSchema.required ?? []).map((p) => [p, valid(tool.name, p)]));

  /** The base arguments, plus a capture where one is needed and `param` is not it. */
  const contextFor = (tool: Tool, param: string): Record<string, unknown> =>
    tool.name === 'analyze_pcap_file' && param !== 'filePath' && param !== 'source'
      ? { ...baseArgs(tool), filePath: path.join(root, 'good.pcap') }
      : baseArgs(tool);

  /** The hostile calls for one parameter of one tool, by the parameter's published type. */
  const payloadsFor = (param: string, type: string | undefined): [string, unknown][] => {
    if (type === 'integer' || type === 'number') return numbers();
    if (type === 'boolean')
      return [
        ['string', 'true'],
        ['number', 1],
        ['object', {}],
      ];
    if (type === 'array') return arrays();
    if (type === 'object') return objects();
    return [
      ...injections(),
      ...(PATH_PARAMS.has(param) ? paths() : []),
      ...(FILTER_PARAMS.has(param) ? filters() : []),
      ...(NAME_PARAMS.has(param) ? names() : []),
    ];
  };

  const snapshotOutside = async (): Promise<string> => {
    const entries = await readdir(base, { recursive: true });
    return entries
      .filter((e) => !e.startsWith('root') && !e.startsWith('config'))
      .sort()
      .join('\n');
  };

  async function call(tool: string, label: string, args: Record<string, unknown>): Promise<Outcome> {
    if (!mcp) throw new Error('the server starts in before()');
    let outcome: Outcome;
    try {
      const result = await mcp.client.callTool({ name: tool, arguments: args }, { timeout: 120_000 });
      const text = (result.content as { type: string; text?: string }[])
        .map((c) => (c.type === 'text' ? (c.text ?? '') : ''))
        .join('\n');
      outcome = { tool, label, isError: result.isError === true, protocolError: false, text };
      const id = (result.structuredContent as { id?: unknown } | undefined)?.id;
      if (tool === 'start_capture_session' && !outcome.isError && typeof id === 'string') {
        await mcp.client.callTool({ name: 'delete_capture_session', arguments: { sessionId: id } });
      }
    } catch (err) {
      outcome = { tool, label, isError: true, protocolError: true, text: (err as Error).message };
    }
    outcomes.push(outcome);
    return outcome;
  }

  /** What went wrong with a hostile call (nothing, when all holds). */
  async function problemsAfter(outcome: Outcome, outsideBefore: string): Promise<string[]> {
    const problems: string[] = [];
    const text = outcome.text;
    if (existsSync(canary)) problems.push('ran a command');
    if (existsSync(luaCanary)) problems.push('ran a Lua script');
    if ((await snapshotOutside()) !== outsideBefore) problems.push('changed files outside the roots');
    if (text.includes(secret)) problems.push('leaked a file from outside the roots');
    await mcp?.client.ping();
    if (outcome.isError) {
      if (/\n\s+at .+:\d+:\d+\)?/.test(text)) problems.push('a stack trace');
      if (/Usage:\s*(tshark|dumpcap)|tshark \[ -|\[ -[a-z] /i.test(text)) problems.push('a usage dump');
      if (/TypeError|ReferenceError|undefined|\[object Object\]/.test(text))
        problems.push('an internal fault');
      if (text.length <= 20 || text.length >= 6_000) problems.push(`${text.length} characters`);
      if (
        !outcome.protocolError &&
        !/\b(give|use|call|start|stop|check|remove|try|list|add|set|choose|pick|send|save|simplify|shorten|delete|wait|fix|allow|name|write|expected|must|should)\b/i.test(
          text,
        )
      )
        problems.push('does not say what to do');
    }
    return problems;
  }

  it('refuses or safely answers every hostile value of every parameter of every tool', async () => {
    const outsideBefore = await snapshotOutside();
    const started = Date.now();
    const failures: string[] = [];
    const check = async (outcome: Outcome): Promise<void> => {
      const problems = await problemsAfter(outcome, outsideBefore);
      if (problems.length > 0)
        failures.push(
          `${outcome.tool} ${outcome.label}: ${problems.join(', ')}\n    ${outcome.text.slice(0, 300).replaceAll('\n', '\n    ')}`,
        );
    };
    for (const tool of tools) {
      const props = (tool.inputSchema.properties ?? {}) as Record<string, { type?: string }>;
      for (const [param, schema] of Object.entries(props)) {
        if ((tool.name === 'start_capture_session' || tool.name === 'stop_capture_session') && !capturing)
          continue;
        for (const [label, value] of payloadsFor(param, schema.type)) {
          await check(
            await call(tool.name, `${param}: ${label}`, { ...contextFor(tool, param), [param]: value }),
          );
        }
      }
      // A field the tool does not have, carrying an injection: refused, naming the real ones.
      const extra = await call(tool.name, 'unknown field', { ...baseArgs(tool), evil: `$(touch ${canary})` });
      assert.equal(extra.isError, true, `${tool.name} took an unknown field:\n${extra.text}`);
      assert.match(extra.text, /has no parameter "evil"/);
      await check(extra);
      // Every argument of the wrong kind at once.
      const wrong = await call(tool.name, 'arguments not an object', ['x'] as unknown as Record<
        string,
        unknown
      >);
      await check(wrong);
    }
    for (const name of ['no_such_tool', '../analyze_pcap_file', `$(touch ${canary})`]) {
      const outcome = await call(name, 'unknown tool', {});
      assert.equal(outcome.protocolError || outcome.isError, true, name);
      await check(outcome);
    }

    const distinct = new Set(outcomes.map((o) => `${o.tool}\u0000${o.label}`)).size;
    const refused = outcomes.filter((o) => o.isError).length;
    process.stdout.write(
      `hostile corpus: ${outcomes.length} calls (${distinct} distinct) across ${tools.length} tools in ${((Date.now() - started) / 1000).toFixed(1)} s; ${refused} refused, ${outcomes.length - refused} answered safely; ${failures.length} went wrong (canaries, files changed or leaked outside the roots, unclear refusals); server alive after each\n`,
    );
    assert.ok(distinct >= 250, `only ${distinct} distinct hostile calls`);
    assert.deepEqual(failures, [], `${failures.length} hostile calls went wrong:\n${failures.join('\n')}`);
  });

  it('answers a path outside the roots the same whether or not it exists', async () => {
    for (const tool of tools) {
      const props = Object.keys(tool.inputSchema.properties ?? {});
      for (const param of props.filter((p) => PATH_PARAMS.has(p))) {
        if (param === 'saveTo' || (tool.name === 'stop_capture_session' && !capturing)) continue;
        const answerFor = async (file: string): Promise<string> =>
          (
            await call(tool.name, `${param}: existence`, { ...contextFor(tool, param), [param]: file })
          ).text.replaceAll(file, '<path>');
        const existing = await answerFor(path.join(outside, 'secret.pcap'));
        const missing = await answerFor(path.join(outside, 'missing.pcap'));
        assert.equal(
          existing,
          missing,
          `${tool.name} ${param} tells an existing file outside the roots from a missing one`,
        );
        assert.match(existing, /outside the directories this server may use/);
      }
    }
  });
});
