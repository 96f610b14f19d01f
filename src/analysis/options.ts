// Turns the analysis parameters a call gives (and the saved configuration it names) into one
// resolved request: explicit arguments win, the configuration fills what the call left out, then
// the defaults. Also resolves the TLS keylog (the argument, else SSLKEYLOGFILE).
import type { ConfigStore, SavedConfig } from '../config/config-store.js';
import { validateConfigName } from '../config/config-store.js';
import { UserError } from '../errors.js';
import { DEFAULT_LIMIT, DEFAULT_OUTPUT_FORMAT, MAX_CHARS, MAX_FIELDS } from '../limits.js';
import { plural, requirePlainText } from '../util/text.js';
import { DEFAULT_FIELDS } from './analyze-capture.js';
import type { FileSandbox } from '../storage/sandbox.js';
import { resolveInputFile } from './input-files.js';
import { keylogHoldsSecrets } from './keylog.js';
import type { OutputFormat, PageFormat } from './packet-stream.js';
import type { Dissection, DissectionOrigin } from '../wireshark/dissection.js';

/** The analysis parameters as a call gives them (seed names), all optional. */
export interface AnalysisParams {
  readonly displayFilter?: string | undefined;
  readonly outputFormat?: OutputFormat | undefined;
  readonly customFields?: string | undefined;
  readonly sslKeylogFile?: string | undefined;
  readonly configName?: string | undefined;
  readonly limit?: number | undefined;
  readonly offset?: number | undefined;
  readonly maxChars?: number | undefined;
  /** Show passwords and credentials as they are instead of redacting them. */
  readonly reveal?: boolean | undefined;
  /** Decode-as rules (tshark -d). */
  readonly decodeAs?: readonly string[] | undefined;
  /** Protocol preferences, "name:value" (tshark -o), allow-listed. */
  readonly preferences?: readonly string[] | undefined;
}

/** Checks decode-as rules and preferences against tshark (the Analyzer does). */
export interface DissectionCheck {
  checkDissection(dissection: Dissection, from: DissectionOrigin, signal?: AbortSignal): Promise<void>;
}

export interface ResolvedAnalysis {
  readonly displayFilter: string | undefined;
  readonly outputFormat: PageFormat;
  readonly fields: readonly string[];
  readonly keylogFile: string | undefined;
  /** Where the keylog came from, for the answer's header. */
  readonly keylogSource: 'argument' | 'SSLKEYLOGFILE' | undefined;
  /** A keylog that was named but holds no TLS secret, so it is not applied (keylogFile is undefined). */
  readonly keylogWithoutSecrets: string | undefined;
  readonly limit: number;
  readonly offset: number;
  readonly maxChars: number;
  readonly config: SavedConfig | undefined;
  readonly warnings: readonly string[];
  /** Secrets shown as they are (redact.ts); false: redacted. */
  readonly reveal: boolean;
  /** The decode-as rules and preferences to read with, checked. */
  readonly dissection: Dissection;
}

export async function resolveAnalysis(
  params: AnalysisParams,
  configs: ConfigStore,
  env: NodeJS.ProcessEnv,
  sandbox: FileSandbox,
  check?: { readonly checker: DissectionCheck; readonly signal?: AbortSignal | undefined },
): Promise<ResolvedAnalysis> {
  const warnings: string[] = [];
  const config =
    params.configName === undefined ? undefined : await loadNamedConfig(configs, params.configName);

  const fromConfig = (given: string | undefined): string =>
    nonEmpty(given) === undefined && config ? ` (from saved configuration '${config.name}')` : '';
  const displayFilter = nonEmpty(params.displayFilter) ?? nonEmpty(config?.displayFilter);
  requirePlainText(displayFilter, `displayFilter${fromConfig(params.displayFilter)}`);
  const outputFormat = params.outputFormat ?? config?.outputFormat ?? DEFAULT_OUTPUT_FORMAT;
  const customFields = nonEmpty(params.customFields) ?? nonEmpty(config?.customFields);
  requirePlainText(customFields, `customFields${fromConfig(params.customFields)}`);
  const fields = parseFieldList(customFields);
  const dissection = await resolveDissection(params, config, check);

  let keylogFile: string | undefined;
  let keylogSource: ResolvedAnalysis['keylogSource'];
  if (params.sslKeylogFile !== undefined && params.sslKeylogFile !== '') {
    keylogFile = await resolveInputFile(params.sslKeylogFile, 'keylog', 'sslKeylogFile', sandbox);
    keylogSource = 'argument';
  } else if (env['SSLKEYLOGFILE']) {
    // The operator's own setting: not subject to the caller's sandbox.
    try {
      keylogFile = await resolveInputFile(env['SSLKEYLOGFILE'], 'keylog', 'SSLKEYLOGFILE', undefined);
      keylogSource = 'SSLKEYLOGFILE';
    } catch (err) {
      warnings.push(`TLS decryption is off: ${(err as Error).message}`);
    }
  }
  let keylogWithoutSecrets: string | undefined;
  if (keylogFile !== undefined && (await keylogHoldsSecrets(keylogFile)) === false) {
    warnings.push(
      `The keylog ${keylogFile}${keylogSource === 'SSLKEYLOGFILE' ? ' (from SSLKEYLOGFILE)' : ''} holds no TLS secrets (no line of the NSS key log format, such as "CLIENT_RANDOM ..." or "CLIENT_TRAFFIC_SECRET_0 ..."), so nothing is decrypted. Give the file your TLS client or server wrote through SSLKEYLOGFILE while the connections ran.`,
    );
    keylogWithoutSecrets = keylogFile;
    keylogFile = undefined;
    keylogSource = undefined;
  }

  return {
    displayFilter,
    outputFormat,
    fields,
    keylogFile,
    keylogSource,
    keylogWithoutSecrets,
    limit: params.limit ?? DEFAULT_LIMIT[outputFormat],
    offset: params.offset ?? 0,
    maxChars: params.maxChars ?? MAX_CHARS.default,
    config,
    warnings,
    reveal: params.reveal ?? false,
    dissection,
  };
}

/**
 * The decode-as rules and preferences: the call's (an empty list too: it means none), else the
 * configuration's; checked when a checker is given (every tool that reads gives one).
 */
async function resolveDissection(
  params: AnalysisParams,
  config: SavedConfig | undefined,
  check: { readonly checker: DissectionCheck; readonly signal?: AbortSignal | undefined } | undefined,
): Promise<Dissection> {
  const decodeAs = params.decodeAs ?? config?.decodeAs ?? [];
  const preferences = params.preferences ?? config?.preferences ?? [];
  const dissection = { decodeAs, preferences };
  if (check === undefined || (decodeAs.length === 0 && preferences.length === 0)) return dissection;
  const from = (given: readonly string[] | undefined): string =>
    given === undefined && config ? ` (from saved configuration '${config.name}')` : '';
  await check.checker.checkDissection(
    dissection,
    { decodeAs: from(params.decodeAs), preferences: from(params.preferences) },
    check.signal,
  );
  return dissection;
}

/** The saved configuration `name`, or a UserError that lists the saved ones. */
export async function loadNamedConfig(configs: ConfigStore, name: string): Promise<SavedConfig> {
  validateConfigName(name);
  const config = await configs.get(name);
  if (config !== undefined) return config;
  const names = (await configs.list()).map((c) => c.name);
  throw new UserError(
    `Configuration '${name}' not found. ${
      names.length === 0
        ? 'No configuration is saved yet; save one with manage_config action "save".'
        : `Saved configurations: ${names.join(', ')}. Use manage_config with action "list" to see them.`
    }`,
  );
}

/** An empty or blank string counts as not given (the seed's files hold "" for unset filters). */
export function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s.trim() === '' ? undefined : s;
}

/** "a, b,c" → ['a','b','c']; none given → the seed's default columns. */
export function parseFieldList(list: string | undefined): string[] {
  if (list === undefined) return [...DEFAULT_FIELDS];
  const fields = list
    .split(',')
    .map((f) => f.trim())
    .filter((f) => f !== '');
  if (fields.length === 0) return [...DEFAULT_FIELDS];
  if (fields.length > MAX_FIELDS) {
    throw new UserError(
      `customFields names ${plural(fields.length, 'field')}; at most ${MAX_FIELDS} are allowed.`,
    );
  }
  return fields;
}
