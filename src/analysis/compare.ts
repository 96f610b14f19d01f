// compare_captures: what differs between two captures ("it works with curl, fails from my app"):
// endpoints, server ports and protocols seen in only one; TLS handshake outcomes, HTTP statuses
// and DNS answers that differ; expert-info counts that changed. Built from the same summaries and
// digests the other tools give, so each difference can be drilled into with them. Pure: the digests
// in, the differences and their text out (./comparer.ts gathers the digests).
import * as z from 'zod';
import type { Row } from './inspect.js';
import { packetComparisonSchema } from './packet-match.js';
import type { UnmatchedPacket } from './packet-match.js';
import type { CaptureSummary } from './summary/index.js';

export interface CaptureDigest {
  readonly summary: CaptureSummary;
  readonly tls: readonly Row[];
  readonly http: readonly Row[];
  readonly dns: readonly Row[];
}

const differenceSchema = z.object({ what: z.string(), baseline: z.string(), candidate: z.string() });
export type Difference = z.infer<typeof differenceSchema>;

const onlyInSchema = z.object({
  endpoints: z.array(z.string()),
  serverPorts: z.array(z.string()),
  protocols: z.array(z.string()),
});

/** What differs in the summaries and digests. */
const digestComparisonSchema = z.object({
  packets: z.object({ baseline: z.number().nullable(), candidate: z.number().nullable() }),
  onlyInBaseline: onlyInSchema,
  onlyInCandidate: onlyInSchema,
  tls: z.array(differenceSchema),
  http: z.array(differenceSchema),
  dns: z.array(differenceSchema),
  expert: z.array(differenceSchema),
});
type DigestComparison = z.infer<typeof digestComparisonSchema>;

/** What differs, as compare_captures publishes it in its structured answer. */
export const comparisonSchema = digestComparisonSchema.extend(packetComparisonSchema.shape);
export type Comparison = z.infer<typeof comparisonSchema>;

/** Something to know about one of the two captures (cut short, damaged and where). */
export type SidedWarning = readonly [side: 'baseline' | 'candidate', warning: string];

function serverPorts(d: CaptureDigest): Set<string> {
  const ports = new Set<string>();
  for (const c of d.summary.conversations) {
    if (c.kind !== 'tcp' && c.kind !== 'udp') continue;
    // The side that did not speak first is the server; its port names the service.
    const port = c.b.slice(c.b.lastIndexOf(':') + 1);
    ports.add(`${c.kind}/${port}`);
  }
  return ports;
}

const endpoints = (d: CaptureDigest): Set<string> =>
  new Set(d.summary.endpoints.filter((e) => e.kind === 'ipv4' || e.kind === 'ipv6').map((e) => e.address));
const protocols = (d: CaptureDigest): Set<string> => new Set(d.summary.protocols.map((p) => p.protocol));

function minus(a: Set<string>, b: Set<string>): string[] {
  return [...a].filter((x) => !b.has(x)).sort();
}

/** Values per key, described as "v1 ×2, v2": for grouping rows by what they are about. */
function tally(
  rows: readonly Row[],
  key: (r: Row) => string,
  value: (r: Row) => string,
): Map<string, string> {
  const counts = new Map<string, Map<string, number>>();
  for (const r of rows) {
    const k = key(r);
    const v = value(r);
    const per = counts.get(k) ?? new Map<string, number>();
    per.set(v, (per.get(v) ?? 0) + 1);
    counts.set(k, per);
  }
  return new Map(
    [...counts].map(([k, per]) => [
      k,
      [...per]
        .sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]))
        .map(([v, n]) => (n > 1 ? `${v} ×${n}` : v))
        .join(', '),
    ]),
  );
}

/** What differs; things seen in both come first, as they are the likelier clue. */
function differences(a: Map<string, string>, b: Map<string, string>): Difference[] {
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  const inBoth = (k: string): boolean => a.has(k) && b.has(k);
  return keys
    .filter((k) => (a.get(k) ?? '') !== (b.get(k) ?? ''))
    .sort((x, y) => Number(inBoth(y)) - Number(inBoth(x)))
    .map((k) => ({ what: k, baseline: a.get(k) ?? '(none)', candidate: b.get(k) ?? '(none)' }));
}

const s = (v: Row[string] | undefined): string => (v === null || v === undefined ? '' : String(v));

export function compareDigests(baseline: CaptureDigest, candidate: CaptureDigest): DigestComparison {
  const tlsKey = (r: Row): string =>
    s(r['sni']) !== '' ? s(r['sni']) : `(no SNI) ${s(r['stream']).split(' ')[0] ?? ''}`;
  const tlsValue = (r: Row): string =>
    [
      s(r['outcome']),
      s(r['version']),
      !['', 'none'].includes(s(r['alerts'])) ? `alerts: ${s(r['alerts'])}` : '',
    ]
      .filter((x) => x !== '')
      .join(' ');
  const httpKey = (r: Row): string => `${s(r['method'])} ${s(r['host'])}${s(r['uri'])}`;
  const httpValue = (r: Row): string => s(r['status']) || 'no response';
  const dnsKey = (r: Row): string => `${s(r['query'])} ${s(r['type'])}`;
  // "(no records)" and "(no response)" only add to a NOERROR: an error rcode has no records anyway.
  const dnsValue = (r: Row): string =>
    s(r['answers']) !== '' && (s(r['rcode']) === 'NOERROR' || !s(r['answers']).startsWith('('))
      ? `${s(r['rcode'])} ${s(r['answers'])}`
      : s(r['rcode']);
  // Chats (one per request, connection...) are traffic, not trouble: errors, warnings and notes are compared.
  const expert = (d: CaptureDigest): Map<string, string> =>
    new Map(
      d.summary.expertTop
        .filter((e) => e.severity !== 'chat')
        .map((e) => [`${e.severity} ${e.protocol}: ${e.summary}`, String(e.count)]),
    );
  return {
    packets: {
      baseline: baseline.summary.facts.packets ?? null,
      candidate: candidate.summary.facts.packets ?? null,
    },
    onlyInBaseline: {
      endpoints: minus(endpoints(baseline), endpoints(candidate)),
      serverPorts: minus(serverPorts(baseline), serverPorts(candidate)),
      protocols: minus(protocols(baseline), protocols(candidate)),
    },
    onlyInCandidate: {
      endpoints: minus(endpoints(candidate), endpoints(baseline)),
      serverPorts: minus(serverPorts(candidate), serverPorts(baseline)),
      protocols: minus(protocols(candidate), protocols(baseline)),
    },
    tls: differences(tally(baseline.tls, tlsKey, tlsValue), tally(candidate.tls, tlsKey, tlsValue)),
    http: differences(tally(baseline.http, httpKey, httpValue), tally(candidate.http, httpKey, httpValue)),
    dns: differences(tally(baseline.dns, dnsKey, dnsValue), tally(candidate.dns, dnsKey, dnsValue)),
    expert: differences(expert(baseline), expert(candidate)).map((d) => ({
      ...d,
      baseline: d.baseline === '(none)' ? '0' : d.baseline,
      candidate: d.candidate === '(none)' ? '0' : d.candidate,
    })),
  };
}

/** One unmatched packet on one line: frame, time, stream, addresses, protocol and tshark's summary. */
export function unmatchedLine(p: UnmatchedPacket): string {
  return [
    `frame ${p.frame}`,
    `${p.time.toFixed(6)} s`,
    ...(p.stream === '' ? [] : [`stream ${p.stream}`]),
    `${p.source} → ${p.destination}`,
    p.protocol,
    p.info,
  ].join('  ');
}

/** "Packets compared one by one: ..." and, when a capture held more than the cap, what that means. */
function comparedLine(c: Comparison): string {
  const { baseline, candidate, cap, capped, pastCut } = c.packetsCompared;
  const n = (x: number): string => x.toLocaleString('en-US');
  const left =
    pastCut > 0 ? ` ${n(pastCut)} unmatched packets after the other capture's cut are not listed.` : '';
  return capped
    ? `Packets compared one by one: the first ${n(cap)} of each at most (${n(baseline)} vs ${n(candidate)}); later ones were not (comparePackets compares more).${left}`
    : `Packets compared one by one: all (${n(baseline)} vs ${n(candidate)}).`;
}

/** The comparison as text, `limit` entries a section at most. */
export function renderComparison(
  labels: { readonly baseline: string; readonly candidate: string },
  c: Comparison,
  warnings: readonly SidedWarning[],
  limit: number,
  calls: {
    /** The call with a larger limit, for a section that is cut. */
    readonly more: (limit: number) => string;
    /** The call that shows the unmatched packets from `offset` on. */
    readonly page: (offset: number) => string;
  } = {
    more: (n) => `compare_captures with limit ${n}`,
    page: (n) => `compare_captures with offset ${n}`,
  },
): string {
  const lines = [
    `Compare baseline ${labels.baseline}`,
    `   with candidate ${labels.candidate}`,
    `Packets: ${c.packets.baseline ?? '?'} vs ${c.packets.candidate ?? '?'}`,
    comparedLine(c),
  ];
  const head = lines.length;
  lines.push(...warnings.map(([side, w]) => `Warning (${side}): ${w}`));
  for (const [title, only] of [
    ['Packets only in baseline', c.onlyInBaselinePackets],
    ['Packets only in candidate', c.onlyInCandidatePackets],
  ] as const) {
    if (only.total === 0) continue;
    const range =
      only.shown.length === 0
        ? `; none from offset ${only.offset}`
        : only.offset > 0 || only.nextOffset !== null
          ? `; ${only.offset + 1}-${only.offset + only.shown.length} shown`
          : '';
    lines.push('', `${title} (${only.total}${range}):`);
    lines.push(...only.shown.map((p) => `  ${unmatchedLine(p)}`));
    if (only.nextOffset !== null)
      lines.push(`  (+${only.total - only.nextOffset} more: ${calls.page(only.nextOffset)})`);
  }
  const list = (title: string, items: string[]): void => {
    if (items.length === 0) return;
    const shown = items.slice(0, limit);
    lines.push(
      `  ${title}: ${shown.join(', ')}${items.length > shown.length ? ` (+${items.length - shown.length} more: ${calls.more(items.length)})` : ''}`,
    );
  };
  for (const [title, only] of [
    ['Only in baseline', c.onlyInBaseline],
    ['Only in candidate', c.onlyInCandidate],
  ] as const) {
    if (only.endpoints.length + only.serverPorts.length + only.protocols.length === 0) continue;
    lines.push('', `${title}:`);
    list('protocols', only.protocols);
    list('server ports', only.serverPorts);
    list('endpoints', only.endpoints);
  }
  const section = (title: string, diffs: Difference[]): void => {
    if (diffs.length === 0) return;
    lines.push('', `${title} (${diffs.length}):`);
    for (const d of diffs.slice(0, limit))
      lines.push(`  ${d.what}: baseline ${d.baseline}; candidate ${d.candidate}`);
    if (diffs.length > limit) lines.push(`  (+${diffs.length - limit} more: ${calls.more(diffs.length)})`);
  };
  section(
    'Transaction counts that differ',
    c.transactions.differ.map((d) => ({
      what: d.what,
      baseline: String(d.baseline),
      candidate: String(d.candidate),
    })),
  );
  section('TLS handshakes that differ', c.tls);
  section('HTTP statuses that differ', c.http);
  section('DNS answers that differ', c.dns);
  section('Expert info that changed', c.expert);
  if (lines.length === head + warnings.length)
    lines.push(
      '',
      'No difference found in packets, transaction counts, endpoints, ports, protocols, TLS, HTTP, DNS or expert info.',
    );
  const same = c.transactions;
  if (same.sameTotal > 0) {
    const cut = same.sameTotal > same.same.length;
    lines.push(
      '',
      `Transaction counts the same in both (${same.sameTotal}${cut ? `; the first ${same.same.length} shown` : ''}):`,
      `  ${same.same.map((x) => `${x.what} ${x.count}`).join(', ')}`,
    );
    if (cut) lines.push(`  (+${same.sameTotal - same.same.length} more: ${calls.more(same.sameTotal)})`);
  }
  return lines.join('\n');
}
