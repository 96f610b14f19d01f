// Capture interfaces as Wireshark's tools list them in machine form: `dumpcap -D -M` for local
// interfaces, and each extcap tool's `--extcap-interfaces` (found in the folder `tshark -G folders`
// names) for the remote and special sources.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { ProcessGroup } from '../wireshark/process.js';
import { runCollect } from '../wireshark/process.js';

export interface LocalInterface {
  /** What to pass as `interface`. */
  readonly name: string;
  readonly description: string;
  readonly addresses: readonly string[];
  readonly loopback: boolean;
}

export interface ExtcapInterface {
  /** What to pass as `interface`. */
  readonly name: string;
  readonly description: string;
  /** The extcap program that provides it. */
  readonly tool: string;
}

export interface InterfaceListing {
  readonly local: readonly LocalInterface[];
  readonly extcap: readonly ExtcapInterface[];
}

/**
 * Reads `dumpcap -D -M`: one line per interface, "N. name", then tab-separated vendor description,
 * friendly name, interface type, comma-separated addresses, "loopback" or "network". Pure.
 */
export function parseDumpcapInterfaces(stdout: string): LocalInterface[] {
  return stdout
    .split('\n')
    .map((line) => line.replace(/\r$/, ''))
    .filter((line) => /^\d+\. /.test(line))
    .map((line) => {
      const cols = line.split('\t');
      const name = (cols[0] ?? '').replace(/^\d+\. /, '');
      const vendor = cols[1] ?? '';
      const friendly = cols[2] ?? '';
      return {
        name,
        description: [friendly, vendor].filter((s) => s !== '').join(', '),
        addresses: (cols[4] ?? '').split(',').filter((a) => a !== ''),
        loopback: cols[5] === 'loopback',
      };
    });
}

/** Reads an extcap tool's `--extcap-interfaces`: lines "interface {value=...}{display=...}". Pure. */
export function parseExtcapInterfaces(stdout: string, tool: string): ExtcapInterface[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('interface '))
    .map((line) => {
      const value = line.match(/\{value=([^}]*)\}/)?.[1] ?? '';
      const display = line.match(/\{display=([^}]*)\}/)?.[1] ?? '';
      return { name: value, description: display, tool };
    })
    .filter((i) => i.name !== '');
}

/** Reads the extcap folder out of `tshark -G folders`. Pure. */
export function parseExtcapFolder(stdout: string): string | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith('Extcap path:'));
  const folder = line?.split('\t').at(-1)?.trim();
  return folder !== undefined && folder !== '' ? folder : undefined;
}

async function collect(
  group: ProcessGroup,
  command: string,
  args: string[],
  signal?: AbortSignal,
  limited = true,
): Promise<string> {
  return (await runCollect(group, { command, args, timeoutMs: 15_000, signal, maxBytes: 1_000_000, limited }))
    .stdout;
}

export async function listLocalInterfaces(
  group: ProcessGroup,
  dumpcap: string,
  signal?: AbortSignal,
): Promise<LocalInterface[]> {
  // dumpcap is outside the cap on analysis processes, so a failed capture start can list the
  // interfaces in its advice without waiting behind analyses.
  return parseDumpcapInterfaces(await collect(group, dumpcap, ['-D', '-M'], signal, false));
}

export async function listInterfaces(
  group: ProcessGroup,
  tools: { dumpcap: string; tshark: string | undefined },
  signal?: AbortSignal,
): Promise<InterfaceListing> {
  const [local, extcap] = await Promise.all([
    listLocalInterfaces(group, tools.dumpcap, signal),
    tools.tshark === undefined ? Promise.resolve([]) : listExtcap(group, tools.tshark, signal),
  ]);
  return { local, extcap };
}

async function listExtcap(
  group: ProcessGroup,
  tshark: string,
  signal?: AbortSignal,
): Promise<ExtcapInterface[]> {
  const folder = parseExtcapFolder(await collect(group, tshark, ['-G', 'folders'], signal));
  if (folder === undefined) return [];
  let names: string[];
  try {
    names = (await readdir(folder)).sort();
  } catch {
    return [];
  }
  const lists = await Promise.all(
    names.map(async (name) => {
      try {
        return parseExtcapInterfaces(
          await collect(group, path.join(folder, name), ['--extcap-interfaces'], signal),
          name,
        );
      } catch {
        return [];
      }
    }),
  );
  return lists.flat();
}

/** The platform's loopback interface: "lo" on Linux, "lo0" on macOS and the BSDs. */
export function loopbackName(platform: NodeJS.Platform = process.platform): string {
  return platform === 'linux' ? 'lo' : 'lo0';
}

/** The interface to capture on: the loopback by default, "lo0" taken as "lo" on Linux (the seed's default). */
export function resolveInterfaceName(
  name: string | undefined,
  platform: NodeJS.Platform = process.platform,
): string {
  if (name === undefined || name.trim() === '') return loopbackName(platform);
  if (platform === 'linux' && name === 'lo0') return 'lo';
  return name;
}
