// Bundles the server (dist/src/cli.js as tsc wrote it, with the MCP SDK and zod) into
// dist/bundle/server.cjs, and its entry dist/bundle/sharkmcp.js (src/launch.ts, which runs it
// through V8's code cache): what the package's bin, the README's client configuration and the
// tests run. Node loads one large file far faster than the few hundred small modules tsc writes
// (MCP initialize took about half the time in a trial: 575 -> 296 ms), and only CommonJS can be
// run with a code cache on Node 20. The modules the command line imports on demand (demo, doctor,
// HTTP, the server itself) are evaluated only when used. Packages that are big and loaded lazily
// already (Vega, resvg's native addon, file-type), or whose files are read at run time (the
// fonts), stay in node_modules.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Where the bundle goes; a directory of its own, so that a new build leaves nothing stale. */
const BUNDLE_DIR = path.join(root, 'dist', 'bundle');
const SERVER = 'server.cjs';

const EXTERNAL = [
  // Loaded on the first plot only (import() in src/analysis/plot/render.ts).
  'vega',
  'vega-lite',
  // A native addon: its .node file must be found beside its package.
  '@resvg/resvg-js',
  // Loaded on the first export only.
  'file-type',
  // Required through createRequire on the first statistics call.
  '@datadog/sketches-js',
  // Its font files are read from the package's directory.
  'dejavu-fonts-ttf',
];

rmSync(BUNDLE_DIR, { recursive: true, force: true });
await build({
  entryPoints: [path.join(root, 'dist', 'src', 'cli.js')],
  outfile: path.join(BUNDLE_DIR, SERVER),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: EXTERNAL,
  // The modules ask import.meta.url where they are (the package's root is found from there):
  // in CommonJS, the bundle's own file.
  banner: { js: "var __sharkmcpModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  define: { 'import.meta.url': '__sharkmcpModuleUrl' },
  logLevel: 'warning',
});
const hash = createHash('sha256')
  .update(readFileSync(path.join(BUNDLE_DIR, SERVER)))
  .digest('hex')
  .slice(0, 16);
await build({
  entryPoints: { sharkmcp: path.join(root, 'dist', 'src', 'launch.js') },
  outdir: BUNDLE_DIR,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  define: { SHARKMCP_SERVER_BUNDLE: JSON.stringify({ file: SERVER, hash }) },
  logLevel: 'warning',
});
process.stderr.write(`bundle: dist/bundle/sharkmcp.js runs dist/bundle/${SERVER} (${hash})\n`);
