// How a caller may change tshark's dissection: decode-as rules (-d "<layer>==<value>,<protocol>",
// for a program on an unusual port) and protocol preferences (-o "name:value"). This module holds
// the rules, pure: the syntax of each, the catalogs read from tshark's own lists (which layers -d
// takes and of what type, which preferences exist and of what kind), and the checks against them
// with close matches. The catalogs are read by dissection-catalog.ts.
//
// Preferences are allowed by a rule over tshark's own list, not by a hand-picked few: a preference
// is allowed when its kind cannot name anything outside the dissection (a boolean, a number, one of
// a fixed set of values, a range of numbers) and its protocol is a dissector's. Strings, passwords
// and paths are refused whatever their name (tls.keylog_file, ssh.keylog_file, snort.binary,
// mate.config and the like name files or programs: the TLS keylog stays sslKeylogFile), and so are
// the families that drive the GUI, capturing, extcap programs, name resolution (which sends DNS
// queries) and Snort (which runs a program).
import { UserError } from '../errors.js';
import { DECODE_AS_LIMITS, PREFERENCE_LIMITS } from '../limits.js';
import { boundedEditDistance, plural, requirePlainText } from '../util/text.js';

/** What a caller changed about dissection, already checked: tshark's -d and -o arguments. */
export interface Dissection {
  /** Decode-as rules as tshark's -d takes them. */
  readonly decodeAs: readonly string[];
  /** Preferences as tshark's -o takes them, "name:value". */
  readonly preferences: readonly string[];
}

/** Where each list came from, for a refusal: "" (the call) or " (from saved configuration 'x')". */
export interface DissectionOrigin {
  readonly decodeAs: string;
  readonly preferences: string;
}

export const NO_DISSECTION: Dissection = { decodeAs: [], preferences: [] };

/** True when the caller changed nothing. */
export function isDefaultDissection(d: Dissection | undefined): boolean {
  return d === undefined || (d.decodeAs.length === 0 && d.preferences.length === 0);
}

/** One decode-as rule, split. */
export interface DecodeAsRule {
  readonly layer: string;
  readonly selector: string;
  readonly protocol: string;
}

const NAME = '[A-Za-z0-9_][A-Za-z0-9_.-]*';
/**
 * A selector: a number, a range "9000-9010", a count "9000:3", or a string key (media types such
 * as "application/json"); never a comma, space or quote.
 */
const RULE = new RegExp(`^(${NAME})==([A-Za-z0-9_][A-Za-z0-9_.:/+-]*),(${NAME})$`);
const NUMBER_SELECTOR = /^(?:0x[0-9a-f]+|\d+)(?:[-:](?:0x[0-9a-f]+|\d+))?$/i;

const RULE_EXAMPLE = 'e.g. "tcp.port==9000,http" or "udp.port==5000-5010,rtp"';

/** Splits a decode-as rule, or refuses it saying how one is written. Pure. */
export function parseDecodeAsRule(rule: string, param: string): DecodeAsRule {
  requirePlainText(rule, param);
  const m = RULE.exec(rule.trim());
  if (!m) {
    const hint = /^[^=]+=[^=]/.test(rule)
      ? ' (the layer and its value are joined by "==", not "=")'
      : rule.startsWith('-')
        ? ' (a rule is not a tshark option)'
        : '';
    throw new UserError(
      `${param} ${JSON.stringify(rule)} is not a decode-as rule${hint}. Write "<layer>==<value>,<protocol>" as tshark's -d takes it, ${RULE_EXAMPLE}: the layer is where the value is read (tcp.port, udp.port, ...), the protocol what to decode it as.`,
    );
  }
  return { layer: m[1] ?? '', selector: m[2] ?? '', protocol: m[3] ?? '' };
}

/** One preference, split. */
export interface PreferenceSetting {
  readonly name: string;
  readonly value: string;
}

/** Splits "name:value", or refuses it saying how one is written. Pure. */
export function parsePreference(setting: string, param: string): PreferenceSetting {
  requirePlainText(setting, param);
  const m = new RegExp(`^(${NAME}):(.*)$`).exec(setting);
  if (!m) {
    throw new UserError(
      `${param} ${JSON.stringify(setting)} is not a preference setting. Write "<name>:<value>" as tshark's -o takes it, e.g. "tcp.desegment_tcp_streams:FALSE" or "http.tcp.port:80,8080".`,
    );
  }
  return { name: m[1] ?? '', value: (m[2] ?? '').trim() };
}

/** Checks the count and length bounds of both lists (the schemas bound them too; configs are files). */
export function checkDissectionBounds(d: Dissection, from: DissectionOrigin): void {
  const check = (
    list: readonly string[],
    param: string,
    limits: { maxItems: number; maxLength: number },
    from: string,
  ): void => {
    if (list.length > limits.maxItems)
      throw new UserError(
        `${param}${from} has ${plural(list.length, 'entry', 'entries')}; at most ${limits.maxItems} are allowed.`,
      );
    const long = list.find((s) => s.length > limits.maxLength);
    if (long !== undefined)
      throw new UserError(
        `${param}${from} has an entry of ${long.length} characters; at most ${limits.maxLength} are allowed.`,
      );
  };
  check(d.decodeAs, 'decodeAs', DECODE_AS_LIMITS, from.decodeAs);
  check(d.preferences, 'preferences', PREFERENCE_LIMITS, from.preferences);
}

// ---------------------------------------------------------------------------------------------
// Decode-as: the layers tshark's -d takes.

/** The kind of value a layer's selector is; tshark 4.0's -d handles numbers and strings only. */
export type LayerKind = 'number' | 'string' | 'other';

export interface DecodeAsLayer {
  readonly name: string;
  readonly description: string;
  readonly kind: LayerKind;
  /** For a number layer: the largest value it holds (a port's is 65535). */
  readonly max?: number | undefined;
}

/** The layers -d takes, with their kinds, from `tshark -d .` and `tshark -G dissector-tables`. */
export class DecodeAsCatalog {
  private readonly byName: Map<string, DecodeAsLayer>;

  constructor(layers: readonly DecodeAsLayer[]) {
    this.byName = new Map(layers.map((l) => [l.name, l]));
  }

  /**
   * From tshark's list of valid layer types (its complaint about `-d .`, one "\tname (description)"
   * per line) and its dissector tables ("name\tdescription\tFT_UINT16\t..."). Pure.
   */
  static parse(layerList: string, dissectorTables: string): DecodeAsCatalog {
    const types = new Map<string, string>();
    for (const line of dissectorTables.split('\n')) {
      const [name, , type] = line.split('\t');
      if (name && type) types.set(name, type);
    }
    const layers = parseIndentedList(layerList).map(({ name, description }): DecodeAsLayer => {
      const type = types.get(name) ?? '';
      const bits = /^FT_UINT(8|16|24|32)$/.exec(type)?.[1];
      if (bits !== undefined) return { name, description, kind: 'number', max: 2 ** Number(bits) - 1 };
      const kind = /^FT_(?:STRING|STRINGZ|UINT_STRING|STRINGZPAD|STRINGZTRUNC)$/.test(type)
        ? 'string'
        : 'other';
      return { name, description, kind };
    });
    return new DecodeAsCatalog(layers);
  }

  get size(): number {
    return this.byName.size;
  }

  layer(name: string): DecodeAsLayer | undefined {
    return this.byName.get(name);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }
}

/** "\tname (description)" lines, as tshark lists valid layers or protocols. Pure. */
export function parseIndentedList(text: string): { name: string; description: string }[] {
  const out: { name: string; description: string }[] = [];
  for (const line of text.split('\n')) {
    const m = /^\t(\S+) \((.*)\)\s*$/.exec(line);
    if (m) out.push({ name: m[1] ?? '', description: m[2] ?? '' });
  }
  return out;
}

/**
 * Checks each rule's layer and selector against the catalog; returns the rules split. A layer tshark
 * does not list gets close matches; a layer whose selectors are neither numbers nor strings is
 * refused (tshark 4.0 aborts on one, e.g. dcerpc.uuid). Pure.
 */
export function checkDecodeAsLayers(
  rules: readonly string[],
  catalog: DecodeAsCatalog,
  from: string,
): DecodeAsRule[] {
  return rules.map((text, i) => {
    const param = `decodeAs[${i}]${from}`;
    const rule = parseDecodeAsRule(text, param);
    const layer = catalog.layer(rule.layer);
    if (!layer) {
      const close = closeNames(rule.layer, catalog.names());
      throw new UserError(
        `${param}: tshark has no decode-as layer "${rule.layer}". ${
          close.length > 0 ? `Close matches: ${close.join(', ')}. ` : ''
        }The usual ones are tcp.port, udp.port, sctp.port and tls.port (${RULE_EXAMPLE}).`,
      );
    }
    if (layer.kind === 'other')
      throw new UserError(
        `${param}: the layer "${rule.layer}" (${layer.description}) is keyed by values tshark's -d cannot take from the command line. Use a layer keyed by a number or a name, such as tcp.port or udp.port.`,
      );
    if (layer.kind === 'number') {
      // tshark takes a value past the layer's size without a word, and the rule then never applies.
      const numbers = rule.selector.split(/[-:]/).map(Number);
      if (!NUMBER_SELECTOR.test(rule.selector) || numbers.some((n) => n > (layer.max ?? 0xffffffff)))
        throw new UserError(
          `${param}: "${rule.selector}" is not a value of "${rule.layer}", which takes a number up to ${(layer.max ?? 0xffffffff).toLocaleString('en-US')}, a range "9000-9010" or a start and count "9000:3".`,
        );
    }
    return rule;
  });
}

/** Close matches for an unknown protocol among those a layer takes (tshark lists them when it refuses one). */
export function unknownProtocolError(param: string, rule: DecodeAsRule, valid: readonly string[]): UserError {
  const close = closeNames(rule.protocol, valid);
  return new UserError(
    `${param}: tshark cannot decode "${rule.layer}" as "${rule.protocol}". ${
      close.length > 0
        ? `Close matches: ${close.join(', ')}.`
        : `It takes ${plural(valid.length, 'protocol')} there, none with a close name${valid.length > 0 ? ` (e.g. ${valid.slice(0, 8).join(', ')})` : ''}.`
    } Write the protocol as Wireshark names it in lower case, e.g. http, tls, http2, dns, mqtt.`,
  );
}

// ---------------------------------------------------------------------------------------------
// Preferences: tshark's own list and the rule over it.

export type PreferenceKind =
  | 'boolean'
  | 'decimal'
  | 'hexadecimal'
  | 'enum'
  | 'range'
  | 'string'
  | 'password'
  | 'path'
  | 'color'
  | 'other';

export interface PreferenceInfo {
  readonly name: string;
  readonly kind: PreferenceKind;
  /** For an enum: the values tshark lists, joined by ", ". */
  readonly values?: string | undefined;
}

/** Kinds a preference may have to be allowed: none can name a file, a directory or a program. */
const SAFE_KINDS: ReadonlySet<PreferenceKind> = new Set([
  'boolean',
  'decimal',
  'hexadecimal',
  'enum',
  'range',
]);

/**
 * Families refused whatever their kind: the GUI's, capturing's and extcap's settings are not about
 * dissection (and extcap's start programs), name resolution sends DNS queries and reads hosts
 * files, Snort runs a program, MATE reads a configuration file.
 */
export const DENIED_FAMILIES = ['gui', 'capture', 'extcap', 'nameres', 'console', 'snort', 'mate', 'uat'];

/** Names that speak of files or logs, refused even when their kind is harmless. */
const FILE_LIKE_NAME = /(?:^|[._])(?:file|files|dir|directory|path|keylog|log|logfile|debug_file)(?:$|[._])/i;

/** Whether a preference of tshark's list may be set by a caller. Pure. */
export function preferenceAllowed(info: PreferenceInfo): boolean {
  const family = info.name.split('.')[0] ?? '';
  return SAFE_KINDS.has(info.kind) && !DENIED_FAMILIES.includes(family) && !FILE_LIKE_NAME.test(info.name);
}

/** The preferences tshark knows, from `tshark -G defaultprefs`. */
export class PreferenceCatalog {
  private readonly byName: Map<string, PreferenceInfo>;

  constructor(prefs: readonly PreferenceInfo[]) {
    this.byName = new Map(prefs.map((p) => [p.name, p]));
  }

  /**
   * Reads `tshark -G defaultprefs`: each preference is a "#name: default" line after comment lines,
   * the last of which says its kind ("# TRUE or FALSE", "# A decimal number", "# One of: ...",
   * "# A path to a file", ...). Pure.
   */
  static parse(text: string): PreferenceCatalog {
    const prefs: PreferenceInfo[] = [];
    let block: string[] = [];
    for (const raw of text.split('\n')) {
      const line = raw.replace(/\r$/, '');
      const pref = /^#?([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_.-]+)+):/.exec(line);
      if (pref && !line.startsWith('# ')) {
        prefs.push({ name: pref[1] ?? '', ...kindOf(block) });
        block = [];
      } else if (line.startsWith('#')) block.push(line.replace(/^#\s?/, ''));
      else block = [];
    }
    return new PreferenceCatalog(prefs);
  }

  get size(): number {
    return this.byName.size;
  }

  get(name: string): PreferenceInfo | undefined {
    return this.byName.get(name);
  }

  /** Every preference a caller may set, by name. */
  allowedNames(): string[] {
    return [...this.byName.values()].filter(preferenceAllowed).map((p) => p.name);
  }

  /** The allowed preferences of one protocol (the part before the first dot). */
  allowedOf(family: string): string[] {
    return this.allowedNames().filter((n) => n.startsWith(`${family}.`));
  }
}

function kindOf(block: readonly string[]): { kind: PreferenceKind; values?: string } {
  const text = block.join('\n');
  const oneOf = /One of: ([\s\S]*?)\n\(case-insensitive\)\./.exec(text);
  if (oneOf) return { kind: 'enum', values: (oneOf[1] ?? '').replace(/\n/g, ' ').trim() };
  const last = block.at(-1) ?? '';
  if (/^TRUE or FALSE/.test(last)) return { kind: 'boolean' };
  if (/^A decimal number/.test(last)) return { kind: 'decimal' };
  if (/^A hexadecimal number/.test(last)) return { kind: 'hexadecimal' };
  if (/^A string denoting an? positive integer range/.test(last)) return { kind: 'range' };
  if (/^A path to a (?:file|directory)/.test(last)) return { kind: 'path' };
  if (/^Password/.test(last)) return { kind: 'password' };
  if (/^A string/.test(last)) return { kind: 'string' };
  if (/RGB color/.test(last)) return { kind: 'color' };
  return { kind: 'other' };
}

/** How a value of each safe kind is written. */
const VALUE_SHAPE: Partial<Record<PreferenceKind, { test: RegExp; says: string }>> = {
  boolean: { test: /^(?:true|false)$/i, says: 'TRUE or FALSE' },
  decimal: { test: /^\d{1,10}$/, says: 'a decimal number' },
  hexadecimal: { test: /^(?:0x)?[0-9a-f]{1,8}$/i, says: 'a hexadecimal number' },
  range: {
    test: /^\d{1,10}(?:-\d{1,10})?(?:\s*,\s*\d{1,10}(?:-\d{1,10})?)*$|^$/,
    says: 'a range of numbers such as "80,8080-8090"',
  },
};

/**
 * Checks each "name:value" against tshark's list and the rule: an unknown name gets close matches
 * among the allowed ones, a refused one says why and lists what its protocol allows, and a value
 * must fit the preference's kind (tshark itself takes "maybe" for FALSE without a word). Pure.
 */
export function checkPreferences(
  settings: readonly string[],
  catalog: PreferenceCatalog,
  from: string,
): PreferenceSetting[] {
  return settings.map((text, i) => {
    const param = `preferences[${i}]${from}`;
    const setting = parsePreference(text, param);
    const info = catalog.get(setting.name) ?? portPreference(setting.name);
    const family = setting.name.split('.')[0] ?? '';
    if (!info) {
      const close = closeNames(setting.name, catalog.allowedNames());
      throw new UserError(
        `${param}: tshark has no preference "${setting.name}". ${
          close.length > 0 ? `Close matches: ${close.join(', ')}. ` : ''
        }${allowedText(catalog, family)}`,
      );
    }
    if (!preferenceAllowed(info)) {
      const why = DENIED_FAMILIES.includes(family)
        ? `the ${family}.* preferences are not about dissection (or run programs, send queries or read files)`
        : SAFE_KINDS.has(info.kind)
          ? 'its name speaks of a file or a log'
          : `it is ${info.kind === 'path' ? 'a path' : info.kind === 'password' ? 'a password' : `a ${info.kind}`}, which could name a file or a program`;
      throw new UserError(
        `${param}: the preference "${setting.name}" cannot be set here: ${why}.${
          /keylog/i.test(setting.name) ? ' To decrypt TLS, give the keylog as sslKeylogFile.' : ''
        } Allowed are tshark's boolean, number, choice and port-range preferences of dissectors, except names about files or logs, and the ports a protocol is decoded on ("http.tcp.port:80,9000"). ${allowedText(catalog, family)}`,
      );
    }
    const shape = VALUE_SHAPE[info.kind];
    if (shape && !shape.test.test(setting.value))
      throw new UserError(`${param}: "${setting.name}" takes ${shape.says}, not "${setting.value}".`);
    if (info.kind === 'enum' && info.values !== undefined) {
      const listed = `, ${info.values.toLowerCase()}, `;
      if (setting.value === '' || !listed.includes(`, ${setting.value.toLowerCase()}, `))
        throw new UserError(
          `${param}: "${setting.name}" takes one of: ${info.values} (not "${setting.value}").`,
        );
    }
    return setting;
  });
}

/**
 * The ports a dissector is registered on, "<protocol>.tcp.port" and the like: real preferences
 * (Wireshark's "Decode As" keeps them) that `-G defaultprefs` does not list. Taken as ranges;
 * tshark's own check on the empty capture says whether the protocol has one.
 */
function portPreference(name: string): PreferenceInfo | undefined {
  return /^[a-z0-9_-]+\.(?:tcp|udp|sctp|dccp|tls)\.port$/.test(name) ? { name, kind: 'range' } : undefined;
}

function allowedText(catalog: PreferenceCatalog, family: string): string {
  const own = catalog.allowedOf(family);
  return own.length > 0
    ? `The ${family}.* preferences allowed are: ${own.join(', ')} (and the ports ${family} is decoded on, "${family}.tcp.port", "${family}.udp.port").`
    : `No ${family}.* preference is allowed; allowed are, e.g., tcp.desegment_tcp_streams, tcp.analyze_sequence_numbers, http.desegment_body, tls.desegment_ssl_records, http.tcp.port (${plural(catalog.allowedNames().length, 'preference')} in all, by the rule above).`;
}

/** Up to `count` names close to `name`, best first: a few edits away, or sharing its start. Pure. */
export function closeNames(name: string, candidates: readonly string[], count = 5): string[] {
  const lower = name.toLowerCase();
  const max = Math.max(2, Math.floor(lower.length / 4));
  const scored: { name: string; score: number }[] = [];
  for (const c of candidates) {
    const l = c.toLowerCase();
    let score = boundedEditDistance(lower, l, max);
    if (score > max && lower.length >= 3 && (l.startsWith(lower) || l.endsWith(`.${lower}`)))
      score = max + 0.5;
    if (score <= max + 0.5) scored.push({ name: c, score });
  }
  scored.sort((a, b) => a.score - b.score || a.name.length - b.name.length || a.name.localeCompare(b.name));
  return scored.slice(0, count).map((s) => s.name);
}
