// Close matches for a field name tshark does not know, from its field list: names a few edits away
// ("http.hots"), names that end the same way ("host" for "http.host"), and names another tool uses
// for the same thing, read against the fields' display names: "dhcp.yiaddr" is "y"+"i"+"addr", the
// first letters of "Your (client) IP address", which is dhcp.ip.your. A short table covers the
// aliases whose letters are not in Wireshark's words (BOOTP's giaddr is its "Relay agent").
import type { Glossary } from './glossary.js';
import { boundedEditDistance } from '../util/text.js';

/** Names other tools use, as the words of Wireshark's display name (lower case). */
const ALIASES: Readonly<Record<string, string>> = {
  giaddr: 'relay agent ip address',
  chaddr: 'client mac address',
  hwaddr: 'client mac address',
  sname: 'server host name',
  xid: 'transaction id',
  qname: 'name',
  qtype: 'type',
  rcode: 'reply code',
  ttl: 'time to live',
  ua: 'user agent',
  useragent: 'user agent',
  sni: 'server name',
  src: 'source',
  dst: 'destination',
  sport: 'source port',
  dport: 'destination port',
};

/** The words of a display name: "Your (client) IP address" → your, client, ip, address. */
export function words(text: string): string[] {
  return text.toLowerCase().match(/[a-z0-9]+/g) ?? [];
}

/**
 * Whether `token` is made of prefixes of `names`'s words, in order, skipping some ("yiaddr": your,
 * ip, address). Returns how many words were skipped, or undefined when it is not.
 */
export function abbreviates(token: string, names: readonly string[]): number | undefined {
  let best: number | undefined;
  const walk = (t: number, w: number, skipped: number, pieces: number): void => {
    if (t === token.length) {
      if (pieces >= 2 || token.length >= 4) best = best === undefined ? skipped : Math.min(best, skipped);
      return;
    }
    for (let j = w; j < names.length; j++) {
      const word = names[j] ?? '';
      let k = 0;
      while (k < word.length && t + k < token.length && word[k] === token[t + k]) k++;
      // Every prefix of this word that the token starts with (longest first).
      for (let len = k; len >= 1; len--) walk(t + len, j + 1, skipped + (j - w), pieces + 1);
    }
  };
  if (token.length >= 3) walk(0, 0, 0, 0);
  return best;
}

/** Up to `perName` close matches for each unknown name, best first. Pure. */
export function suggestFieldNames(
  glossary: Glossary,
  names: readonly string[],
  perName = 5,
): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const name of names) {
    const lower = name.toLowerCase();
    const dot = lower.indexOf('.');
    const protocol = dot === -1 ? '' : lower.slice(0, dot);
    const last = lower.slice(lower.lastIndexOf('.') + 1);
    const alias = ALIASES[last];
    const max = Math.max(2, Math.floor(lower.length / 4));
    const scored: { field: string; score: number }[] = [];
    glossary.forEach((_i, field, display, _description, fieldProtocol) => {
      const f = field.toLowerCase();
      let score = boundedEditDistance(lower, f, max);
      // "host" for "http.host": the last part matches exactly.
      if (score > max && f.endsWith(`.${lower}`)) score = max;
      if (score <= max) {
        scored.push({ field, score });
        return;
      }
      // The other tool's name read against the display name, within the same protocol.
      if (protocol === '' || fieldProtocol !== protocol) return;
      const displayWords = words(display);
      if (alias !== undefined && displayWords.join(' ') === alias) {
        scored.push({ field, score: 0.5 });
        return;
      }
      const skipped = abbreviates(last, displayWords);
      if (skipped !== undefined) scored.push({ field, score: max + 0.5 + skipped });
    });
    scored.sort((a, b) => a.score - b.score || a.field.length - b.field.length);
    out.set(name, [...new Set(scored.map((s) => s.field))].slice(0, perName));
  }
  return out;
}
