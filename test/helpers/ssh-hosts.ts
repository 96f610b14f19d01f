// Test hosts for remote capture: each a network namespace on this machine joined to it by a veth
// pair, with its own OpenSSH server (Debian's openssh-server) on the namespace's address, a host key
// and an authorized user key made here. Only addresses from 198.18.0.0/15 (set aside for testing)
// and loopback are used. Everything is removed by close(), and what a crashed earlier run left is
// removed before a new one starts.
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const SSHD = '/usr/sbin/sshd';
const PREFIX = 'smcpr';

export interface SshHost {
  /** The namespace's name (run things "on the host" with inNamespace). */
  readonly ns: string;
  readonly address: string;
  readonly port: number;
  /** The host's public key line ("ssh-ed25519 AAAA..."). */
  readonly hostKey: string;
  readonly hostKeyFile: string;
}

/**
 * A user without privileges on every host, besides root: it may run dumpcap (only) as root with
 * sudo and no password, and nothing else with sudo (sudo asks for a password it cannot be given).
 * It lives in a copy of /etc/passwd, /etc/group, /etc/shadow and /etc/sudoers that the hosts' sshd
 * alone sees (bind-mounted in a mount namespace of its own), so the machine's own are untouched.
 */
export const PLAIN_USER = 'smcpuser';

export interface SshHosts {
  readonly hosts: SshHost[];
  /** A HOME for the server: .ssh/known_hosts with every host's key, .ssh/id_test the user key. */
  readonly home: string;
  readonly identityFile: string;
  readonly knownHosts: string;
  close(): Promise<void>;
}

/** Why these tests cannot run here, or undefined when they can. */
export async function sshHostsUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root, to make network namespaces';
  if (!existsSync(SSHD)) return `needs OpenSSH's server at ${SSHD} (./scripts/setup.sh --tests installs it)`;
  try {
    await run('ip', ['netns', 'list']);
  } catch (err) {
    return `needs "ip netns" (iproute2): ${(err as Error).message}`;
  }
  return undefined;
}

/** Runs a command inside a namespace. */
export async function inNamespace(ns: string, command: string, args: string[]): Promise<string> {
  const { stdout } = await run('ip', ['netns', 'exec', ns, command, ...args], { timeout: 30_000 });
  return stdout;
}

/** Sends `count` UDP datagrams (of `size` bytes, at least the probe's name) to 127.0.0.1:`port` from inside a namespace. */
export async function udpInside(ns: string, port: number, count: number, size = 0): Promise<void> {
  const script = `const s=require('dgram').createSocket('udp4');let n=0;const go=()=>{if(n++>=${count})return s.close();s.send(('probe-'+n).padEnd(${size},'.'),${port},'127.0.0.1',go)};go();`;
  await inNamespace(ns, process.execPath, ['-e', script]);
}

/** Namespaces of earlier runs whose process is gone (a crashed run); a live run's are its own. */
async function removeLeftovers(): Promise<void> {
  const { stdout } = await run('ip', ['netns', 'list']).catch(() => ({ stdout: '' }));
  for (const line of stdout.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const owner = Number(new RegExp(`^${PREFIX}-(\\d+)-\\d+$`).exec(name)?.[1] ?? NaN);
    if (!Number.isInteger(owner) || alive(owner)) continue;
    await killInside(name);
    await run('ip', ['netns', 'del', name]).catch(() => undefined);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function killInside(ns: string): Promise<void> {
  const { stdout } = await run('ip', ['netns', 'pids', ns]).catch(() => ({ stdout: '' }));
  for (const pid of stdout
    .split('\n')
    .map(Number)
    .filter((p) => p > 0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/** The processes running inside a namespace, as "pid command". */
export async function processesInside(ns: string): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'pids', ns]).catch(() => ({ stdout: '' }));
  const out: string[] = [];
  for (const pid of stdout
    .split('\n')
    .map(Number)
    .filter((p) => p > 0)) {
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd !== '') out.push(`${pid} ${cmd.split('\0').join(' ').trim()}`);
  }
  return out;
}

async function listening(address: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: address, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`sshd on ${address}:${port} did not start listening`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Makes `count` hosts in `dir`. Host i is 198.18.<subnet>.(4i+2), reached from this machine through
 * 198.18.<subnet>.(4i+1); the subnet is chosen by this process's pid, so runs side by side (two
 * checkouts' tests on one machine) do not share addresses.
 */
export async function makeSshHosts(
  dir: string,
  count: number,
  subnet = 100 + (process.pid % 100),
): Promise<SshHosts> {
  await removeLeftovers();
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  // The plain user reads its authorized key (a public key) as itself: `dir` must let it through.
  await chmod(dir, 0o711);
  const mounts = await plainUserFiles(dir);
  const home = path.join(dir, 'home');
  await mkdir(path.join(home, '.ssh'), { recursive: true, mode: 0o700 });
  const identityFile = path.join(home, '.ssh', 'id_test');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', identityFile]);
  const userKey = await readFile(`${identityFile}.pub`, 'utf8');
  const authorized = path.join(dir, 'authorized_keys');
  await writeFile(authorized, userKey, { mode: 0o644 });
  const daemons: ChildProcess[] = [];
  const hosts: SshHost[] = [];
  const close = async (): Promise<void> => {
    for (const d of daemons) d.kill('SIGKILL');
    for (const h of hosts) {
      await killInside(h.ns);
      await run('ip', ['netns', 'del', h.ns]).catch(() => undefined);
    }
  };
  try {
    for (let i = 0; i < count; i++) {
      const ns = `${PREFIX}-${process.pid}-${i}`;
      const outside = `${PREFIX}${process.pid % 100_000}h${i}`.slice(0, 15);
      const inside = `${PREFIX}${process.pid % 100_000}n${i}`.slice(0, 15);
      const hostSide = `198.18.${subnet}.${4 * i + 1}`;
      const address = `198.18.${subnet}.${4 * i + 2}`;
      await run('ip', ['netns', 'add', ns]);
      const hostKeyFile = path.join(dir, `host_key_${i}`);
      hosts.push({ ns, address, port: 2222, hostKey: '', hostKeyFile });
      await run('ip', ['link', 'add', outside, 'type', 'veth', 'peer', 'name', inside]);
      await run('ip', ['link', 'set', inside, 'netns', ns]);
      await run('ip', ['addr', 'add', `${hostSide}/30`, 'dev', outside]);
      await run('ip', ['link', 'set', outside, 'up']);
      await run('ip', ['netns', 'exec', ns, 'ip', 'addr', 'add', `${address}/30`, 'dev', inside]);
      await run('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', inside, 'up']);
      await run('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
      await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKeyFile]);
      const hostKey = (await readFile(`${hostKeyFile}.pub`, 'utf8')).split(' ').slice(0, 2).join(' ');
      hosts[i] = { ns, address, port: 2222, hostKey, hostKeyFile };
      const config = path.join(dir, `sshd_config_${i}`);
      await writeFile(
        config,
        [
          `ListenAddress ${address}`,
          'Port 2222',
          `HostKey ${hostKeyFile}`,
          `AuthorizedKeysFile ${authorized}`,
          `PidFile ${path.join(dir, `sshd_${i}.pid`)}`,
          'PasswordAuthentication no',
          'KbdInteractiveAuthentication no',
          'UsePAM no',
          'StrictModes no',
          'PermitRootLogin prohibit-password',
          'AllowTcpForwarding yes',
          '',
        ].join('\n'),
      );
      // sshd in a mount namespace of its own, where the plain user's /etc files are bound over the
      // machine's: the paths are arguments of a fixed script, never part of it.
      const daemon = spawn(
        'ip',
        [
          'netns',
          'exec',
          ns,
          'unshare',
          '--mount',
          '--propagation',
          'private',
          'sh',
          '-c',
          'while [ "$1" != -- ]; do mount --bind "$1" "$2" || exit 1; shift 2; done; shift; exec "$@"',
          'sh',
          ...mounts.flat(),
          '--',
          SSHD,
          '-D',
          '-f',
          config,
          '-E',
          path.join(dir, `sshd_${i}.log`),
        ],
        { stdio: 'ignore' },
      );
      daemons.push(daemon);
      await listening(address, 2222, 10_000);
    }
  } catch (err) {
    await close();
    throw err;
  }
  const knownHosts = path.join(home, '.ssh', 'known_hosts');
  await writeFile(knownHosts, hosts.map((h) => `[${h.address}]:${h.port} ${h.hostKey}\n`).join(''), {
    mode: 0o600,
  });
  return { hosts, home, identityFile, knownHosts, close };
}

/**
 * The copies of /etc's user files with PLAIN_USER added (a uid the machine does not use, a home in
 * `dir`), and the [copy, original] pairs to bind-mount. sudo's rules are replaced whole, so that
 * the machine's own grant nothing here; without sudo installed there are none to replace.
 */
async function plainUserFiles(dir: string): Promise<[string, string][]> {
  const etc = path.join(dir, 'etc');
  await mkdir(etc, { recursive: true });
  const passwd = await readFile('/etc/passwd', 'utf8');
  const used = new Set(passwd.split('\n').map((l) => Number(l.split(':')[2])));
  let uid = 61_000;
  while (used.has(uid)) uid++;
  const home = path.join(dir, 'plain-home');
  await mkdir(home, { recursive: true, mode: 0o755 });
  await chown(home, uid, uid);
  const lines = (text: string, line: string): string => `${text.replace(/\n?$/, '\n')}${line}\n`;
  const files: [string, string][] = [
    ['/etc/passwd', lines(passwd, `${PLAIN_USER}:x:${uid}:${uid}::${home}:/bin/sh`)],
    ['/etc/group', lines(await readFile('/etc/group', 'utf8'), `${PLAIN_USER}:x:${uid}:`)],
    ['/etc/shadow', lines(await readFile('/etc/shadow', 'utf8'), `${PLAIN_USER}:*:19000:0:99999:7:::`)],
  ];
  const mounts: [string, string][] = [];
  for (const [original, text] of files) {
    const copy = path.join(etc, path.basename(original));
    await writeFile(copy, text, { mode: original === '/etc/shadow' ? 0o640 : 0o644 });
    mounts.push([copy, original]);
  }
  if (existsSync('/etc/sudoers')) {
    const sudoers = path.join(etc, 'sudoers');
    await writeFile(
      sudoers,
      [
        'Defaults env_reset',
        'Defaults secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"',
        'root ALL=(ALL:ALL) ALL',
        `${PLAIN_USER} ALL=(root) NOPASSWD: /usr/bin/dumpcap`,
        '',
      ].join('\n'),
      { mode: 0o440 },
    );
    mounts.push([sudoers, '/etc/sudoers']);
    const empty = path.join(etc, 'sudoers.d');
    await mkdir(empty, { recursive: true, mode: 0o755 });
    if (existsSync('/etc/sudoers.d')) mounts.push([empty, '/etc/sudoers.d']);
  }
  return mounts;
}

/** The fingerprint OpenSSH shows for a host's key ("SHA256:..."). */
export async function fingerprint(publicKeyFile: string): Promise<string> {
  const { stdout } = await run('ssh-keygen', ['-l', '-f', publicKeyFile]);
  return stdout.split(' ')[1] ?? '';
}
