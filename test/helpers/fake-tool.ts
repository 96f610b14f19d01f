// A fake Wireshark tool for the faults a real one cannot produce on demand (a hang). It answers
// --version like the real one, and otherwise records its pid and never ends.
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
