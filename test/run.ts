// `npm test` runs node's test runner through this: node with the arguments given, plus a directory
// where the test files of this one run keep what they make once and share (the loopback capture
// several of them read: helpers/fixtures.ts), removed when the run ends, however it ends.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const dir = mkdtempSync(path.join(os.tmpdir(), 'sharkmcp-test-run-'));
const runner = spawn(process.execPath, process.argv.slice(2), {
  stdio: 'inherit',
  env: { ...process.env, SHARKMCP_TEST_RUN_DIR: dir },
});
// Ctrl-C reaches the runner too (same process group); a TERM sent to this process alone is passed on.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => runner.kill('SIGTERM'));
runner.on('exit', (code, signal) => {
  rmSync(dir, { recursive: true, force: true });
  process.exitCode = code ?? (signal ? 1 : 0);
});
runner.on('error', (err) => {
  rmSync(dir, { recursive: true, force: true });
  process.stderr.write(`cannot run the tests: ${err.message}\n`);
  process.exitCode = 1;
});
