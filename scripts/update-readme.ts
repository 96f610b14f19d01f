// Rewrites the README's tool reference from the tool registry: npm run readme.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderToolReference, withReference } from '../src/mcp/reference.js';
import { TOOLS } from '../src/mcp/tools/index.js';

const readme = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'README.md');
writeFileSync(readme, withReference(readFileSync(readme, 'utf8'), renderToolReference(TOOLS)));
process.stderr.write(`updated the tool reference in ${readme}\n`);
