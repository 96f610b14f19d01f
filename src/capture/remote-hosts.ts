// What a remote capture asks of each host, checked before anything runs: where to log in, as whom,
// with which key, and the command line the host's shell runs. sshdump (Wireshark's extcap) makes the
// SSH connection and runs that line; OpenSSH's own client, as sshdump's proxy, verifies the host's
// key against known_hosts. Two strings reach a shell: the remote command line (the host's login
// shell) and the proxy command (sh on this machine, through libssh). Both are built here, from
// values that are checked against strict patterns first and then quoted, so that nothing a call
// sends can end a quotation or start a command.
import { realpath } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../errors.js';
import { MAX_REMOTE_HOSTS, REMOTE_DEFAULTS } from '../limits.js';
import type { REMOTE_CAPTURE_COMMANDS } from '../limits.js';

export type RemoteCaptureCommand = (typeof REMOTE_CAPTURE_COMMANDS)[number];

/** One host as a call names it. */
export interface RemoteHostRequest {
  readonly host: string;
  readonly port?: number | undefined;
  readonly user: string;
  /** Absolute path of the private key (OpenSSH format); none: ssh-agent and the default keys. */
  readonly identityFile?: string | undefined;
  readonly interface?: string | undefined;
  readonly captureCommand?: RemoteCaptureCommand | undefined;
}

/** One host, checked, with the name its packets go by in the session's capture. */
export interface RemoteHost {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly identityFile: string | undefined;
  readonly interface: string;
  readonly captureCommand: RemoteCaptureCommand;
  /** The capture interface these packets get in the session's file: the host, made unique. */
  readonly label: string;
}

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV6 = /^[0-9A-Fa-f:.]{2,45}$/;
const USER = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
/** Interface names as Linux, BSD and libpcap write them (eth0, ens3, br-1a2b, vlan.10, any, bond0:1). */
const INTERFACE = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$/;
/**
 * What a BPF filter is written with: words, numbers, addresses, operators and brackets. No quote,
 * backslash, dollar, backtick, semicolon or newline, so the filter cannot leave its quotation in
 * the remote command line.
 */
const FILTER_CHARS = /^[A-Za-z0-9 .:/_()!<>=&|[\]*+%^~,-]*$/;

/** Checks each host of a call and names it; throws a UserError naming the host and what to fix. */
export function checkRemoteHosts(requests: readonly RemoteHostRequest[]): RemoteHost[] {
  if (requests.length === 0) throw new UserError('remote: name at least one host.');
  if (requests.length > MAX_REMOTE_HOSTS)
    throw new UserError(`remote: at most ${MAX_REMOTE_HOSTS} hosts in one session (got ${requests.length}).`);
  const hosts = requests.map((r, i) => checkHost(r, `remote[${i}]`));
  const labels = uniqueLabels(hosts);
  return hosts.map((h, i) => ({ ...h, label: labels[i] as string }));
}

function checkHost(r: RemoteHostRequest, at: string): Omit<RemoteHost, 'label'> {
  const host = r.host.startsWith('[') && r.host.endsWith(']') ? r.host.slice(1, -1) : r.host;
  if (!(HOSTNAME.test(host) || (host.includes(':') && IPV6.test(host))))
    throw new UserError(
      `${at}.host ${JSON.stringify(r.host)} is not a host name or an IP address (letters, digits, '-' and '.'; or an IPv6 address).`,
    );
  if (!USER.test(r.user))
    throw new UserError(
      `${at}.user ${JSON.stringify(r.user)} is not a user name (letters, digits, '_', '.', '-', starting with a letter or '_').`,
    );
  const iface = r.interface ?? REMOTE_DEFAULTS.interface;
  if (!INTERFACE.test(iface))
    throw new UserError(
      `${at}.interface ${JSON.stringify(iface)} is not an interface name (letters, digits, '.', '_', ':', '@', '-'; as "ip link" shows them on that host).`,
    );
  const identityFile = r.identityFile;
  if (identityFile !== undefined && !path.isAbsolute(identityFile))
    throw new UserError(`${at}.identityFile: give the key's absolute path, not "${identityFile}".`);
  return {
    host,
    port: r.port ?? REMOTE_DEFAULTS.port,
    user: r.user,
    identityFile,
    interface: iface,
    captureCommand: r.captureCommand ?? REMOTE_DEFAULTS.captureCommand,
  };
}

/** Each host's name in the capture: the host, or host:port, or host:port/interface where needed. */
function uniqueLabels(hosts: readonly Omit<RemoteHost, 'label'>[]): string[] {
  const forms = [
    (h: Omit<RemoteHost, 'label'>) => h.host,
    (h: Omit<RemoteHost, 'label'>) => `${h.host}:${h.port}`,
    (h: Omit<RemoteHost, 'label'>) => `${h.host}:${h.port}/${h.interface}`,
    (h: Omit<RemoteHost, 'label'>) => `${h.user}@${h.host}:${h.port}/${h.interface}`,
  ];
  return hosts.map((h) => {
    for (const form of forms) {
      const label = form(h);
      if (hosts.filter((o) => form(o) === label).length === 1) return label;
    }
    throw new UserError(
      `remote: host ${h.user}@${h.host}:${h.port} interface ${h.interface} is named twice.`,
    );
  });
}

/**
 * Refuses a capture filter that could reach the remote shell as anything but the filter. It is
 * also compiled locally before use (by the caller, with dumpcap).
 */
export function checkRemoteFilter(filter: string): void {
  if (FILTER_CHARS.test(filter)) return;
  const bad = [...filter].find((c) => !FILTER_CHARS.test(c)) ?? '';
  throw new UserError(
    `captureFilter: ${JSON.stringify(bad)} is not used in capture filters, and a remote capture's filter passes through the host's shell, so it is refused there. Write the filter with words, numbers, addresses and the operators BPF uses (and, or, not, ( ), <, >, =, !, &, |).`,
  );
}

/** The filter the host runs: the call's, with the session's own SSH connection always left out. */
export function remoteFilter(filter: string | undefined, sshPort: number): string {
  const own = `not port ${sshPort}`;
  return filter === undefined || filter.trim() === '' ? own : `(${filter}) and ${own}`;
}

export interface RemoteLimits {
  readonly filter: string;
  readonly snaplen: number;
  readonly maxPackets: number;
  readonly timeoutSeconds: number;
}

/**
 * The command line the host's login shell runs: `sh -c '<script>'`, whatever that shell is. The
 * script starts the capture program writing pcap to standard output, and ends it when this side
 * closes the SSH channel (its standard input reaches end-of-file: killing sshdump alone would
 * leave a capture on a quiet host running until its next packet) and at the session's timeout
 * (which also ends it when this server was killed and could close nothing).
 */
export function remoteCommand(host: RemoteHost, limits: RemoteLimits): string {
  checkRemoteFilter(limits.filter);
  const sudo = host.captureCommand.startsWith('sudo ') ? 'sudo -n ' : '';
  const count = `-c ${limits.maxPackets}`;
  const capture = host.captureCommand.endsWith('tcpdump')
    ? `${sudo}tcpdump -U -n -i ${host.interface} -s ${limits.snaplen} ${count} -w - "${limits.filter}"`
    : `${sudo}dumpcap -q -P -i ${host.interface} -s ${limits.snaplen} ${count} -a duration:${limits.timeoutSeconds} -w - -f "${limits.filter}"`;
  // Each piece ends with its own ';' or '&' (sh refuses "&;"). The timer ends its sleep when it is
  // itself ended (its trap), so a capture that ends first leaves nothing behind on the host.
  const script = [
    'exec 3<&0 </dev/null;',
    `${capture} & p=$!;`,
    '{ cat <&3 >/dev/null 2>&1; kill $p 2>/dev/null; } &',
    `{ trap "kill \\$s 2>/dev/null; exit 0" TERM; sleep ${limits.timeoutSeconds + 1} & s=$!; wait $s; kill $p 2>/dev/null; } >/dev/null 2>&1 & t=$!;`,
    'wait $p; r=$?; kill $t 2>/dev/null; exit $r',
  ].join(' ');
  // Every piece is from a checked pattern (no quote of either kind in any of them).
  if (script.includes("'")) throw new Error('a quote reached the remote command line');
  return `sh -c '${script}'`;
}

/** Quotes one word for sh: in single quotes, each single quote written as '\''. */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}

/** Where this user's own SSH files are: the identity files a call may name without a root. */
export function sshDir(): string {
  return path.join(os.homedir(), '.ssh');
}

/** The known_hosts file host keys are checked against. */
export function knownHostsFile(): string {
  return path.join(sshDir(), 'known_hosts');
}

/**
 * sshdump's proxy: OpenSSH's client, which checks the host's key against known_hosts (and refuses
 * an unknown or changed one) and carries sshdump's connection. libssh runs it with sh, so every
 * path is quoted; libssh puts the host and port in for %h and %p.
 */
export function proxyCommand(ssh: string, host: RemoteHost, knownHosts: string, logFile: string): string {
  const words = [
    shellQuote(ssh),
    // libssh sends the proxy's stderr to /dev/null: its reasons (an unknown host key, a refused
    // login) go to a file of the server's instead.
    `-E ${shellQuote(logFile)}`,
    '-o BatchMode=yes',
    '-o StrictHostKeyChecking=yes',
    `-o UserKnownHostsFile=${shellQuote(knownHosts)}`,
    '-o ConnectTimeout=10',
    ...(host.identityFile ? [`-i ${shellQuote(host.identityFile)}`, '-o IdentitiesOnly=yes'] : []),
    `-p ${host.port}`,
    `-l ${host.user}`,
    '-W %h:%p',
    host.host,
  ];
  return words.join(' ');
}

/** sshdump's arguments for one host (its output goes to `fifo`). */
export function sshdumpArgs(host: RemoteHost, fifo: string, command: string, proxy: string): string[] {
  return [
    '--extcap-interface',
    'sshdump',
    '--capture',
    '--fifo',
    fifo,
    '--remote-host',
    host.host,
    '--remote-port',
    String(host.port),
    '--remote-username',
    host.user,
    ...(host.identityFile ? ['--sshkey', host.identityFile] : []),
    '--proxycommand',
    proxy,
    '--remote-capture-command-select',
    'other',
    '--remote-capture-command',
    command,
  ];
}

/** How a host appears in messages: user@host:port. */
export function hostText(h: Pick<RemoteHost, 'user' | 'host' | 'port'>): string {
  return `${h.user}@${h.host.includes(':') ? `[${h.host}]` : h.host}:${h.port}`;
}

/**
 * Where a key may come from: this user's ~/.ssh, or a directory the server may read (the client's
 * roots, --allow-dir); `admit` is the sandbox's check, which throws with how to allow more.
 */
export async function admitIdentityFile(
  file: string,
  param: string,
  admit: (file: string, param: string) => Promise<string>,
): Promise<string> {
  const real = await realpath(file).catch(() => undefined);
  const own = await realpath(sshDir()).catch(() => sshDir());
  const inOwn = (p: string): boolean => p === own || p.startsWith(own + path.sep);
  if (real !== undefined && inOwn(real)) return file;
  // A key named in ~/.ssh that is not there: said as such, not as a path outside the roots.
  if (real === undefined && inOwn(path.resolve(file)))
    throw new UserError(`${param}: "${file}" does not exist (ls ${sshDir()} lists the keys there).`);
  await admit(file, param);
  if (real === undefined) throw new UserError(`${param}: "${file}" does not exist.`);
  return file;
}
