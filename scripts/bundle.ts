// Bundles the server (dist/src/cli.js as tsc wrote it, with the MCP SDK and zod) into
// dist/bundle/sharkmcp.js: what the package's bin, the README's client configuration and the tests
// run. Node loads a few large files far faster than the few hundred small modules tsc writes (MCP
// initialize took about half the time in a trial: 575 -> 296 ms). The modules the command line
// imports on demand (demo, doctor, HTTP, the server itself) stay separate chunks, loaded only when
// used. Packages that are big and loaded lazily already (Vega, resvg's native addon, file-type), or
// whose files are read at run time (the fonts), stay in node_modules.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Where the bundle goes; a directory of its own, so that a new build leaves no stale chunk. */
export const BUNDLE_DIR = path.join(root, 'dist', 'bundle');

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
const result = await build({
  entryPoints: { sharkmcp: path.join(root, 'dist', 'src', 'cli.js') },
  outdir: BUNDLE_DIR,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outExtension: { '.js': '.js' },
  chunkNames: 'chunks/[name]-[hash]',
  external: EXTERNAL,
  // CommonJS inside an ES module bundle calls require(), which ES modules do not have.
  banner: {
    js: "import { createRequire as __sharkmcpRequire } from 'node:module';\nconst require = __sharkmcpRequire(import.meta.url);",
  },
  logLevel: 'warning',
  metafile: true,
});
const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
process.stderr.write(
  `bundle: ${path.relative(root, BUNDLE_DIR)}/sharkmcp.js and ${Object.keys(result.metafile.outputs).length - 1} more files, ${Math.round(bytes / 1024)} KiB\n`,
);
