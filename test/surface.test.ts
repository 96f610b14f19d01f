// The public surface as a client sees it: every tool's published schema and annotations against a
// committed snapshot (so a change is a visible, deliberate diff: UPDATE_SNAPSHOTS=1 npm test
// rewrites it), and the prompts listed and fetched.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { renderInstructions } from '../src/mcp/reference.js';
import { TOOLS } from '../src/mcp/tools/index.js';
import { useServer } from './helpers/in-process.js';
import { REPO } from './helpers/paths.js';

const SNAPSHOT = path.join(REPO, 'test', 'snapshots', 'tools.json');

describe('public surface', () => {
  const server = useServer();

  it('matches the snapshot of every tool schema', async () => {
    const { tools } = await server.mcp.client.listTools();
    const published = tools.map((t) => ({
      name: t.name,
      title: t.title,
      description: t.description,
      annotations: t.annotations,
      inputSchema: t.inputSchema,
      outputSchema: t.outputSchema,
    }));
    const text = `${JSON.stringify(published, null, 2)}\n`;
    if (process.env['UPDATE_SNAPSHOTS'] === '1') writeFileSync(SNAPSHOT, text);
    assert.ok(
      existsSync(SNAPSHOT),
      `no snapshot at ${SNAPSHOT}: run UPDATE_SNAPSHOTS=1 npm test and commit it`,
    );
    assert.equal(
      text,
      readFileSync(SNAPSHOT, 'utf8'),
      'tool schemas changed: review, then UPDATE_SNAPSHOTS=1 npm test',
    );
  });

  it('lists schemas every client reads: no type arrays, and output schemas the results validate against', async () => {
    const { tools } = await server.mcp.client.listTools();
    const typeArrays: string[] = [];
    const visit = (node: unknown, at: string): void => {
      if (Array.isArray(node)) node.forEach((n, i) => visit(n, `${at}[${i}]`));
      else if (node !== null && typeof node === 'object')
        for (const [k, v] of Object.entries(node)) {
          if (k === 'type' && Array.isArray(v)) typeArrays.push(at);
          visit(v, `${at}.${k}`);
        }
    };
    for (const t of tools) visit({ inputSchema: t.inputSchema, outputSchema: t.outputSchema }, t.name);
    assert.deepEqual(typeArrays, [], 'a ["T","null"] type is split into anyOf');
    // The SDK's client checks structuredContent against the listed output schema on every call.
    const answer = await server.mcp.client.callTool({ name: 'list_interfaces', arguments: {} });
    assert.ok(answer.structuredContent !== undefined && answer.isError !== true);
  });

  it('lists tools briefly and keeps every full description in the reference resource', async () => {
    const { tools } = await server.mcp.client.listTools();
    const read = await server.mcp.client.readResource({ uri: 'sharkmcp://reference/tools' });
    const reference = read.contents.map((c) => ('text' in c ? c.text : '')).join('');
    for (const tool of TOOLS) {
      const listed = tools.find((t) => t.name === tool.name);
      assert.ok(listed && listed.description !== undefined, tool.name);
      assert.ok(
        listed.description.length <= tool.description.length,
        `${tool.name}: the listed one is no longer`,
      );
      assert.ok(reference.includes(tool.description), `${tool.name}'s full description is in the reference`);
    }
    const summarize = tools.find((t) => t.name === 'summarize_capture');
    assert.ok((summarize?.description?.length ?? 0) < 600, 'summarize_capture is listed by its brief');
  });

  it('sends instructions generated from the tool registry, naming every tool it lists', async () => {
    const instructions = server.mcp.client.getInstructions() ?? '';
    assert.equal(instructions, renderInstructions(TOOLS), 'the instructions differ from the registry');
    const { tools } = await server.mcp.client.listTools();
    for (const t of tools) assert.match(instructions, new RegExp(`^- ${t.name}: `, 'm'), t.name);
  });

  it('gives every tool a title and honest annotations', async () => {
    const { tools } = await server.mcp.client.listTools();
    for (const t of tools) {
      assert.ok(t.title, `${t.name} has a title`);
      const a = t.annotations ?? {};
      for (const hint of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const) {
        assert.equal(typeof a[hint], 'boolean', `${t.name} sets ${hint}`);
      }
      if (a.readOnlyHint)
        assert.equal(a.destructiveHint, false, `${t.name}: read-only cannot be destructive`);
    }
    const byName = new Map(tools.map((t) => [t.name, t.annotations]));
    assert.equal(byName.get('delete_capture_session')?.destructiveHint, true);
    assert.equal(byName.get('start_capture_session')?.readOnlyHint, false);
    assert.equal(byName.get('summarize_capture')?.readOnlyHint, true);
  });

  it('lists the workflow prompts and fetches one with its arguments', async () => {
    const { prompts } = await server.mcp.client.listPrompts();
    assert.deepEqual(prompts.map((p) => p.name).sort(), [
      'debug_http_client',
      'dns_problems',
      'slow_connection',
      'tls_handshake_failure',
      'triage_capture',
    ]);
    const prompt = await server.mcp.client.getPrompt({
      name: 'debug_http_client',
      arguments: { port: '8080' },
    });
    const text = prompt.messages.map((m) => (m.content.type === 'text' ? m.content.text : '')).join('\n');
    assert.match(text, /start_capture_session with captureFilter "tcp port 8080"/);
    assert.match(text, /inspect_protocol kind "http"/);
    // With a saved configuration, the capture starts from its settings.
    const fromConfig = await server.mcp.client.getPrompt({
      name: 'slow_connection',
      arguments: { port: '5432', config: 'db-capture' },
    });
    const configText = fromConfig.messages
      .map((m) => (m.content.type === 'text' ? m.content.text : ''))
      .join('\n');
    assert.match(configText, /start_capture_session \(the settings of saved configuration "db-capture"/);
    for (const name of ['tls_handshake_failure', 'slow_connection', 'dns_problems', 'triage_capture']) {
      const p = await server.mcp.client.getPrompt({ name, arguments: {} });
      const body = p.messages.map((m) => (m.content.type === 'text' ? m.content.text : '')).join('\n');
      const { tools } = await server.mcp.client.listTools();
      const named = tools.map((t) => t.name).filter((n) => body.includes(n));
      assert.ok(named.length >= 2, `${name} names the tools to call`);
    }
  });
});
