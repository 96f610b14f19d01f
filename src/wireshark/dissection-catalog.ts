// tshark's own lists behind decode-as rules and preferences (dissection.ts holds the rules): the
// layers -d takes (its complaint about "-d ." lists them) with their key types (-G
// dissector-tables), the protocols one layer can be decoded as (its complaint about an unknown
// protocol lists them), and its preferences with their kinds (-G defaultprefs). Each is read once
// per tshark binary, lazily, with a time limit, and read again on the next use if that run failed,
// like the field list (glossary.ts).
import { abortError } from '../errors.js';
import type { ProcessGroup } from './process.js';
import { runCollect } from './process.js';
import { DecodeAsCatalog, parseIndentedList, PreferenceCatalog } from './dissection.js';
import { decodeAsListArgs, glossaryArgs } from './tshark-args.js';

/** How long reading one list may take (well under a second on an idle machine). */
export const CATALOG_TIMEOUT_MS = 30_000;

/** Enough for every list tshark 4.0 prints (its preferences are about 250 KB). */
const MAX_LIST_BYTES = 8 * 1024 * 1024;

/** The lists read in this process, by tshark binary and list. */
const LOADED = new Map<string, Promise<unknown>>();

export class DissectionCatalogSource {
  constructor(
    private readonly group: ProcessGroup,
    private readonly tshark: () => Promise<string>,
    /** Path of a file holding an empty capture (tshark reads it, should it ever take a probe). */
    private readonly emptyCapture: () => Promise<string>,
    private readonly timeoutMs = CATALOG_TIMEOUT_MS,
  ) {}

  /** The layers -d takes, with their key types. */
  layers(signal?: AbortSignal): Promise<DecodeAsCatalog> {
    return this.shared(
      'layers',
      async (tshark) => {
        const [layerList, tables] = await Promise.all([
          this.complaint(tshark, decodeAsListArgs(await this.emptyCapture())),
          this.report(tshark, 'dissector-tables'),
        ]);
        const catalog = DecodeAsCatalog.parse(layerList, tables);
        if (catalog.size === 0) throw new Error('tshark listed no decode-as layer');
        return catalog;
      },
      signal,
    );
  }

  /** The protocols a layer can be decoded as (the layer must be one `layers()` holds). */
  protocols(layer: string, kind: 'number' | 'string', signal?: AbortSignal): Promise<string[]> {
    return this.shared(
      `protocols ${layer}`,
      async (tshark) => {
        const selector = kind === 'number' ? '0' : 'x';
        const text = await this.complaint(
          tshark,
          decodeAsListArgs(await this.emptyCapture(), { name: layer, selector }),
        );
        return parseIndentedList(text).map((p) => p.name);
      },
      signal,
    );
  }

  /** Every preference tshark knows, with its kind. */
  preferences(signal?: AbortSignal): Promise<PreferenceCatalog> {
    return this.shared(
      'preferences',
      async (tshark) => {
        const catalog = PreferenceCatalog.parse(await this.report(tshark, 'defaultprefs'));
        if (catalog.size === 0) throw new Error('tshark listed no preference');
        return catalog;
      },
      signal,
    );
  }

  /**
   * One list per tshark binary, shared by every server in this process; no caller's signal stops
   * the run (later callers share it), a caller that gives up just stops waiting.
   */
  private async shared<T>(
    what: string,
    read: (tshark: string) => Promise<T>,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    if (signal?.aborted) throw abortError();
    const tshark = await this.tshark();
    const key = `${tshark}\n${what}`;
    let loading = LOADED.get(key) as Promise<T> | undefined;
    if (!loading) {
      loading = read(tshark);
      LOADED.set(key, loading);
      loading.catch(() => LOADED.delete(key));
    }
    if (!signal) return loading;
    const pending = loading;
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(abortError());
      signal.addEventListener('abort', onAbort, { once: true });
      pending.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /** A -G report's text. */
  private async report(tshark: string, report: 'defaultprefs' | 'dissector-tables'): Promise<string> {
    const { stdout, result } = await runCollect(this.group, {
      command: tshark,
      args: glossaryArgs(report),
      timeoutMs: this.timeoutMs,
      maxBytes: MAX_LIST_BYTES,
    });
    if (result.timedOut)
      throw new Error(`tshark -G ${report} did not finish within ${this.timeoutMs / 1000} s`);
    if (result.exitCode !== 0)
      throw new Error(`tshark -G ${report} failed (exit ${result.exitCode ?? result.exitSignal})`);
    return stdout;
  }

  /** What tshark says when it refuses a probe: the list of what it would take. */
  private async complaint(tshark: string, args: string[]): Promise<string> {
    const result = await this.group.run({
      command: tshark,
      args,
      timeoutMs: this.timeoutMs,
      maxStderrBytes: MAX_LIST_BYTES,
    });
    if (result.timedOut)
      throw new Error(`tshark did not list decode-as choices within ${this.timeoutMs / 1000} s`);
    return result.stderr;
  }
}
