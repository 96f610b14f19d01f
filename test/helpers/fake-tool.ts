// Fake Wireshark tools for the faults a real one cannot produce on demand (a hang, a start that
// never comes, a kill). They answer --version like the real ones; what they do otherwise is theirs.
import { existsSync, readFileSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Writes an executable Node script at dir/name that answers --version with `banner`, else runs `body`. */
async function writeFakeTool(dir: string, name: string, banner: string, body: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(
    file,
    `#!${process.execPath}
const fs = require('node:fs');
const args = process.argv.slice(2);
if (args.includes('--version')) {
  console.log(${JSON.stringify(`${banner} (Wireshark) 4.0.17 (fake, for tests).`)});
  process.exit(0);
}
${body}
`,
  );
  await chmod(file, 0o755);
  return file;
}

/** A tool that records its pid in `pidFile` and never ends. */
export function writeHangingTool(dir: string, name: string, pidFile: string): Promise<string> {
  return writeFakeTool(
    dir,
    name,
    'TShark',
    `fs.appendFileSync(${JSON.stringify(pidFile)}, process.pid + '\\n');
setInterval(() => {}, 1000);`,
  );
}

/**
 * A fake dumpcap that lists one interface (lo) and, asked to capture, records its pid, creates the
 * file it was told to write and then never reports that capture began: an interface that never
 * starts, which a real dumpcap cannot be made to do on demand once FIFOs are refused.
 */
export function writeStuckDumpcap(dir: string, pidFile: string): Promise<string> {
  return writeFakeTool(
    dir,
    'dumpcap',
    'Dumpcap',
    `if (args.includes('-D')) {
  process.stdout.write('1. lo\\t\\tLoopback\\t0\\t127.0.0.1,::1\\tloopback\\t\\n');
  process.exit(0);
}
fs.appendFileSync(${JSON.stringify(pidFile)}, process.pid + '\\n');
const w = args.indexOf('-w');
if (w !== -1) fs.writeFileSync(args[w + 1], '');
setInterval(() => {}, 1000);`,
  );
}

/** A fake tshark that is killed (SIGKILL) whenever it is asked to work. */
export function writeKilledTool(dir: string, name: string): Promise<string> {
  return writeFakeTool(dir, name, 'TShark', `process.kill(process.pid, 'SIGKILL');`);
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
