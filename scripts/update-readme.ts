// Rewrites the README's generated sections (tools table, tool reference, layout): npm run readme.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generatedReadme } from './readme.js';

const readme = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'README.md');
writeFileSync(readme, generatedReadme(readFileSync(readme, 'utf8')));
process.stderr.write(`updated the tools table, the tool reference and the layout in ${readme}\n`);
