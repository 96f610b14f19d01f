// Plain hints for the display filter mistakes people (and agents) make most, added under tshark's
// own error: a set written without commas, a string compared without quotes, and a capture filter
// (BPF) given where a display filter goes, with its display-filter equivalent when it is a simple
// one. Pure: the filter, tshark's message and (for field types) the glossary in, hint lines out.
import type { Glossary } from './glossary.js';

/** Hints for a display filter tshark rejected with `message`. */
export function displayFilterHints(filter: string, message: string, glossary?: Glossary): string[] {
  const hints: string[] = [];
  const set = setWithoutCommas(filter);
  if (set) hints.push(`A set needs commas between its members: write ${set} (or a range such as {1..5}).`);
  const quoted = unquotedStrings(filter, glossary);
  if (quoted) hints.push(`A string value needs double quotes: write ${quoted}.`);
  if (/looks like a valid capture filter/.test(message) || looksLikeCaptureFilter(filter)) {
    const equivalent = captureToDisplay(filter);
    hints.push(
      equivalent
        ? `This is a capture filter (BPF); as a display filter it reads: ${equivalent}`
        : 'This looks like a capture filter (BPF: "port 53", "host 10.0.0.1"); display filters name fields, e.g. "udp.port == 53", "ip.addr == 10.0.0.1".',
    );
  }
  return hints;
}

/** "{382 415}" → "{382, 415}", when a set's members are separated by spaces alone. */
function setWithoutCommas(filter: string): string | undefined {
  let found = false;
  const fixed = filter.replace(/\{([^{}]*)\}/g, (whole, inner: string) => {
    if (inner.includes(',') || !/\S\s+\S/.test(inner.trim())) return whole;
    // Quoted members may hold spaces: split outside the quotes.
    const members = inner.trim().match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? [];
    if (members.length < 2) return whole;
    found = true;
    return `{${members.join(', ')}}`;
  });
  return found ? fixed : undefined;
}

const STRING_TYPES = /^FT_(?:STRING|STRINGZ|UINT_STRING|STRINGZPAD|STRINGZTRUNC)$/;
const RELATION = /([A-Za-z_][A-Za-z0-9_.-]*)\s*(==|!=|~=|contains|matches|eq|ne)\s*/g;
/** Where an unquoted value ends: a logical operator, a closing parenthesis, or the end. */
const VALUE_END = /\s*(?:&&|\|\||\)|\b(?:and|or)\b|$)/;

/** The filter with quotes around the unquoted values compared with a string field, when any. */
function unquotedStrings(filter: string, glossary?: Glossary): string | undefined {
  let out = '';
  let at = 0;
  let changed = false;
  for (const m of filter.matchAll(RELATION)) {
    const field = m[1] ?? '';
    const start = (m.index ?? 0) + m[0].length;
    if (start < at) continue;
    const rest = filter.slice(start);
    if (rest.startsWith('"') || rest.startsWith("'")) continue;
    const type = glossary?.typeOf(field);
    if (type === undefined || !STRING_TYPES.test(type)) continue;
    const end = rest.search(VALUE_END);
    const value = rest.slice(0, end === -1 ? undefined : end).trim();
    if (value === '' || (!/[\s/?&=:]/.test(value) && m[2] !== 'contains')) continue;
    out += filter.slice(at, start) + JSON.stringify(value);
    at = start + value.length;
    changed = true;
  }
  return changed ? out + filter.slice(at) : undefined;
}

const BPF_PRIMITIVE =
  /^(?:(src|dst)\s+)?(?:(tcp|udp|ip|ip6)\s+)?(?:(src|dst)\s+)?(host|port|net|portrange)\s+(\S+)$/;

function looksLikeCaptureFilter(filter: string): boolean {
  return /(?:^|\s)(?:host|port|net|portrange)\s+\S/.test(filter) && !/==|!=|\b(?:eq|ne)\b/.test(filter);
}

/**
 * The display filter a simple capture filter means: primitives such as "[src|dst] [tcp|udp] port N",
 * "[src|dst] host A", "net A/B", bare protocols, joined by and/or/not. Undefined for anything else.
 */
export function captureToDisplay(bpf: string): string | undefined {
  const tokens = bpf
    .replace(/([()])/g, ' $1 ')
    .trim()
    .split(/\s+/);
  const out: string[] = [];
  let i = 0;
  while (i < tokens.length) {
    const t = (tokens[i] ?? '').toLowerCase();
    if (t === 'and' || t === '&&') out.push('&&');
    else if (t === 'or' || t === '||') out.push('||');
    else if (t === 'not' || t === '!') out.push('!');
    else if (t === '(' || t === ')') out.push(t);
    else {
      // The longest run of tokens (at most 5) that is one primitive.
      let matched = false;
      for (let n = Math.min(5, tokens.length - i); n >= 1 && !matched; n--) {
        const phrase = tokens.slice(i, i + n).join(' ');
        const display = primitive(phrase);
        if (display !== undefined) {
          out.push(display);
          i += n;
          matched = true;
        }
      }
      if (!matched) return undefined;
      continue;
    }
    i++;
  }
  return out.join(' ').replace(/! /g, '!');
}

function primitive(phrase: string): string | undefined {
  if (/^(tcp|udp|icmp|icmp6|arp|ip|ip6|sctp)$/i.test(phrase)) {
    const p = phrase.toLowerCase();
    return p === 'ip6' ? 'ipv6' : p === 'icmp6' ? 'icmpv6' : p;
  }
  const m = BPF_PRIMITIVE.exec(phrase);
  if (!m) return undefined;
  const dir = m[1] ?? m[3];
  const proto = m[2];
  const kind = m[4];
  const value = m[5] ?? '';
  if (kind === 'port' || kind === 'portrange') {
    if (!/^\d+(-\d+)?$/.test(value)) return undefined;
    const field = dir === 'src' ? 'srcport' : dir === 'dst' ? 'dstport' : 'port';
    const test = (p: string): string =>
      value.includes('-') ? `${p}.${field} in {${value.replace('-', '..')}}` : `${p}.${field} == ${value}`;
    if (proto === 'tcp' || proto === 'udp') return test(proto);
    return `(${test('tcp')} || ${test('udp')})`;
  }
  const v6 = value.includes(':') || proto === 'ip6';
  const field = `${v6 ? 'ipv6' : 'ip'}.${dir ?? 'addr'}`;
  if (kind === 'host' || kind === 'net') return `${field} == ${value}`;
  return undefined;
}
