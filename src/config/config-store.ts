// Saved configurations: named sets of capture and analysis parameters, kept in the seed's
// `sharkmcp-configs.json` format ({ version, configs: { name: {...} } }) in the user's config
// directory. Every write is a read-modify-write under an in-process queue and a lock file (so two
// servers cannot lose each other's saves), written to a temporary file and renamed into place. A
// file that is not valid is reported and never overwritten.
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as z from 'zod';
import { UserError } from '../errors.js';
export { defaultConfigDir } from './config-dir.js';
import {
  CAPTURE_MAX_PACKETS,
  CAPTURE_TIMEOUT,
  DECODE_AS_LIMITS,
  MAX_FIELDS_LENGTH,
  MAX_FILTER_LENGTH,
  NAME_PATTERN,
  OUTPUT_FORMATS,
  PREFERENCE_LIMITS,
} from '../limits.js';
import { isProcessAlive } from '../util/pid.js';
import { requirePlainText } from '../util/text.js';

export const CONFIG_FILE_NAME = 'sharkmcp-configs.json';
const FILE_VERSION = '1.0.0';

/** The parameters a configuration can hold; every one optional, as in the seed. */
export const configFieldsSchema = z.object({
  description: z.string().max(1_024).optional().describe('What this configuration is for.'),
  captureFilter: z
    .string()
    .max(MAX_FILTER_LENGTH)
    .optional()
    .describe('BPF capture filter for start_capture_session, e.g. "tcp port 8080".'),
  displayFilter: z
    .string()
    .max(MAX_FILTER_LENGTH)
    .optional()
    .describe('Wireshark display filter for analysis, e.g. "http.request".'),
  outputFormat: z
    .enum(OUTPUT_FORMATS)
    .optional()
    .describe('Output format for analysis: json, fields or text.'),
  customFields: z
    .string()
    .max(MAX_FIELDS_LENGTH)
    .optional()
    .describe('Comma-separated tshark field names for the fields format, e.g. "ip.src,http.host".'),
  decodeAs: z
    .array(z.string().min(1).max(DECODE_AS_LIMITS.maxLength))
    .max(DECODE_AS_LIMITS.maxItems)
    .optional()
    .describe('Decode-as rules for analysis, as tshark -d takes them, e.g. ["tcp.port==50051,http2"].'),
  preferences: z
    .array(z.string().min(1).max(PREFERENCE_LIMITS.maxLength))
    .max(PREFERENCE_LIMITS.maxItems)
    .optional()
    .describe('Protocol preferences for analysis, "name:value" as tshark -o takes them (allow-listed).'),
  timeout: z
    .number()
    .int()
    .min(CAPTURE_TIMEOUT.min)
    .max(CAPTURE_TIMEOUT.max)
    .optional()
    .describe('Capture timeout in seconds.'),
  maxPackets: z
    .number()
    .int()
    .min(CAPTURE_MAX_PACKETS.min)
    .max(CAPTURE_MAX_PACKETS.max)
    .optional()
    .describe('Packets to capture at most.'),
  interface: z.string().min(1).max(256).optional().describe('Capture interface, e.g. "lo" or "eth0".'),
});
export type ConfigFields = z.infer<typeof configFieldsSchema>;

/** A stored entry: the fields, its name, and any key a newer writer added (kept as it is). */
const storedConfigSchema = z.looseObject({ ...configFieldsSchema.shape, name: z.string().optional() });

type StoredConfig = z.infer<typeof storedConfigSchema>;

/**
 * The file as read. Names are keys of a Map and every object written is made without a prototype,
 * so a configuration named "__proto__" or "constructor" is kept like any other (a plain object
 * would turn `configs["__proto__"] = ...` into a change of prototype, and the entry would vanish).
 */
interface ConfigFile {
  /** The top-level keys as found (version, configs, and any a newer writer added), in order. */
  readonly top: Readonly<Record<string, unknown>>;
  /** The entries as found (unknown keys kept), by name. */
  readonly configs: Map<string, StoredConfig>;
}

export type SavedConfig = ConfigFields & { readonly name: string };

/** The file exists but cannot be used; it is left exactly as it was. */
export class ConfigFileError extends UserError {
  override name = 'ConfigFileError';
}

export function validateConfigName(name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new UserError(
      `Configuration name ${JSON.stringify(name)} is not allowed: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter, digit or '_'.`,
    );
  }
}

export class ConfigStore {
  readonly filePath: string;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly dir: string,
    private readonly lockStaleMs = 10_000,
  ) {
    this.filePath = path.join(dir, CONFIG_FILE_NAME);
  }

  async list(): Promise<SavedConfig[]> {
    const file = await this.read();
    return [...file.configs].map(([name, c]) => toSaved(name, c));
  }

  async get(name: string): Promise<SavedConfig | undefined> {
    const file = await this.read();
    const entry = file.configs.get(name);
    return entry === undefined ? undefined : toSaved(name, entry);
  }

  /** Saves (creating or replacing) a configuration; says whether it replaced one. */
  async save(name: string, fields: ConfigFields): Promise<{ replaced: boolean; config: SavedConfig }> {
    validateConfigName(name);
    const parsed = configFieldsSchema.safeParse(fields);
    if (!parsed.success) throw new UserError(`config is not valid: ${z.prettifyError(parsed.error)}`);
    // These reach tshark and dumpcap as arguments; the description is only shown back.
    for (const key of ['captureFilter', 'displayFilter', 'customFields', 'interface'] as const)
      requirePlainText(parsed.data[key], `config.${key}`);
    for (const key of ['decodeAs', 'preferences'] as const)
      for (const [i, item] of (parsed.data[key] ?? []).entries())
        requirePlainText(item, `config.${key}[${i}]`);
    return this.update((file) => {
      const replaced = file.configs.has(name);
      const entry = { name, ...stripUndefined(parsed.data) };
      file.configs.set(name, entry);
      return { replaced, config: toSaved(name, entry) };
    });
  }

  /** Deletes a configuration; false when there was none of that name. */
  async delete(name: string): Promise<boolean> {
    return this.update((file) => {
      return file.configs.delete(name);
    });
  }

  private async read(): Promise<ConfigFile> {
    let text: string;
    try {
      text = await readFile(this.filePath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { top: {}, configs: new Map() };
      throw new ConfigFileError(
        `The configuration file ${this.filePath} cannot be read: ${(err as Error).message}`,
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw this.corrupt(`it is not valid JSON (${(err as Error).message})`);
    }
    // Read key by key rather than through a schema that builds plain objects (see ConfigFile).
    if (
      !isRecord(json) ||
      !isRecord(json['configs']) ||
      !['string', 'undefined'].includes(typeof json['version'])
    )
      throw this.corrupt(
        'it does not match the configuration format: { "version": "1.0.0", "configs": { "<name>": { ... } } }',
      );
    const configs = new Map<string, StoredConfig>();
    for (const [name, entry] of Object.entries(json['configs'])) {
      const parsed = storedConfigSchema.safeParse(entry);
      if (!parsed.success) {
        const issues = parsed.error.issues.map((i) => ({ ...i, path: ['configs', name, ...i.path] }));
        throw this.corrupt(
          `it does not match the configuration format:\n${z.prettifyError(new z.ZodError(issues))}`,
        );
      }
      // The entry as found, so keys a newer writer added are written back unchanged.
      configs.set(name, entry as StoredConfig);
    }
    return { top: json, configs };
  }

  private corrupt(problem: string): ConfigFileError {
    return new ConfigFileError(
      `The configuration file ${this.filePath} is not usable: ${problem}\nIt has been left untouched. Fix it by hand, or move it aside to start a new one; saved configurations cannot be used or changed until then.`,
    );
  }

  /** Runs one read-modify-write at a time in this process, and under the lock file across processes. */
  private update<T>(change: (file: ConfigFile) => T): Promise<T> {
    const next = this.queue.then(async () => {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const release = await this.lock();
      try {
        const file = await this.read();
        const result = change(file);
        await this.writeAtomically(file);
        return result;
      } finally {
        await release();
      }
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async writeAtomically(file: ConfigFile): Promise<void> {
    const configs: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const [name, entry] of file.configs) configs[name] = entry;
    const top: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    if (!Object.hasOwn(file.top, 'version')) top['version'] = FILE_VERSION;
    for (const [key, value] of Object.entries(file.top)) top[key] = key === 'configs' ? configs : value;
    top['configs'] = configs;
    const tmp = `${this.filePath}.${process.pid}.${Date.now()}.tmp`;
    try {
      const handle = await open(tmp, 'wx', 0o600);
      try {
        await handle.writeFile(`${JSON.stringify(top, null, 2)}\n`, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, this.filePath);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /** An exclusive lock file holding the owner's pid; a lock left by a dead or stuck owner is taken over. */
  private async lock(): Promise<() => Promise<void>> {
    const lockPath = `${this.filePath}.lock`;
    const deadline = Date.now() + this.lockStaleMs * 2;
    for (;;) {
      try {
        await writeFile(lockPath, String(process.pid), { flag: 'wx', mode: 0o600 });
        return () => rm(lockPath, { force: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      if (await this.lockIsStale(lockPath)) {
        await rm(lockPath, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new UserError(
          `The configuration file is locked by another process (${lockPath}); try again shortly.`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private async lockIsStale(lockPath: string): Promise<boolean> {
    try {
      const [info, owner] = await Promise.all([stat(lockPath), readFile(lockPath, 'utf8')]);
      const pid = Number(owner);
      if (Number.isInteger(pid) && pid > 0 && !isProcessAlive(pid)) return true;
      return Date.now() - info.mtimeMs > this.lockStaleMs;
    } catch {
      return false;
    }
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function toSaved(name: string, entry: StoredConfig): SavedConfig {
  const fields = configFieldsSchema.parse(entry);
  return { ...stripUndefined(fields), name };
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
