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
    for (const t of tools) assert.match(instructions, new RegExp(`\\b${t.name}\\b`), t.name);
    // What each tool does is said once, in tools/list.
    for (const t of tools)
      if (t.description) assert.ok(!instructions.includes(t.description), `${t.name} is not described twice`);
  });

  it('gives every tool a title and honest annotations, as a client reads them', async () => {
    const { tools } = await server.mcp.client.listTools();
    // What a client takes a hint to be: the specification's default where it is left out, and a
    // read-only tool neither destroys nor repeats anything.
    const read = (a: Record<string, unknown>): Record<string, boolean> => {
      const readOnly = a['readOnlyHint'] === true;
      return {
        readOnly,
        destructive: !readOnly && a['destructiveHint'] !== false,
        idempotent: readOnly || a['idempotentHint'] === true,
        openWorld: a['openWorldHint'] !== false,
      };
    };
    for (const t of tools) {
      assert.ok(t.title, `${t.name} has a title`);
      const declared = TOOLS.find((d) => d.name === t.name)?.annotations;
      assert.ok(declared, t.name);
      assert.deepEqual(
        read(t.annotations ?? {}),
        read(declared),
        `${t.name}: the listed hints say what it does`,
      );
    }
    const byName = new Map(tools.map((t) => [t.name, read(t.annotations ?? {})]));
    assert.equal(byName.get('delete_capture_session')?.destructive, true);
    assert.equal(byName.get('start_capture_session')?.readOnly, false);
    assert.equal(byName.get('start_capture_session')?.destructive, false);
    assert.equal(byName.get('start_capture_session')?.openWorld, true, 'remote capture reaches other hosts');
    assert.equal(byName.get('summarize_capture')?.readOnly, true);
    assert.equal(byName.get('summarize_capture')?.openWorld, false);
  });

  it('costs a client under 16 KB of tools/list JSON with every tool served', async () => {
    const listed = await server.mcp.client.listTools();
    assert.equal(listed.tools.length, TOOLS.length, 'every tool is served by default');
    const bytes = Buffer.byteLength(JSON.stringify(listed));
    // Every agent reads this before its first question; a new tool or parameter pays for itself
    // by saying less elsewhere (briefs, the shared parameters in the instructions).
    assert.ok(bytes < 16_000, `tools/list is ${bytes} bytes of JSON; keep it under 16,000`);
  });

  it('says each shared parameter once, in the instructions, and lists it bare', async () => {
    const instructions = server.mcp.client.getInstructions() ?? '';
    const { tools } = await server.mcp.client.listTools();
    const shared = ['source', 'displayFilter', 'sslKeylogFile', 'decodeAs', 'preferences', 'process'];
    for (const name of [...shared, 'host', 'reveal', 'configName', 'limit', 'offset', 'maxChars'])
      assert.match(instructions, new RegExp(`\\b${name}\\b`), `the instructions explain ${name}`);
    for (const t of tools)
      for (const name of shared) {
        const p = (t.inputSchema.properties ?? {})[name] as { description?: string } | undefined;
        if (p && !(t.name === 'analyze_pcap_file' && name === 'source'))
          assert.equal(p.description, undefined, `${t.name}.${name} is listed bare`);
      }
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
