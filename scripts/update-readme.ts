// Rewrites the README's tools table and tool reference from the tool registry: npm run readme.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { withGeneratedSections } from '../src/mcp/reference.js';
import { TOOLS } from '../src/mcp/tools/index.js';

const readme = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'README.md');
writeFileSync(readme, withGeneratedSections(readFileSync(readme, 'utf8'), TOOLS));
process.stderr.write(`updated the tools table and the tool reference in ${readme}\n`);
