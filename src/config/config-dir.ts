// Where the server keeps what it saves between runs (configurations, the tools' versions): kept
// apart from config-store.ts so that start-up can find it without loading the store's schemas.
import os from 'node:os';
import path from 'node:path';

export function defaultConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env['SHARKMCP_CONFIG_DIR'];
  if (explicit !== undefined && explicit !== '') return path.resolve(explicit);
  if (process.platform === 'win32' && env['APPDATA']) return path.join(env['APPDATA'], 'sharkmcp');
  const xdg = env['XDG_CONFIG_HOME'];
  const base = xdg !== undefined && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.config');
  return path.join(base, 'sharkmcp');
}
