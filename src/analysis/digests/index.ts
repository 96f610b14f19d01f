// The digests inspect_protocol offers, in the order its kind parameter lists them: adding one is a
// file in this folder, a line here and its test. The kind enum and its description derive from here.
import { credentials } from './credentials.js';
import { dhcp } from './dhcp.js';
import { dns } from './dns.js';
import type { FieldDigest, Row } from './fields.js';
import { http } from './http.js';
import { icmp } from './icmp.js';
import { tcpHealth } from './tcp-health.js';
import { tls } from './tls.js';
import { VOIP_COLUMNS, VOIP_DESCRIPTION } from './voip.js';

export const INSPECT_KINDS = [
  'http',
  'dns',
  'tls',
  'tcp_health',
  'credentials',
  'voip',
  'dhcp',
  'icmp',
] as const;
export type InspectKind = (typeof INSPECT_KINDS)[number];

/** The digests read from one `-T fields` pass, by kind. */
export const FIELD_DIGESTS: Record<Exclude<InspectKind, 'voip'>, FieldDigest> = {
  http,
  dns,
  tls,
  tcp_health: tcpHealth,
  credentials,
  dhcp,
  icmp,
};

/** "http: requests with ... dns: ...", each kind with what its rows are. */
export const KIND_DESCRIPTION = INSPECT_KINDS.map(
  (k) => `${k}: ${k === 'voip' ? VOIP_DESCRIPTION : FIELD_DIGESTS[k].description}`,
).join(' ');

export function columnsOf(kind: InspectKind): readonly string[] {
  return kind === 'voip' ? VOIP_COLUMNS : FIELD_DIGESTS[kind].columns;
}

/** Builds rows from `-T fields` output lines. Pure, for tests on recorded output. */
export function buildRows(
  kind: Exclude<InspectKind, 'voip'>,
  fieldsOutput: string,
  options: { reveal: boolean },
): Row[] {
  const lines = fieldsOutput.split('\n').filter((l) => l !== '');
  return FIELD_DIGESTS[kind].build(
    lines.map((l) => l.split('\t')),
    options,
  );
}
