// Why a remote host's capture did not start or ended early, in words that say what to do: read
// from what sshdump, OpenSSH's client (its proxy) and the remote shell wrote to stderr. An unknown
// host key is refused with the key's fingerprint, read with ssh-keyscan and ssh-keygen, and the
// command that accepts it; verification is never turned off.
import path from 'node:path';
import type { ProcessGroup } from '../wireshark/process.js';
import { hostText } from './remote-hosts.js';
import type { RemoteHost } from './remote-hosts.js';

export interface SshTools {
  readonly ssh: string;
  readonly knownHosts: string;
}

/** The host as known_hosts names it: host, or [host]:port off port 22. */
export function knownHostsName(h: Pick<RemoteHost, 'host' | 'port'>): string {
  return h.port === 22 ? h.host : `[${h.host}]:${h.port}`;
}

/** The lines of stderr worth showing: without sshdump's own log prefixes and blank lines. */
function meaningful(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((l) => l.replace(/^\*\* \([^)]*\) [\d:.]+ \[[^\]]*\] (?:\S+ )?-- (?:\w+\(\): )?/, '').trim())
    .filter((l) => l !== '' && !/^(Warning: Permanently added|Pseudo-terminal)/.test(l));
}

export async function diagnoseSshFailure(
  group: ProcessGroup,
  tools: SshTools,
  host: RemoteHost,
  stderr: string,
): Promise<string> {
  const who = hostText(host);
  const known = tools.knownHosts;
  const has = (re: RegExp): boolean => re.test(stderr);
  if (has(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/))
    return `${who}: the host's key is not the one ${known} holds for it, so the connection was refused (it could be another machine answering at that address). If the host's key was changed on purpose, remove the old one with: ssh-keygen -R '${knownHostsName(host)}' -f ${known}, check the new one's fingerprint on the host, and add it.`;
  if (has(/Host key verification failed|No \S+ host key is known/)) {
    const offered = await offeredKeys(group, tools, host);
    return `${who}: the host's key is not in ${known}, so the connection was refused (keys are always verified). ${
      offered.length > 0
        ? `The host offers ${offered.join(', ')}. If that is its key (on the host, "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub" shows it), accept it with: ssh-keyscan -p ${host.port} ${host.host} >> ${known}`
        : `Its key could not be read either; once the host answers, check its fingerprint and accept it with: ssh-keyscan -p ${host.port} ${host.host} >> ${known}`
    } — then start the capture again.`;
  }
  if (has(/Permission denied \(/))
    return `${who}: the host refused the login as "${host.user}" ${
      host.identityFile ? `with the key ${host.identityFile}` : 'with ssh-agent and the default keys'
    }. Check that its public key is in ~${host.user}/.ssh/authorized_keys there, and that the key has no passphrase or is loaded in ssh-agent.`;
  if (has(/Could not resolve hostname|Name or service not known|nodename nor servname/))
    return `${who}: the host name does not resolve here. Check the name, or give its address.`;
  if (has(/Connection refused/))
    return `${who}: nothing accepts SSH connections on port ${host.port} there (connection refused). Check that sshd runs on that port.`;
  if (has(/Connection timed out|No route to host|Network is unreachable|timed out|Timeout connecting/i))
    return `${who}: the host did not answer (unreachable or timed out). Check the address, port and the network between.`;
  if (has(/administratively prohibited|open failed/))
    return `${who}: the host does not allow TCP forwarding, which the capture uses to check the host's key with OpenSSH (ssh -W). Set "AllowTcpForwarding yes" for this user in its sshd_config.`;
  if (has(/sudo: .*password is required|sudo: a terminal is required|sudo: no tty/))
    return `${who}: sudo there asks for a password. Let ${host.user} run ${host.captureCommand.replace('sudo ', '')} without one (a NOPASSWD rule for that program only), or give the program capture rights and use captureCommand "${host.captureCommand.replace('sudo ', '')}".`;
  const program = host.captureCommand.replace('sudo ', '');
  if (has(new RegExp(`${program}: (command )?not found|${program}: No such file`)))
    return `${who}: the host has no ${program} on its PATH. Install it there (dumpcap comes with Wireshark's packages, e.g. "wireshark-common" or "tshark"), or use the other captureCommand.`;
  if (has(/You don't have permission|Operation not permitted|permission denied/i))
    return `${who}: ${program} there may not capture on "${host.interface}" as ${host.user}: ${meaningful(stderr).slice(-2).join(' ')}. Use captureCommand "sudo ${program}", or give ${program} capture rights on the host.`;
  if (has(/no suitable device|No such device|doesn't exist|There is no device/))
    return `${who}: the host has no interface "${host.interface}". "ip link" on the host lists them; "any" captures on all.`;
  const lines = meaningful(stderr);
  return `${who}: the capture ended: ${lines.length > 0 ? lines.slice(-3).join(' ') : 'sshdump said nothing'}.`;
}

/** The host's keys as "SHA256:... (ED25519)", read with ssh-keyscan; none when it does not answer. */
async function offeredKeys(group: ProcessGroup, tools: SshTools, host: RemoteHost): Promise<string[]> {
  const dir = path.dirname(tools.ssh);
  let keys = '';
  try {
    await group.run({
      command: path.join(dir, 'ssh-keyscan'),
      args: ['-T', '5', '-p', String(host.port), '--', host.host],
      timeoutMs: 10_000,
      onStdout: (chunk) => {
        keys += chunk.toString('utf8');
        return 'continue';
      },
    });
    if (keys.trim() === '') return [];
    let out = '';
    await group.run({
      command: path.join(dir, 'ssh-keygen'),
      args: ['-l', '-f', '-'],
      stdin: Buffer.from(keys),
      timeoutMs: 10_000,
      onStdout: (chunk) => {
        out += chunk.toString('utf8');
        return 'continue';
      },
    });
    // "256 SHA256:abc [198.18.5.2]:2222 (ED25519)"
    return out
      .split('\n')
      .map((l) => /^\d+ (\S+) .*\((\S+)\)$/.exec(l.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => `${m[1]} (${m[2]})`);
  } catch {
    return [];
  }
}
