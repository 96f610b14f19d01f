// `sharkmcp doctor`: checks what SharkMCP needs on this machine and says how to fix what fails.
// Capture permission is proven by a real one-packet capture on loopback, not guessed.
import dgram from 'node:dgram';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { permissionAdvice } from './capture/advice.js';
import { DumpcapCapture } from './capture/dumpcap.js';
import { listLocalInterfaces, loopbackName } from './capture/interfaces.js';
import { defaultConfigDir } from './config/config-store.js';
import { ALL_TOOL_NAMES, installAdvice, locateWiresharkTools, TOOL_NAMES } from './wireshark/locate.js';
import { conversationCounter, NATIVE_BUILD_PACKAGES } from './wireshark/native.js';
import { ProcessGroup } from './wireshark/process.js';
import { buildCommand } from './util/install-kind.js';

export type Verdict = 'ok' | 'warning' | 'fail';

export interface Check {
  readonly name: string;
  readonly verdict: Verdict;
  readonly detail: string;
  /** What to do, when the check did not pass. */
  readonly fix?: string | undefined;
}

export interface DoctorReport {
  readonly checks: readonly Check[];
  /** True when everything the server needs works, capture included. */
  readonly ok: boolean;
}

export async function runDoctor(env: NodeJS.ProcessEnv = process.env): Promise<DoctorReport> {
  const group = new ProcessGroup();
  const checks: Check[] = [];
  try {
    const major = Number(process.versions.node.split('.')[0]);
    checks.push(
      major >= 20
        ? { name: 'Node.js', verdict: 'ok', detail: process.versions.node }
        : {
            name: 'Node.js',
            verdict: 'fail',
            detail: process.versions.node,
            fix: 'Install Node.js 20 or newer.',
          },
    );

    const tools = await locateWiresharkTools(group, env, undefined, ALL_TOOL_NAMES);
    for (const status of tools.all()) {
      const required = TOOL_NAMES.includes(status.name);
      checks.push(
        status.found
          ? {
              name: status.name,
              verdict: 'ok',
              detail: `${status.version} at ${status.path}${status.source === 'env' ? ' (from the override)' : ''}`,
            }
          : {
              name: status.name,
              verdict: required ? 'fail' : 'warning',
              detail: status.reason,
              fix:
                status.reason.includes('SHARKMCP_') && status.reason.includes('is set to')
                  ? 'Fix or unset the override.'
                  : installAdvice(),
            },
      );
    }

    const tshark = tools.status('tshark');
    if (tshark.found) {
      const counter = conversationCounter(tshark.version, env);
      checks.push(
        counter.available
          ? {
              name: 'summary counter',
              verdict: 'ok',
              detail: `built for Wireshark ${counter.wireshark}: summaries are counted inside tshark`,
            }
          : {
              name: 'summary counter',
              verdict: 'warning',
              detail: `not in use: ${counter.reason} Summaries are still exact, from per-packet lines, but slower on large captures.`,
              fix: `Install gcc, pkg-config and Wireshark's headers (Debian/Ubuntu: apt-get install ${NATIVE_BUILD_PACKAGES}), then run ${buildCommand()}.`,
            },
      );
    }

    const dumpcap = tools.status('dumpcap');
    let interfaces: string[] = [];
    if (dumpcap.found) {
      try {
        const list = await listLocalInterfaces(group, dumpcap.path);
        interfaces = list.map((i) => `${i.name}${i.loopback ? ' (loopback)' : ''}`);
        checks.push({
          name: 'interfaces',
          verdict: list.length > 0 ? 'ok' : 'warning',
          detail: interfaces.join(', ') || 'none seen',
          fix: list.length > 0 ? undefined : 'dumpcap sees no interface: check capture permission.',
        });
      } catch (err) {
        checks.push({ name: 'interfaces', verdict: 'warning', detail: (err as Error).message });
      }
      checks.push(await captureCheck(group, dumpcap.path));
    } else {
      checks.push({ name: 'capture', verdict: 'fail', detail: 'dumpcap is missing', fix: installAdvice() });
    }

    checks.push(await writableCheck('config directory', defaultConfigDir(env)));
    checks.push(await writableCheck('capture directory', os.tmpdir()));
  } finally {
    await group.close();
  }
  return { checks, ok: checks.every((c) => c.verdict !== 'fail') };
}

async function captureCheck(group: ProcessGroup, dumpcap: string): Promise<Check> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sharkmcp-doctor-'));
  const socket = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const port = socket.address().port;
    const capture = await DumpcapCapture.start(group, dumpcap, {
      interface: loopbackName(),
      captureFilter: `udp port ${port}`,
      file: path.join(dir, 'probe.pcapng'),
      maxPackets: 1,
      durationSeconds: 10,
    });
    await new Promise<void>((resolve, reject) =>
      socket.send('sharkmcp doctor', port, '127.0.0.1', (e) => (e ? reject(e) : resolve())),
    );
    const end = await capture.ended;
    return end.packets >= 1
      ? { name: 'capture', verdict: 'ok', detail: `captured a packet on ${loopbackName()}` }
      : {
          name: 'capture',
          verdict: 'fail',
          detail: `no packet captured on ${loopbackName()} within 10 s`,
          fix: permissionAdvice(dumpcap),
        };
  } catch (err) {
    return {
      name: 'capture',
      verdict: 'fail',
      detail: (err as Error).message,
      fix: permissionAdvice(dumpcap),
    };
  } finally {
    socket.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function writableCheck(name: string, dir: string): Promise<Check> {
  const probe = path.join(dir, `.sharkmcp-doctor-${process.pid}`);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(probe, 'ok');
    await rm(probe, { force: true });
    return { name, verdict: 'ok', detail: dir };
  } catch (err) {
    return {
      name,
      verdict: 'fail',
      detail: `${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      fix: `Make ${dir} writable by this user, or point ${name === 'config directory' ? 'SHARKMCP_CONFIG_DIR' : 'TMPDIR'} elsewhere.`,
    };
  }
}

export function renderDoctor(report: DoctorReport): string {
  const mark: Record<Verdict, string> = { ok: 'ok  ', warning: 'warn', fail: 'FAIL' };
  const lines = report.checks.map(
    (c) => `${mark[c.verdict]}  ${c.name}: ${c.detail}${c.fix ? `\n      fix: ${c.fix}` : ''}`,
  );
  lines.push(
    '',
    report.ok
      ? 'SharkMCP can capture and analyse here.'
      : 'SharkMCP cannot work fully here yet: see the FAIL lines above.',
  );
  return `${lines.join('\n')}\n`;
}
