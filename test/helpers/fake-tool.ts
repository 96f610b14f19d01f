// Fake Wireshark tools for the faults a real one cannot produce on demand (a hang). They answer
// --version like the real ones, and otherwise record their pid and never end.
import { existsSync, readFileSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';

export async function writeHangingTool(dir: string, name: string, pidFile: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(
    file,
    `#!${process.execPath}
const fs = require('node:fs');
if (process.argv.includes('--version')) {
  console.log('TShark (Wireshark) 4.0.17 (fake, for tests).');
  process.exit(0);
}
fs.appendFileSync(${JSON.stringify(pidFile)}, process.pid + '\\n');
setInterval(() => {}, 1000);
`,
  );
  await chmod(file, 0o755);
  return file;
}

/**
 * A fake dumpcap that lists one interface (lo) and, asked to capture, records its pid, creates the
 * file it was told to write and then never reports that capture began: an interface that never
 * starts, which a real dumpcap cannot be made to do on demand once FIFOs are refused.
 */
export async function writeStuckDumpcap(dir: string, pidFile: string): Promise<string> {
  const file = path.join(dir, 'dumpcap');
  await writeFile(
    file,
    `#!${process.execPath}
const fs = require('node:fs');
const args = process.argv.slice(2);
if (args.includes('--version')) {
  console.log('Dumpcap (Wireshark) 4.0.17 (fake, for tests).');
  process.exit(0);
}
if (args.includes('-D')) {
  process.stdout.write('1. lo\\t\\tLoopback\\t0\\t127.0.0.1,::1\\tloopback\\t\\n');
  process.exit(0);
}
fs.appendFileSync(${JSON.stringify(pidFile)}, process.pid + '\\n');
const w = args.indexOf('-w');
if (w !== -1) fs.writeFileSync(args[w + 1], '');
setInterval(() => {}, 1000);
`,
  );
  await chmod(file, 0o755);
  return file;
}

/** The pids a fake tool recorded. */
export function pidsIn(file: string): number[] {
  return existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map(Number)
    : [];
}
