// The digests inspect_protocol offers, in the order its kind parameter lists them: adding one is a
// file in this folder, a line in DIGESTS and its test. The kind enum and its description derive
// from DIGESTS.
import { credentials } from './credentials.js';
import { dhcp } from './dhcp.js';
import { dns } from './dns.js';
import { ftp } from './ftp.js';
import type { Digest, FieldDigest, Row } from './fields.js';
import { http } from './http.js';
import { icmp } from './icmp.js';
import { quic } from './quic.js';
import { smb } from './smb.js';
import { smtp } from './smtp.js';
import { tcpHealth } from './tcp-health.js';
import { tls } from './tls.js';
import { voip } from './voip.js';

const DIGESTS = [http, dns, tls, tcpHealth, credentials, voip, dhcp, icmp, smtp, ftp, smb, quic] as const;

export type InspectKind = (typeof DIGESTS)[number]['kind'];
type FieldKind = Extract<(typeof DIGESTS)[number], { build: unknown }>['kind'];

export const INSPECT_KINDS = DIGESTS.map((d) => d.kind) as unknown as readonly [
  InspectKind,
  ...InspectKind[],
];

/** The digests read from one `-T fields` pass, by kind. */
export const FIELD_DIGESTS = Object.fromEntries(
  DIGESTS.flatMap((d) => ('build' in d ? [[d.kind, d]] : [])),
) as Record<FieldKind, FieldDigest>;

/** Every digest by kind. */
export const DIGEST_OF = Object.fromEntries(DIGESTS.map((d) => [d.kind, d])) as Record<InspectKind, Digest>;

/** "http: requests with ... dns: ...", each kind with what its rows are. */
export const KIND_DESCRIPTION = DIGESTS.map((d) => `${d.kind}: ${d.description}`).join(' ');

export function columnsOf(kind: InspectKind): readonly string[] {
  return DIGEST_OF[kind].columns;
}

/** Builds rows from `-T fields` output lines. Pure, for tests on recorded output. */
export function buildRows(kind: FieldKind, fieldsOutput: string, options: { reveal: boolean }): Row[] {
  const lines = fieldsOutput.split('\n').filter((l) => l !== '');
  return FIELD_DIGESTS[kind].build(
    lines.map((l) => l.split('\t')),
    options,
  );
}
