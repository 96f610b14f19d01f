// Prints what tools/list costs a client: the bytes of its JSON, in all and per tool (description,
// input schema, output schema), from the built server over stdio as a client would read it.
//   node dist/scripts/tools-list-size.js [--toolsets LIST]
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';

// Read through `head`, the rest of the table is not wanted: a closed pipe ends the script quietly.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const client = new Client({ name: 'tools-list-size', version: '1' });
await client.connect(
  new StdioClientTransport({
    command: process.execPath,
    args: [path.join(root, 'dist', 'bundle', 'sharkmcp.js'), ...process.argv.slice(2)],
    stderr: 'ignore',
  }),
);
const listed = await client.listTools();
await client.close();
const size = (x: unknown): number => (x === undefined ? 0 : JSON.stringify(x).length);
const rows = listed.tools.map((t) => [
  t.name,
  size(t),
  size(t.description),
  size(t.inputSchema),
  size(t.outputSchema),
]);
const total = rows.reduce((sum, r) => sum + Number(r[1]), 0);
process.stdout.write(`tools/list: ${size(listed)} bytes of JSON, ${listed.tools.length} tools\n`);
process.stdout.write('tool\tbytes\tdescription\tinput\toutput\n');
for (const r of rows) process.stdout.write(`${r.join('\t')}\n`);
const column = (i: number): number => rows.reduce((sum, r) => sum + Number(r[i]), 0);
process.stdout.write(`all\t${total}\t${column(2)}\t${column(3)}\t${column(4)}\n`);
