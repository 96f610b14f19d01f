// Remote capture over SSH, for real: two hosts made as network namespaces on this machine, each
// with its own OpenSSH server, captured at once through Wireshark's sshdump by the built server
// over stdio, as an MCP client would. What each host saw is known because the test made it there.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { connect, readAnswer } from './helpers/mcp-client.js';
import type { Session } from './helpers/mcp-client.js';
import {
  fingerprint,
  makeSshHosts,
  processesInside,
  sshHostsUnavailable,
  PLAIN_USER,
  udpInside,
} from './helpers/ssh-hosts.js';
import type { SshHost, SshHosts } from './helpers/ssh-hosts.js';

const run = promisify(execFile);
const SUDO = '/usr/bin/sudo';

/** Whether a program has file capabilities (capture rights without root), as getcap tells. */
async function hasFileCapabilities(program: string): Promise<boolean> {
  return run('getcap', [program]).then(
    (r) => r.stdout.trim() !== '',
    () => false,
  );
}

/** This run's sshdump and local dumpcap for a host (others' runs on the machine have their own addresses). */
function ofHost(h: SshHost): RegExp {
  const at = h.address.replaceAll('.', '\\.');
  return new RegExp(`sshdump .*--remote-host ${at} |dumpcap .*--ifname ${at}\\b`);
}

/** What of a host's capture still runs there and here, once it is all gone or `ms` have passed. */
async function leftOf(h: SshHost, ms: number): Promise<string[]> {
  const end = Date.now() + ms;
  for (;;) {
    const left = [
      ...(await processesInside(h.ns)).filter((p) => /dumpcap|tcpdump|sleep|\bcat\b/.test(p)),
      ...(await localProcesses(ofHost(h))),
    ];
    if (left.length === 0 || Date.now() > end) return left;
    await delay(100);
  }
}

/** This machine's processes whose command line matches. */
async function localProcesses(pattern: RegExp): Promise<string[]> {
  const out: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmd = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ');
    if (pattern.test(cmd)) out.push(`${pid} ${cmd}`);
  }
  return out;
}
const unavailable = await sshHostsUnavailable();

interface HostView {
  host: string;
  label: string;
  state: string;
  packets: number;
  error: string | null;
}
interface View {
  id: string;
  phase: string;
  packets: number;
  file: string;
  hosts: HostView[] | null;
}

/** Each packet's capture interface and UDP destination port, read by tshark from the file. */
async function interfacesAndPorts(file: string): Promise<{ iface: string; port: string; time: number }[]> {
  const { stdout } = await run('tshark', [
    '-r',
    file,
    '-T',
    'fields',
    '-e',
    'frame.interface_name',
    '-e',
    'udp.dstport',
    '-e',
    'frame.time_epoch',
    '-Y',
    'udp && !icmp',
  ]);
  return stdout
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const [iface = '', port = '', time = '0'] = l.split('\t');
      return { iface, port, time: Number(time) };
    });
}

describe(
  'remote capture over SSH (sshdump, OpenSSH servers in network namespaces)',
  { skip: unavailable },
  () => {
    let dir: string;
    let net: SshHosts;
    let mcp: Session;
    let a: SshHost;
    let b: SshHost;
    const host = (h: SshHost, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
      host: h.address,
      port: h.port,
      user: 'root',
      identityFile: net.identityFile,
      interface: 'lo',
      ...extra,
    });

    before(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'sharkmcp-remote-'));
      net = await makeSshHosts(dir, 2);
      [a, b] = net.hosts as [SshHost, SshHost];
      // The server's user's ~/.ssh is the test's: its known_hosts and key.
      mcp = await connect({ HOME: net.home, SHARKMCP_CONFIG_DIR: path.join(dir, 'config') });
    });
    after(async () => {
      await mcp?.close();
      await net?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('captures on two hosts at once and merges them by time, each packet naming its host', async () => {
      const started = await mcp.call('start_capture_session', {
        remote: [host(a), host(b)],
        timeout: 60,
        sessionName: 'two-hosts',
      });
      assert.equal(started.isError, false, started.text);
      const view = started.structured as unknown as View;
      assert.deepEqual(
        view.hosts?.map((h) => [h.label, h.state]),
        [
          [a.address, 'running'],
          [b.address, 'running'],
        ],
      );
      // Traffic that only each host sees: its own loopback, to a port of its own.
      await udpInside(a.ns, 9101, 5);
      await udpInside(b.ns, 9202, 7);
      await udpInside(a.ns, 9101, 5);
      // Wait until both hosts' packets have come over SSH.
      for (let i = 0; i < 100; i++) {
        const listed = (await mcp.call('list_capture_sessions', {})).structured?.['sessions'] as View[];
        const hosts = listed.find((s) => s.id === 'two-hosts')?.hosts ?? [];
        if ((hosts[0]?.packets ?? 0) >= 20 && (hosts[1]?.packets ?? 0) >= 14) break;
        await delay(100);
      }
      const stopped = await mcp.call('stop_capture_session', { sessionId: 'two-hosts' });
      assert.equal(stopped.isError, false, stopped.text);
      const file = view.file;
      assert.ok(existsSync(file), 'the merged capture is there');

      const packets = await interfacesAndPorts(file);
      const probes = packets.filter((p) => p.port === '9101' || p.port === '9202');
      assert.equal(probes.filter((p) => p.port === '9101').length, 10, "host a's 10 datagrams");
      assert.equal(probes.filter((p) => p.port === '9202').length, 7, "host b's 7 datagrams");
      for (const p of probes)
        assert.equal(
          p.iface,
          p.port === '9101' ? a.address : b.address,
          `port ${p.port} was seen on its own host`,
        );
      const times = packets.map((p) => p.time);
      assert.deepEqual(
        times,
        [...times].sort((x, y) => x - y),
        'merged by time',
      );
      // Each host's packets on their own, and counted per host.
      const onA = await mcp.call('analyze_pcap_file', {
        source: 'two-hosts',
        host: a.address,
        displayFilter: 'udp && !icmp',
        outputFormat: 'fields',
        customFields: 'frame.interface_name,udp.dstport',
      });
      assert.equal(onA.isError, false, onA.text);
      assert.match(onA.text, new RegExp(`Host: ${a.address.replaceAll('.', '\\.')}\n`));
      const rowsOnA = onA.text.split('\n').filter((l) => /\t\d+$/.test(l));
      assert.equal(rowsOnA.filter((l) => l.endsWith('\t9101')).length, 10, onA.text);
      assert.ok(
        rowsOnA.every((l) => l.includes(a.address) && !l.endsWith('\t9202')),
        onA.text,
      );
      const perHost = await mcp.call('capture_statistics', {
        source: 'two-hosts',
        displayFilter: '(udp.dstport == 9101 || udp.dstport == 9202) && !icmp',
        groupBy: ['frame.interface_name'],
      });
      assert.equal(perHost.isError, false, perHost.text);
      assert.match(perHost.text, new RegExp(`${a.address.replaceAll('.', '\\.')}\\s+10\\b`));
      assert.match(perHost.text, new RegExp(`${b.address.replaceAll('.', '\\.')}\\s+7\\b`));
      // The summary says which host saw each conversation, and narrows to one host.
      type Conv = {
        kind: string;
        a: string;
        b: string;
        frames: number;
        bytes: number;
        capturedOn?: string[];
      };
      const onPort = (convs: Conv[], port: number): Conv[] =>
        convs.filter((c) => c.kind === 'udp' && [c.a, c.b].some((e) => e.endsWith(`:${port}`)));
      const summary = await mcp.call('summarize_capture', { source: 'two-hosts', topN: 50 });
      assert.equal(summary.isError, false, summary.text);
      // This machine's processes are not the hosts': none are recorded or shown.
      assert.equal(existsSync(`${file}.processes.jsonl`), false, 'no process record of this machine');
      assert.doesNotMatch(summary.text, /Local processes/);
      const convs = summary.structured?.['conversations'] as Conv[];
      assert.ok(onPort(convs, 9101).length > 0 && onPort(convs, 9202).length > 0, summary.text);
      for (const [port, h] of [
        [9101, a],
        [9202, b],
      ] as const)
        for (const c of onPort(convs, port)) assert.deepEqual(c.capturedOn, [h.address], summary.text);
      assert.match(summary.text, new RegExp(`:9202 .* on ${b.address.replaceAll('.', '\\.')}, 1:`));
      const summaryOfA = await mcp.call('summarize_capture', {
        source: 'two-hosts',
        topN: 50,
        host: a.address,
      });
      assert.equal(summaryOfA.isError, false, summaryOfA.text);
      assert.match(summaryOfA.text, /only the packets captured on host/);
      assert.equal(summaryOfA.structured?.['host'], a.address);
      const convsOfA = summaryOfA.structured?.['conversations'] as Conv[];
      const counts = (list: Conv[]): string[] =>
        list.map((c) => JSON.stringify([c.a, c.b, c.frames, c.bytes])).sort();
      assert.deepEqual(counts(onPort(convsOfA, 9101)), counts(onPort(convs, 9101)), summaryOfA.text);
      assert.equal(onPort(convsOfA, 9202).length, 0, summaryOfA.text);
      const nowhere = await mcp.call('summarize_capture', { source: 'two-hosts', host: '198.18.255.254' });
      assert.equal(nowhere.isError, true);
      assert.ok(nowhere.text.includes(a.address) && nowhere.text.includes(b.address), nowhere.text);
      // Digests name the host each row was captured on.
      const icmp = await mcp.call('inspect_protocol', { source: 'two-hosts', kind: 'icmp', limit: 100 });
      assert.equal(icmp.isError, false, icmp.text);
      assert.ok((icmp.structured?.['columns'] as string[]).includes('capturedOn'), icmp.text);
      const icmpRows = (icmp.structured?.['rows'] ?? []) as { capturedOn?: string; cause?: string }[];
      assert.deepEqual(
        [...new Set(icmpRows.map((r) => r.capturedOn))].sort(),
        [a.address, b.address].sort(),
        icmp.text,
      );
      // Narrowed to one host, a digest's rows still say where they were captured.
      const icmpOnA = await mcp.call('inspect_protocol', {
        source: 'two-hosts',
        kind: 'icmp',
        limit: 100,
        host: a.address,
      });
      assert.equal(icmpOnA.isError, false, icmpOnA.text);
      const onARows = (icmpOnA.structured?.['rows'] ?? []) as { capturedOn?: string }[];
      assert.ok(onARows.length > 0, icmpOnA.text);
      assert.deepEqual([...new Set(onARows.map((r) => r.capturedOn))], [a.address], icmpOnA.text);
      // The session's own SSH connection is never captured.
      const { stdout: ssh } = await run('tshark', [
        '-r',
        file,
        '-Y',
        'tcp.port == 2222',
        '-T',
        'fields',
        '-e',
        'frame.number',
      ]);
      assert.equal(ssh.trim(), '', 'no SSH packets of the session itself');
      // Nothing is left running on either host.
      for (const h of [a, b]) {
        const left = (await processesInside(h.ns)).filter((p) => /dumpcap|tcpdump|sleep|\bcat\b/.test(p));
        assert.deepEqual(left, [], `nothing of the capture left on ${h.address}`);
      }
    });

    it('refuses a host whose key is not in known_hosts, with its fingerprint and the command that accepts it', async () => {
      const known = await readFile(net.knownHosts, 'utf8');
      await writeFile(
        net.knownHosts,
        known
          .split('\n')
          .filter((l) => !l.includes(b.address))
          .join('\n'),
      );
      try {
        const answer = await mcp.call('start_capture_session', { remote: [host(b)], timeout: 30 });
        assert.equal(answer.isError, true, answer.text);
        const expected = await fingerprint(`${b.hostKeyFile}.pub`);
        assert.ok(expected.startsWith('SHA256:') && answer.text.includes(expected), answer.text);
        assert.match(answer.text, new RegExp(`ssh-keyscan -p 2222 ${b.address.replaceAll('.', '\\.')} >> `));
        assert.match(answer.text, /not in .*known_hosts/);
        const listed = (await mcp.call('list_capture_sessions', {})).structured?.['sessions'] as View[];
        assert.equal(listed.filter((s) => s.phase === 'running').length, 0, 'nothing runs');
      } finally {
        await writeFile(net.knownHosts, known);
      }
    });

    it('captures as a user without privileges through sudo, and says why when the program may not capture or sudo wants a password', async (t) => {
      if (!existsSync(SUDO)) return t.skip(`needs sudo at ${SUDO} (./scripts/setup.sh --tests installs it)`);
      const plain = (captureCommand: string): Record<string, unknown> =>
        host(a, { user: PLAIN_USER, captureCommand });
      const at = a.address.replaceAll('.', '\\.');
      // The plain user's dumpcap may not capture (Debian installs it without capture rights unless
      // told otherwise): the answer names the host and says what to use instead.
      if (await hasFileCapabilities('/usr/bin/dumpcap'))
        t.diagnostic('dumpcap has capture rights here: the refusal without sudo is not checked');
      else {
        const denied = await mcp.call('start_capture_session', { remote: [plain('dumpcap')], timeout: 30 });
        assert.equal(denied.isError, true, denied.text);
        assert.match(
          denied.text,
          new RegExp(`${at}.*dumpcap there may not capture on "lo" as ${PLAIN_USER}`),
        );
        assert.match(denied.text, /captureCommand "sudo dumpcap"/);
      }
      // sudo lets the plain user run dumpcap only: for tcpdump it wants a password, never given.
      const asked = await mcp.call('start_capture_session', { remote: [plain('sudo tcpdump')], timeout: 30 });
      assert.equal(asked.isError, true, asked.text);
      assert.match(asked.text, new RegExp(`${at}.*sudo there asks for a password`));
      assert.match(asked.text, /NOPASSWD/);

      const started = await mcp.call('start_capture_session', {
        remote: [plain('sudo dumpcap')],
        timeout: 60,
        sessionName: 'with-sudo',
      });
      assert.equal(started.isError, false, started.text);
      await udpInside(a.ns, 9303, 4);
      for (let i = 0; i < 100; i++) {
        const listed = (await mcp.call('list_capture_sessions', {})).structured?.['sessions'] as View[];
        if ((listed.find((s) => s.id === 'with-sudo')?.packets ?? 0) >= 8) break;
        await delay(100);
      }
      const stopped = await mcp.call('stop_capture_session', { sessionId: 'with-sudo' });
      assert.equal(stopped.isError, false, stopped.text);
      const file = (started.structured as unknown as View).file;
      const probes = (await interfacesAndPorts(file)).filter((p) => p.port === '9303');
      assert.equal(probes.length, 4, 'the 4 datagrams, captured by dumpcap as root');
      // The capture ran as root under sudo, started by the plain user, and still ended with the session.
      assert.deepEqual(await leftOf(a, 10_000), [], `nothing of the capture left on ${a.address}`);
    });

    it('goes on with the hosts that answer and names the one that failed', async () => {
      // Nothing listens on port 2223: that host refuses the connection.
      const dead = { ...host(a), port: 2223 };
      const answer = await mcp.call('start_capture_session', {
        remote: [host(a), dead],
        timeout: 60,
        sessionName: 'one-dead',
      });
      assert.equal(answer.isError, false, answer.text);
      const hosts = (answer.structured as unknown as View).hosts ?? [];
      assert.equal(hosts[0]?.state, 'running');
      assert.equal(hosts[1]?.state, 'failed');
      assert.match(hosts[1]?.error ?? '', /2223.*connection refused/);
      assert.match(answer.text, new RegExp(`Host root@${a.address.replaceAll('.', '\\.')}:2223 .*failed`));
      await udpInside(a.ns, 9303, 3);
      await delay(300);
      const stopped = await mcp.call('stop_capture_session', { sessionId: 'one-dead' });
      assert.equal(stopped.isError, false, stopped.text);
      assert.match(stopped.text, /9303/);
    });

    it('runs like any session: stops by itself at its timeout, keeps a copy with saveTo, is deleted with its files', async () => {
      const started = await mcp.call('start_capture_session', {
        remote: [host(a), host(b)],
        timeout: 3,
        sessionName: 'timed',
      });
      assert.equal(started.isError, false, started.text);
      await udpInside(b.ns, 9404, 4);
      const saveTo = path.join(dir, 'timed-copy.pcapng');
      // wait: until the session ends by itself, with the packets so far as progress.
      const t0 = Date.now();
      const progress: { progress: number; message?: string }[] = [];
      const stopped = readAnswer(
        await mcp.client.callTool(
          { name: 'stop_capture_session', arguments: { sessionId: 'timed', wait: true, saveTo } },
          { onprogress: (p) => progress.push(p) },
        ),
      );
      assert.equal(stopped.isError, false, stopped.text);
      assert.ok(progress.length >= 1, 'progress while waiting');
      assert.match(progress.at(-1)?.message ?? '', /packets? captured/);
      assert.ok(Date.now() - t0 < 8_000, `ended by its 3 s timeout (took ${Date.now() - t0} ms)`);
      assert.match(stopped.text, /\(timeout reached\)/);
      assert.match(stopped.text, /9404/);
      const copy = await interfacesAndPorts(saveTo);
      assert.equal(copy.filter((p) => p.port === '9404').length, 4, 'the copy holds the packets');
      const listed = (await mcp.call('list_capture_sessions', {})).structured?.['sessions'] as View[];
      const timed = listed.find((s) => s.id === 'timed');
      assert.equal(timed?.phase, 'finished');
      assert.deepEqual(
        timed?.hosts?.map((h) => h.state),
        ['ended', 'ended'],
      );
      const file = timed?.file ?? '';
      const deleted = await mcp.call('delete_capture_session', { sessionId: 'timed' });
      assert.equal(deleted.isError, false, deleted.text);
      const left = (await readdir(path.dirname(file))).filter((f) =>
        f.startsWith(path.basename(file, '.pcapng')),
      );
      assert.deepEqual(left, [], 'no file of the session is left');
      for (const h of [a, b]) {
        const running = (await processesInside(h.ns)).filter((p) => /dumpcap|tcpdump|sleep|\bcat\b/.test(p));
        assert.deepEqual(running, [], `nothing of the capture left on ${h.address}`);
      }
    });

    it('shares maxPackets among the hosts, and captures with tcpdump as with dumpcap', async (t) => {
      // setup.sh --tests installs tcpdump; without it, both hosts use dumpcap.
      const tcpdump = existsSync('/usr/bin/tcpdump') || existsSync('/usr/sbin/tcpdump');
      if (!tcpdump) t.diagnostic('tcpdump is not installed: both hosts capture with dumpcap');
      const started = await mcp.call('start_capture_session', {
        remote: [host(a, tcpdump ? { captureCommand: 'tcpdump' } : {}), host(b)],
        timeout: 30,
        maxPackets: 6,
        sessionName: 'limited',
      });
      assert.equal(started.isError, false, started.text);
      // 4 datagrams each, and as many ICMP errors: more than each host's share of 3.
      await udpInside(a.ns, 9505, 4);
      await udpInside(b.ns, 9606, 4);
      const t0 = Date.now();
      const stopped = await mcp.call('stop_capture_session', { sessionId: 'limited', wait: true });
      assert.equal(stopped.isError, false, stopped.text);
      assert.ok(Date.now() - t0 < 10_000, 'ended at its limit, not its timeout');
      assert.match(stopped.text, /Captured: 6 packets, .*\(packet limit reached\)/);
      const view = (stopped.structured as unknown as { session?: View } | undefined)?.session;
      const listed = (await mcp.call('list_capture_sessions', {})).structured?.['sessions'] as View[];
      const limited = view ?? listed.find((s) => s.id === 'limited');
      assert.deepEqual(
        limited?.hosts?.map((h) => h.packets),
        [3, 3],
      );
      await mcp.call('delete_capture_session', { sessionId: 'limited' });
    });

    it('gives up a host that accepts the connection but never speaks SSH, and a cancelled start leaves nothing', async () => {
      // A listener on the host that never answers: the SSH handshake waits for it.
      const silent = spawn(
        'ip',
        [
          'netns',
          'exec',
          a.ns,
          process.execPath,
          '-e',
          `require('net').createServer(() => {}).listen(2299, '${a.address}', () => console.log('up'))`,
        ],
        { stdio: ['ignore', 'pipe', 'ignore'] },
      );
      try {
        await new Promise((resolve) => silent.stdout.once('data', resolve));
        // Cancelled by the client while it waits: nothing is left, and no session.
        const controller = new AbortController();
        const call = mcp.client.callTool(
          {
            name: 'start_capture_session',
            arguments: { remote: [host(a, { port: 2299 })], sessionName: 'cancelled' },
          },
          { signal: controller.signal },
        );
        await delay(1_500);
        controller.abort();
        await assert.rejects(call);
        let left: string[] = [];
        for (let i = 0; i < 50; i++) {
          left = await localProcesses(/sshdump .*2299|ssh .*-p 2299/);
          if (left.length === 0) break;
          await delay(100);
        }
        assert.deepEqual(left, [], 'the cancelled start left no sshdump or ssh');
        const listed = (await mcp.call('list_capture_sessions', {})).structured?.['sessions'] as View[];
        assert.equal(
          listed.find((s) => s.id === 'cancelled'),
          undefined,
        );
        // Left to itself, the start gives the host up with the reason.
        const t0 = Date.now();
        const answer = await mcp.call('start_capture_session', { remote: [host(a, { port: 2299 })] });
        assert.equal(answer.isError, true, answer.text);
        assert.match(answer.text, /did not answer|timed out/);
        assert.ok(Date.now() - t0 < 30_000, `gave up after ${Date.now() - t0} ms`);
      } finally {
        silent.kill('SIGKILL');
      }
    });

    it('shares maxFileMB among the hosts: each stops at its share, and the session by size', async () => {
      const started = await mcp.call('start_capture_session', {
        remote: [host(a), host(b)],
        timeout: 60,
        maxFileMB: 1,
        sessionName: 'sized',
      });
      assert.equal(started.isError, false, started.text);
      // About 1.2 MB from each host (datagrams and their ICMP errors): past each one's 0.5 MB.
      await Promise.all([udpInside(a.ns, 9707, 800, 1000), udpInside(b.ns, 9808, 800, 1000)]);
      const t0 = Date.now();
      const stopped = await mcp.call('stop_capture_session', { sessionId: 'sized', wait: true });
      assert.equal(stopped.isError, false, stopped.text);
      assert.ok(Date.now() - t0 < 20_000, 'ended by size, not at its timeout');
      assert.match(stopped.text, /\(file size limit reached\)/);
      const listed = (await mcp.call('list_capture_sessions', {})).structured?.['sessions'] as View[];
      const sized = listed.find((s) => s.id === 'sized');
      // dumpcap stops once a file has passed its bound: a packet's worth over at most, per host.
      const bytes = (sized as unknown as { bytes: number } | undefined)?.bytes ?? 0;
      assert.ok(bytes > 900_000 && bytes < 1_010_000, JSON.stringify(sized));
      assert.deepEqual(
        sized?.hosts?.map((h) => h.state),
        ['ended', 'ended'],
      );
      await mcp.call('delete_capture_session', { sessionId: 'sized' });
    });

    it('takes a key only from ~/.ssh or an allowed directory', async () => {
      const answer = await mcp.call('start_capture_session', {
        remote: [host(a, { identityFile: '/etc/ssh/ssh_host_ed25519_key' })],
      });
      assert.equal(answer.isError, true);
      assert.match(answer.text, /identityFile: .*outside the directories this server may use/);
      const missing = await mcp.call('start_capture_session', {
        remote: [host(a, { identityFile: path.join(net.home, '.ssh', 'id_missing') })],
      });
      assert.equal(missing.isError, true);
      assert.match(missing.text, /identityFile: .*id_missing" does not exist/);
    });

    it('ends on the hosts when the server shuts down', async () => {
      const own = await connect({ HOME: net.home, SHARKMCP_CONFIG_DIR: path.join(dir, 'config-shutdown') });
      const started = await own.call('start_capture_session', { remote: [host(a)], timeout: 600 });
      assert.equal(started.isError, false, started.text);
      const capturing = (await processesInside(a.ns)).filter((p) => /^\d+ dumpcap -q -P/.test(p));
      assert.equal(capturing.length, 1, 'the capture runs on the host');
      // The client goes away: the server ends its captures, here and on the host, long before 600 s.
      await own.close();
      const left = await leftOf(a, 10_000);
      assert.deepEqual(left, [], 'nothing outlives the server');
    });

    it('ends on the hosts at its timeout even when the server was killed', async () => {
      const own = await connect({ HOME: net.home, SHARKMCP_CONFIG_DIR: path.join(dir, 'config-killed') });
      try {
        const started = await own.call('start_capture_session', { remote: [host(a)], timeout: 3 });
        assert.equal(started.isError, false, started.text);
        const remote = (await processesInside(a.ns)).filter((p) => /^\d+ dumpcap -q -P/.test(p));
        assert.equal(remote.length, 1, 'the capture runs on the host');
        assert.ok(own.pid !== null);
        process.kill(own.pid, 'SIGKILL');
      } finally {
        await own.close().catch(() => undefined);
      }
      // A killed server ends nothing itself: the host's capture, and with it sshdump and the local
      // dumpcap, end at the session's own timeout.
      const left = await leftOf(a, 10_000);
      assert.deepEqual(left, [], 'nothing outlives the timeout');
    });

    it('refuses a filter that could leave its quotation before anything runs', async () => {
      for (const captureFilter of [
        "port 1'; touch /tmp/x; '",
        'port $(id -u)',
        'port 1`id`',
        'udp\nport 9',
      ]) {
        const answer = await mcp.call('start_capture_session', { remote: [host(a)], captureFilter });
        assert.equal(answer.isError, true, captureFilter);
        assert.match(answer.text, /captureFilter/);
      }
      const bad = await mcp.call('start_capture_session', {
        remote: [host(a)],
        captureFilter: 'port eleven',
      });
      assert.equal(bad.isError, true);
      assert.match(bad.text, /not a valid capture filter/);
      const listed = (await mcp.call('list_capture_sessions', {})).structured?.['sessions'] as View[];
      assert.equal(listed.filter((s) => s.phase === 'running').length, 0);
    });
  },
);
