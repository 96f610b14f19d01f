// `npm run build`'s native step: builds native/*.c into dist/native (src/native-build.ts says what
// each part is for, and what the server does without it). Optional: it always exits 0.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildNative } from '../src/wireshark/native-build.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
await buildNative(path.join(root, 'native'), path.join(root, 'dist', 'native'), (message) =>
  process.stderr.write(`build-native: ${message}\n`),
);
