// Direct tshark queries, so tests compute expected values independently of the server.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Rows of `tshark -r file [-Y filter] -T fields -e ...` (tab-separated columns). */
export async function tsharkFields(
  file: string,
  fields: readonly string[],
  options: {
    filter?: string;
    keylog?: string;
    decodeAs?: readonly string[];
    /** -E occurrence: 'f' for each field's first value (a tunnel's outer header). */
    occurrence?: 'f' | 'l' | 'a';
  } = {},
): Promise<string[][]> {
  const args = ['-r', file];
  for (const d of options.decodeAs ?? []) args.push('-d', d);
  if (options.keylog) args.push('-o', `tls.keylog_file:${options.keylog}`);
  if (options.filter) args.push('-Y', options.filter);
  args.push('-T', 'fields');
  if (options.occurrence) args.push('-E', `occurrence=${options.occurrence}`);
  for (const f of fields) args.push('-e', f);
  const { stdout } = await run('tshark', args, { maxBuffer: 64 * 1024 * 1024 });
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t'));
}
