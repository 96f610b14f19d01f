// Capture interfaces as Wireshark's tools list them in machine form: `dumpcap -D -M` for local
// interfaces, and each extcap tool's `--extcap-interfaces` (found in the folder `tshark -G folders`
// names) for the remote and special sources. A capture may only use an interface dumpcap lists:
// dumpcap also reads FIFOs, sockets and "TCP@host:port" given as an interface, which would lead out
// of the file sandbox and onto the network.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import * as z from 'zod';
import { UserError } from '../errors.js';
import type { ProcessGroup } from '../wireshark/process.js';
import { runCollect } from '../wireshark/process.js';
import { glossaryArgs } from '../wireshark/tshark-args.js';

export const localInterfaceSchema = z.object({
  name: z.string().describe('What to pass as interface.'),
  number: z.number().int().describe("Its number in dumpcap's list, also accepted as interface."),
  description: z.string(),
  addresses: z.array(z.string()),
  loopback: z.boolean(),
});
export type LocalInterface = Readonly<z.infer<typeof localInterfaceSchema>>;

export const extcapInterfaceSchema = z.object({
  name: z.string().describe('What to pass as interface.'),
  description: z.string(),
  tool: z.string().describe('The extcap program that provides it.'),
});
export type ExtcapInterface = Readonly<z.infer<typeof extcapInterfaceSchema>>;

/** What list_interfaces publishes: local interfaces, and extcap sources apart. */
export const interfaceListingSchema = z.object({
  local: z.array(localInterfaceSchema),
  extcap: z.array(extcapInterfaceSchema),
});
export type InterfaceListing = Readonly<z.infer<typeof interfaceListingSchema>>;

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
      const [, number = '0', name = ''] = (cols[0] ?? '').match(/^(\d+)\. (.*)$/) ?? [];
      const vendor = cols[1] ?? '';
      const friendly = cols[2] ?? '';
      return {
        name,
        number: Number(number),
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

/** Where this Wireshark keeps its extcap programs (sshdump among them), as `tshark -G folders` says. */
export async function extcapFolder(
  group: ProcessGroup,
  tshark: string,
  signal?: AbortSignal,
): Promise<string | undefined> {
  return parseExtcapFolder(await collect(group, tshark, glossaryArgs('folders'), signal));
}

async function listExtcap(
  group: ProcessGroup,
  tshark: string,
  signal?: AbortSignal,
): Promise<ExtcapInterface[]> {
  const folder = await extcapFolder(group, tshark, signal);
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

/**
 * How long a listing of the local interfaces is trusted when a capture starts: a burst of starts
 * runs `dumpcap -D` once, and an interface that has just appeared is found by the one re-read a
 * miss causes.
 */
export const INTERFACE_LIST_TTL_MS = 5_000;

/** The local interfaces, read with `dumpcap -D -M` and kept briefly, to check what a capture names. */
export class InterfaceCatalog {
  private cached: { readonly at: number; readonly list: Promise<LocalInterface[]> } | undefined;

  constructor(
    private readonly read: (signal?: AbortSignal) => Promise<LocalInterface[]>,
    private readonly ttlMs = INTERFACE_LIST_TTL_MS,
  ) {}

  /** The listing, read again when the cached one is older than the time-to-live (or `fresh`). */
  list(signal?: AbortSignal, fresh = false): Promise<LocalInterface[]> {
    const now = performance.now();
    if (fresh || this.cached === undefined || now - this.cached.at > this.ttlMs) {
      const list = this.read(signal);
      const entry = { at: now, list };
      this.cached = entry;
      // A failed read is not remembered: the next call tries again.
      list.catch(() => {
        if (this.cached === entry) this.cached = undefined;
      });
    }
    return this.cached.list;
  }

  /**
   * The listed interface that `name` names (its name, or its number in dumpcap's list), reading the
   * list again once when a cached listing does not have it; otherwise a UserError that lists them.
   * No path is ever looked at, so the answer does not depend on what exists on disk.
   */
  async resolve(name: string, signal?: AbortSignal): Promise<LocalInterface> {
    const fresh = this.cached === undefined;
    let list = await this.listOrExplain(signal, false);
    let found = findInterface(list, name);
    if (found === undefined && !fresh) {
      list = await this.listOrExplain(signal, true);
      found = findInterface(list, name);
    }
    if (found !== undefined) return found;
    throw new UserError(
      `interface ${JSON.stringify(name)} is not a capture interface here. Capture interfaces here: ${
        list.length === 0
          ? 'none (dumpcap lists no interface)'
          : list.map((i) => `${i.name}${i.loopback ? ' (loopback)' : ''}`).join(', ')
      }. Give one of these names (or its number in that list); call list_interfaces to see them with their addresses. Files, pipes, sockets and remote (extcap) sources are not captured from.`,
    );
  }

  private async listOrExplain(signal: AbortSignal | undefined, fresh: boolean): Promise<LocalInterface[]> {
    try {
      return await this.list(signal, fresh);
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new UserError(
        `The capture interfaces could not be listed (dumpcap -D: ${err instanceof Error ? err.message : String(err)}), so no capture is started. Run sharkmcp doctor to see what is wrong.`,
      );
    }
  }
}

/** The interface `name` names: by name, or by its number in dumpcap's list (1 is the first). Pure. */
export function findInterface(list: readonly LocalInterface[], name: string): LocalInterface | undefined {
  const byName = list.find((i) => i.name === name);
  if (byName !== undefined) return byName;
  return /^\d+$/.test(name) ? list.find((i) => i.number === Number(name)) : undefined;
}
