// The programs a remote capture needs on this machine: Wireshark's sshdump (in its extcap folder),
// OpenSSH's client (sshdump's proxy, which verifies host keys), dumpcap and mergecap. Looked for
// when the first remote capture starts; each can be named by an environment variable.
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.js';
import { locateWiresharkTools } from '../wireshark/locate.js';
import type { WiresharkTools } from '../wireshark/locate.js';
import type { ProcessGroup } from '../wireshark/process.js';
import { extcapFolder } from './interfaces.js';
import type { RemoteTools } from './remote-capture.js';
import { knownHostsFile } from './remote-hosts.js';

async function executable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function onPath(name: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter((d) => d !== '')) {
    const candidate = path.join(dir, name);
    if (await executable(candidate)) return candidate;
  }
  for (const dir of ['/usr/bin', '/usr/local/bin', '/opt/homebrew/bin']) {
    const candidate = path.join(dir, name);
    if (await executable(candidate)) return candidate;
  }
  return undefined;
}

export async function locateRemoteTools(
  group: ProcessGroup,
  tools: WiresharkTools,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RemoteTools> {
  const dumpcap = tools.require('dumpcap');
  const tshark = tools.require('tshark');
  const sshdump =
    env.SHARKMCP_SSHDUMP ??
    (await extcapFolder(group, tshark).then((dir) => (dir ? path.join(dir, 'sshdump') : undefined)));
  if (sshdump === undefined || !(await executable(sshdump)))
    throw new UserError(
      `Remote capture needs Wireshark's sshdump, which was not found${sshdump ? ` at ${sshdump}` : ''}. On Debian/Ubuntu it comes with the package "wireshark-common" (installed with tshark); elsewhere install Wireshark with its extcap tools, or set SHARKMCP_SSHDUMP to its path.`,
    );
  const ssh = env.SHARKMCP_SSH ?? (await onPath('ssh', env));
  if (ssh === undefined || !(await executable(ssh)))
    throw new UserError(
      'Remote capture needs OpenSSH\'s client ("ssh"), which checks each host\'s key, and it was not found on PATH. Install it (Debian/Ubuntu: openssh-client), or set SHARKMCP_SSH to its path.',
    );
  const mergecap = (await locateWiresharkTools(group, env, undefined, ['mergecap'])).require('mergecap');
  return { dumpcap, sshdump, ssh, mergecap, knownHosts: knownHostsFile() };
}
