// The quic digest: one row per QUIC connection (tshark's connection number) with its SNI, version,
// offered and chosen ALPN, and how far the handshake got. Without the TLS secrets only the Initial
// packets can be read; what the keys would show is then named as unknown, never left blank.
import { column, count, tally } from './aggregate.js';
import { TLS_ALERTS } from './codes.js';
import { endFields, ends } from './endpoints.js';
import { all, first, keyed, fieldDigest } from './fields.js';
import type { FieldDigest, Row } from './fields.js';

/** QUIC transport error codes (RFC 9000 20.1); 0x100-0x1ff carry a TLS alert. */
const QUIC_ERRORS: Record<string, string> = {
  '0': 'NO_ERROR',
  '1': 'INTERNAL_ERROR',
  '2': 'CONNECTION_REFUSED',
  '3': 'FLOW_CONTROL_ERROR',
  '4': 'STREAM_LIMIT_ERROR',
  '5': 'STREAM_STATE_ERROR',
  '6': 'FINAL_SIZE_ERROR',
  '7': 'FRAME_ENCODING_ERROR',
  '8': 'TRANSPORT_PARAMETER_ERROR',
  '9': 'CONNECTION_ID_LIMIT_ERROR',
  '10': 'PROTOCOL_VIOLATION',
  '11': 'INVALID_TOKEN',
  '12': 'APPLICATION_ERROR',
  '13': 'CRYPTO_BUFFER_EXCEEDED',
  '14': 'KEY_UPDATE_ERROR',
  '15': 'AEAD_LIMIT_REACHED',
  '16': 'NO_VIABLE_PATH',
  '17': 'VERSION_NEGOTIATION_ERROR',
};
/** QUIC versions by the number in the long header. */
const QUIC_VERSIONS: Record<string, string> = {
  '0x00000001': 'QUIC v1',
  '0x6b3343cf': 'QUIC v2',
  '0xff00001d': 'draft-29',
  '0x00000000': 'version negotiation',
};

/** Long header packet types: v1 numbers them Initial 0, 0-RTT 1, Handshake 2, Retry 3; v2 rotates them. */
const V1_TYPES: Record<string, string> = { '0': 'initial', '1': '0rtt', '2': 'handshake', '3': 'retry' };
const V2_TYPES: Record<string, string> = { '1': 'initial', '2': '0rtt', '3': 'handshake', '0': 'retry' };
const HANDSHAKE_DONE = '30';
const CLIENT_HELLO = '1';
const ENCRYPTED_EXTENSIONS = '8';
const FINISHED = '20';
const NO_KEYS = '(encrypted: no keylog)';

/** A CONNECTION_CLOSE frame's error: the transport code's name, the TLS alert it carries, or the application's code. */
function closeError(f: Map<string, string>): string {
  const app = first(f.get('quic.cc.error_code.app'));
  if (app !== '') return `application error ${app}`;
  const code = first(f.get('quic.cc.error_code'));
  const n = Number(code);
  if (n >= 0x100 && n <= 0x1ff) {
    const alert = String(n - 0x100);
    return `CRYPTO_ERROR (TLS alert ${TLS_ALERTS[alert] ?? alert})`;
  }
  return QUIC_ERRORS[code] ?? `error ${code}`;
}

interface Connection {
  row: Row;
  client: string;
  /** What the packets showed: long header types and 1-RTT packets by side, frames decrypted or not. */
  seen: Set<string>;
  closed: string;
  closedBeforeDone: boolean;
  done: string;
}

export const quic: FieldDigest<'quic'> = fieldDigest({
  kind: 'quic',
  description:
    'connections with SNI, version, offered and chosen ALPN, handshake outcome (completed, only Initial packets, closed with error code and reason); what needs the keys is marked unknown without a keylog.',
  filter: 'quic',
  fields: [
    'frame.number',
    'udp.stream',
    'quic.connection.number',
    ...endFields('udp'),
    'quic.header_form',
    'quic.long.packet_type',
    'quic.long.packet_type_v2',
    'quic.version',
    'quic.frame_type',
    'quic.decryption_failed',
    'tls.handshake.type',
    'tls.handshake.extensions_server_name',
    'tls.handshake.extensions_alpn_str',
    'quic.cc.error_code',
    'quic.cc.error_code.app',
    'quic.cc.reason_phrase',
  ],
  columns: [
    'frame',
    'client',
    'server',
    'sni',
    'version',
    'alpnOffered',
    'alpn',
    'packets',
    'outcome',
    'close',
  ],
  aggregate(rows) {
    const outcome = (r: Row): string =>
      String(r.outcome)
        .replace(/ \(.*$/, '')
        .replace(/:.*$/, '');
    const undecrypted = rows.filter((r) => r.alpn === NO_KEYS).length;
    return `${count(rows.length, 'connection')}; by outcome: ${tally(rows.map(outcome))}; by SNI: ${tally(column(rows, 'sni'))}; ALPN: ${tally(column(rows, 'alpn'))}${undecrypted > 0 ? `; ${undecrypted} not decrypted (no keylog: chosen ALPN and closes inside 1-RTT unknown)` : ''}`;
  },
  build(rows) {
    const by = new Map<string, Connection>();
    for (const f of keyed(this.fields, rows)) {
      const number = first(f.get('quic.connection.number'));
      const key = number !== '' ? `q${number}` : `u${first(f.get('udp.stream'))}`;
      const { from: src, to: dst } = ends(f, 'udp');
      const frame = Number(f.get('frame.number'));
      const hs = all(f.get('tls.handshake.type'));
      let c = by.get(key);
      if (!c) {
        // The ClientHello's sender is the client; a capture that starts later guesses the first sender.
        c = {
          row: {
            frame,
            client: src,
            server: dst,
            sni: '(no ClientHello captured)',
            version: '',
            alpnOffered: '(no ClientHello captured)',
            alpn: '',
            packets: 0,
            outcome: '',
            close: '',
          },
          client: src,
          seen: new Set(),
          closed: '',
          closedBeforeDone: false,
          done: '',
        };
        by.set(key, c);
      }
      const side = src === c.client ? 'client' : 'server';
      c.row.packets = Number(c.row.packets) + 1;
      const version = all(f.get('quic.version')).find((v) => v !== '0x00000000');
      if (version && c.row.version === '') c.row.version = QUIC_VERSIONS[version] ?? version;
      if (all(f.get('quic.version')).includes('0x00000000')) c.seen.add('version negotiation');
      const v2 = version === '0x6b3343cf';
      const types = all(f.get(v2 ? 'quic.long.packet_type_v2' : 'quic.long.packet_type')).map(
        (t) => (v2 ? V2_TYPES : V1_TYPES)[t] ?? t,
      );
      for (const t of types) c.seen.add(`${side} ${t}`);
      if (all(f.get('quic.header_form')).includes('0')) c.seen.add(`${side} 1rtt`);
      const frames = all(f.get('quic.frame_type'));
      if (all(f.get('quic.decryption_failed')).length > 0) c.seen.add('undecrypted');
      else if (types.length === 0 && frames.length === 0) c.seen.add('undecrypted');
      else if (types.some((t) => t !== 'initial') || types.length === 0) c.seen.add('decrypted');
      if (hs.includes(CLIENT_HELLO)) {
        c.row.sni = first(f.get('tls.handshake.extensions_server_name')) || '(no SNI)';
        c.row.alpnOffered = all(f.get('tls.handshake.extensions_alpn_str')).join(',') || '(none offered)';
      }
      if (side === 'server' && hs.includes(ENCRYPTED_EXTENSIONS))
        c.row.alpn = first(f.get('tls.handshake.extensions_alpn_str')) || '(none chosen)';
      if (side === 'client' && hs.includes(FINISHED)) c.seen.add('client finished');
      if (frames.includes(HANDSHAKE_DONE) && c.done === '') c.done = `HANDSHAKE_DONE frame ${frame}`;
      if (f.get('quic.cc.error_code') || f.get('quic.cc.error_code.app')) {
        const reason = first(f.get('quic.cc.reason_phrase'));
        c.closedBeforeDone = c.done === '' && !c.seen.has('client 1rtt');
        c.closed = `by ${side}: ${closeError(f)}${reason !== '' ? ` "${reason}"` : ''} (frame ${frame})`;
      }
    }
    return [...by.values()].map((c) => {
      const s = c.seen;
      const keys = s.has('decrypted') || !s.has('undecrypted');
      const row = { ...c.row };
      if (row.version === '') row.version = '(unknown)';
      if (row.alpn === '') row.alpn = keys ? '(no EncryptedExtensions seen)' : NO_KEYS;
      row.close = c.closed !== '' ? c.closed : keys ? '(none seen)' : NO_KEYS;
      const notes = [
        s.has('version negotiation') ? 'version negotiation' : '',
        s.has('server retry') ? 'retry' : '',
      ]
        .filter((x) => x !== '')
        .join(', ');
      let outcome: string;
      if (c.closed !== '' && c.closedBeforeDone) outcome = `failed: closed during the handshake ${c.closed}`;
      else if (c.done !== '') outcome = `completed (${c.done})`;
      else if (s.has('client finished')) outcome = 'completed (client Finished seen)';
      else if (s.has('client 1rtt'))
        outcome = `completed (1-RTT packets from the client${keys ? '' : '; encrypted: no keylog'})`;
      else if (s.has('client handshake') || s.has('server handshake'))
        outcome = 'incomplete: Handshake packets, no 1-RTT from the client';
      else if (s.has('server initial')) outcome = 'incomplete: only Initial packets both ways';
      else outcome = 'no answer: only the client Initial packets';
      row.outcome = notes !== '' ? `${outcome}; ${notes}` : outcome;
      return row;
    });
  },
});
