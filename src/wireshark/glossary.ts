// tshark's field list (`tshark -G fields`): every field and protocol it knows, with its type and
// description. Read once per server, lazily and with a time limit, and kept in memory in compact
// form (parallel arrays, no object per field: about 236,000 fields on tshark 4.0), because three
// things need it on the hot path: the two-pass rule (which fields are frame numbers), close
// matches for an unknown field name, and list_fields's search.
import { abortError } from '../errors.js';
import type { ProcessGroup } from './process.js';
import { glossaryArgs } from './tshark-args.js';
import { LineSplitter } from '../util/text.js';

/** How long reading the glossary may take (about 1 s on an idle machine, 19 MB of text). */
export const GLOSSARY_TIMEOUT_MS = 60_000;

/** One entry of the glossary, as searches return it. */
export interface GlossaryEntry {
  /** The name filters and -e use, e.g. "dhcp.ip.your". */
  readonly field: string;
  /** tshark's type, e.g. "FT_IPv4", or "protocol" for a protocol's own entry. */
  readonly type: string;
  /** The protocol the field belongs to, e.g. "dhcp". */
  readonly protocol: string;
  /** The display name, e.g. "Your (client) IP address". */
  readonly name: string;
  /** The longer description, when tshark has one. */
  readonly description: string;
}

/** The field list in compact form. Pure once built: parse() reads recorded `-G fields` lines. */
export class Glossary {
  private readonly fields: string[] = [];
  private readonly names: string[] = [];
  private readonly blurbs: string[] = [];
  private readonly protocolIndex: number[] = [];
  private readonly typeIndex: number[] = [];
  private readonly protocols: string[] = [];
  private readonly protocolIds = new Map<string, number>();
  private readonly types: string[] = [];
  private readonly typeIds = new Map<string, number>();
  private readonly byField = new Map<string, number>();

  /** Adds one line of `tshark -G fields` output ("F\tname\tabbrev\ttype\tparent\t..." or "P\tname\tabbrev"). */
  addLine(line: string): void {
    const cols = line.split('\t');
    const kind = cols[0];
    const field = cols[2];
    if ((kind !== 'F' && kind !== 'P') || field === undefined || field === '' || this.byField.has(field))
      return;
    const type = kind === 'P' ? 'protocol' : (cols[3] ?? '');
    const protocol = kind === 'P' ? field : (cols[4] ?? field.split('.')[0] ?? field);
    this.byField.set(field, this.fields.length);
    this.fields.push(field);
    this.names.push(cols[1] ?? '');
    this.blurbs.push(kind === 'F' ? (cols[7] ?? '') : '');
    this.typeIndex.push(intern(type, this.types, this.typeIds));
    this.protocolIndex.push(intern(protocol, this.protocols, this.protocolIds));
  }

  /** Builds a glossary from the whole output. Pure, for tests on recorded output. */
  static parse(text: string): Glossary {
    const g = new Glossary();
    for (const line of text.split('\n')) g.addLine(line.replace(/\r$/, ''));
    return g;
  }

  get size(): number {
    return this.fields.length;
  }

  has(field: string): boolean {
    return this.byField.has(field);
  }

  /** The type of a field ("FT_FRAMENUM", "protocol", ...), or undefined for an unknown name. */
  typeOf(field: string): string | undefined {
    const i = this.byField.get(field);
    return i === undefined ? undefined : this.types[this.typeIndex[i] ?? -1];
  }

  /** The entry at index i (0 ≤ i < size). */
  entry(i: number): GlossaryEntry {
    return {
      field: this.fields[i] ?? '',
      type: this.types[this.typeIndex[i] ?? -1] ?? '',
      protocol: this.protocols[this.protocolIndex[i] ?? -1] ?? '',
      name: this.names[i] ?? '',
      description: this.blurbs[i] ?? '',
    };
  }

  /** The entry of a field name, or undefined. */
  lookup(field: string): GlossaryEntry | undefined {
    const i = this.byField.get(field);
    return i === undefined ? undefined : this.entry(i);
  }

  /** Calls `visit` with every field's index, name, display name and description (no allocation per field). */
  forEach(
    visit: (i: number, field: string, name: string, description: string, protocol: string) => void,
  ): void {
    for (let i = 0; i < this.fields.length; i++) {
      visit(
        i,
        this.fields[i] ?? '',
        this.names[i] ?? '',
        this.blurbs[i] ?? '',
        this.protocols[this.protocolIndex[i] ?? -1] ?? '',
      );
    }
  }

  /** Whether a protocol of this name exists. */
  hasProtocol(protocol: string): boolean {
    return this.protocolIds.has(protocol);
  }
}

function intern(value: string, list: string[], ids: Map<string, number>): number {
  let id = ids.get(value);
  if (id === undefined) {
    id = list.length;
    list.push(value);
    ids.set(value, id);
  }
  return id;
}

/**
 * The server's one copy of the glossary: read on first use by one tshark run (no caller's signal
 * stops it, since every later caller shares it; a caller that gives up just stops waiting), and read
 * again on the next use if that run failed.
 */
/** The field lists read in this process, by tshark binary. */
const LOADED = new Map<string, Promise<Glossary>>();

export class GlossarySource {
  private loading: Promise<Glossary> | undefined;

  constructor(
    private readonly group: ProcessGroup,
    private readonly tshark: () => Promise<string>,
    private readonly timeoutMs = GLOSSARY_TIMEOUT_MS,
  ) {}

  /** The glossary; rejects when tshark could not print it (with tshark's words). */
  get(signal?: AbortSignal): Promise<Glossary> {
    this.loading ??= this.load().catch((err: unknown) => {
      this.loading = undefined;
      throw err;
    });
    if (!signal) return this.loading;
    if (signal.aborted) return Promise.reject(abortError());
    return new Promise<Glossary>((resolve, reject) => {
      const onAbort = (): void => reject(abortError());
      signal.addEventListener('abort', onAbort, { once: true });
      this.loading?.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  private async load(): Promise<Glossary> {
    // One tshark's field list is the same for every server in this process (the tests run many,
    // an HTTP server may too): read it once per tshark binary, not once per server.
    const tshark = await this.tshark();
    const shared = LOADED.get(tshark);
    if (shared) return shared;
    const loading = this.read(tshark);
    LOADED.set(tshark, loading);
    loading.catch(() => LOADED.delete(tshark));
    return loading;
  }

  private async read(tshark: string): Promise<Glossary> {
    const glossary = new Glossary();
    const splitter = new LineSplitter();
    const result = await this.group.run({
      command: tshark,
      args: glossaryArgs('fields'),
      timeoutMs: this.timeoutMs,
      onStdout: (chunk) => {
        for (const line of splitter.push(chunk)) glossary.addLine(line.text);
        return 'continue';
      },
    });
    for (const line of splitter.end()) glossary.addLine(line.text);
    if (result.timedOut) throw new Error(`tshark -G fields did not finish within ${this.timeoutMs / 1000} s`);
    if (result.exitCode !== 0 || glossary.size === 0)
      throw new Error(`tshark -G fields failed (exit ${result.exitCode ?? result.exitSignal})`);
    return glossary;
  }
}
