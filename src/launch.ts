#!/usr/bin/env node
// The bundle's entry (dist/bundle/sharkmcp.js, what the package's bin runs): runs the server's
// bundle (server.cjs: cli.ts and all it imports, scripts/bundle.ts) through V8's code cache, kept in
// the config directory. Compiling the bundle's code is a good part of a start's CPU (Node 20 has no
// module.enableCompileCache: that came in 22.1), and a cache made by an earlier run skips it. The
// cache is written on exit when there was none, V8 refused it (another Node, other flags), or this
// run compiled a good deal more (a --version run caches little of what serving a call compiles);
// it is named by the bundle's content hash, because V8 checks only a source's length before
// trusting it.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { defaultConfigDir } from './config/config-dir.js';

/** The server bundle's file name and content hash, set by scripts/bundle.ts when it builds this file. */
declare const SHARKMCP_SERVER_BUNDLE: { file: string; hash: string } | undefined;

/** The cache's directory under the config directory (user-private, unlike the system temp directory). */
export const CODE_CACHE_DIR = 'code-cache';

/** A usable cache is rewritten when a run compiled this much more (by the cache's size). */
const GROWTH_TO_REWRITE = 1.25;

/** Runs `dir`/`bundle.file` as CommonJS, with V8's code cache when one was made for it by this Node. */
export function runServerBundle(dir: string, bundle: { file: string; hash: string }): void {
  const file = path.join(dir, bundle.file);
  // cli.ts's "#!" line is not JavaScript inside a function (Node's own loader drops it too).
  const source = readFileSync(file, 'utf8').replace(/^#!/, '//');
  const cacheFile = path.join(
    defaultConfigDir(),
    CODE_CACHE_DIR,
    `${bundle.hash}-${process.version}-${process.arch}.bin`,
  );
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // None yet: this run makes it.
  }
  const script = new vm.Script(Module.wrap(source), {
    filename: file,
    cachedData,
    // The bundle leaves a few packages to node_modules, imported when first used (Vega, file-type).
    importModuleDynamically: (specifier) => import(specifier),
  });
  const usable = cachedData !== undefined && script.cachedDataRejected !== true;
  // On exit: the cache then holds every function the run compiled, not only the top level.
  process.once('exit', () => {
    const data = script.createCachedData();
    if (!usable || data.length > (cachedData?.length ?? 0) * GROWTH_TO_REWRITE) saveCache(data, cacheFile);
  });
  const module = { exports: {} };
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper.call(module.exports, module.exports, createRequire(file), module, file, dir);
}

function saveCache(data: Buffer, cacheFile: string): void {
  // Written aside and renamed into place: two servers ending at once never leave half a file.
  const aside = `${cacheFile}.${process.pid}.tmp`;
  try {
    mkdirSync(path.dirname(cacheFile), { recursive: true });
    writeFileSync(aside, data);
    renameSync(aside, cacheFile);
    // Caches of other builds (an earlier version, another Node) would only pile up.
    for (const name of readdirSync(path.dirname(cacheFile))) {
      if (name.endsWith('.bin') && name !== path.basename(cacheFile))
        rmSync(path.join(path.dirname(cacheFile), name), { force: true });
    }
  } catch {
    // A read-only config directory: each start compiles, as without the cache.
    rmSync(aside, { force: true });
  }
}

if (typeof SHARKMCP_SERVER_BUNDLE !== 'undefined') {
  runServerBundle(path.dirname(fileURLToPath(import.meta.url)), SHARKMCP_SERVER_BUNDLE);
}
