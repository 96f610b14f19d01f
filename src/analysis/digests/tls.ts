// The tls digest: TLS handshakes, one row each, built from tshark's fields: the server's address,
// what was offered and chosen, and every alert with its level and the side that sent it. An alert
// tshark cannot decrypt is still listed, as encrypted.
import { column, count, tally } from './aggregate.js';
import { TLS_VERSIONS, TLS_ALERTS } from './codes.js';
import { endFields, ends } from './endpoints.js';
import { all, first, keyed, fieldDigest } from './fields.js';
import type { FieldDigest, Row } from './fields.js';

const LEVELS: Record<string, string> = { '1': 'warning', '2': 'fatal' };
const ALERT_RECORD = '21';
const NO_SERVER_HELLO = '(no server hello)';

export const tls: FieldDigest<'tls'> = fieldDigest({
  kind: 'tls',
  description:
    'handshakes with server address, SNI, ALPN, versions, cipher, alerts (level, description, which side sent them), outcome.',
  filter:
    'tls.handshake.type == 1 || tls.handshake.type == 2 || tls.handshake.type == 8 || tls.alert_message || tls.record.content_type == 21 || tls.app_data',
  fields: [
    'frame.number',
    'tcp.stream',
    'udp.stream',
    ...endFields('tcp'),
    'udp.srcport',
    'udp.dstport',
    'tls.record.content_type',
    'tls.handshake.type',
    'tls.handshake.extensions_server_name',
    'tls.handshake.extensions_alpn_str',
    'tls.handshake.extensions.supported_version',
    'tls.handshake.version',
    'tls.handshake.ciphersuite',
    'tls.alert_message.level',
    'tls.alert_message.desc',
    'tls.app_data',
  ],
  columns: [
    'frame',
    'stream',
    'server',
    'sni',
    'alpnOffered',
    'alpn',
    'versionsOffered',
    'version',
    'cipher',
    'alerts',
    'outcome',
  ],
  aggregate(rows) {
    const alerts = rows.flatMap((r) =>
      String(r.alerts ?? '')
        .split('; ')
        .filter((a) => a !== '' && a !== 'none')
        // "server fatal: handshake_failure (frame 7)" → "server fatal: handshake_failure"
        .map((a) => a.replace(/ \(frame \d+\)$/, '')),
    );
    return `${count(rows.length, 'handshake')}; by outcome: ${tally(column(rows, 'outcome'))}; alerts: ${alerts.length === 0 ? 'none' : tally(alerts)}; versions: ${tally(column(rows, 'version'))}; servers: ${tally(column(rows, 'server'))}`;
  },
  build(rows) {
    const byStream = new Map<string, Row & { client: string; appData: number }>();
    const out: (Row & { client: string; appData: number })[] = [];
    for (const f of keyed(this.fields, rows)) {
      const tcp = first(f.get('tcp.stream')) !== '';
      const stream = tcp ? `tcp ${first(f.get('tcp.stream'))}` : `udp ${first(f.get('udp.stream'))}`;
      const types = all(f.get('tls.handshake.type'));
      const { from, to } = ends(f, tcp ? 'tcp' : 'udp');
      const frame = Number(f.get('frame.number'));
      let hs = byStream.get(stream);
      const start = (
        client: string,
        server: string,
        missing: string,
      ): Row & { client: string; appData: number } => {
        const row = {
          frame,
          stream,
          server,
          sni: missing,
          alpnOffered: missing,
          alpn: NO_SERVER_HELLO,
          versionsOffered: missing,
          version: NO_SERVER_HELLO,
          cipher: NO_SERVER_HELLO,
          alerts: 'none',
          outcome: 'no server hello',
          client,
          appData: 0,
        };
        byStream.set(stream, row);
        out.push(row);
        return row;
      };
      if (types.includes('1')) {
        hs = start(from, to, '');
        // GREASE values (0x?a?a) are placeholders clients offer to keep servers tolerant.
        const versions = all(f.get('tls.handshake.extensions.supported_version'))
          .filter((v) => !/^0x[0-9a-f]a[0-9a-f]a$/i.test(v))
          .map((v) => TLS_VERSIONS[v] ?? v);
        hs.sni = first(f.get('tls.handshake.extensions_server_name')) || '(no SNI)';
        hs.alpnOffered = all(f.get('tls.handshake.extensions_alpn_str')).join(',') || '(none offered)';
        hs.versionsOffered =
          versions.join(',') ||
          TLS_VERSIONS[first(f.get('tls.handshake.version'))] ||
          first(f.get('tls.handshake.version')) ||
          '(unparsed)';
      }
      // A handshake whose ClientHello the capture missed still gets its row, from the server's side.
      if (!hs && types.includes('2')) hs = start(to, from, '(ClientHello not captured)');
      if (!hs) continue;
      if (types.includes('2')) {
        const chosen =
          first(f.get('tls.handshake.extensions.supported_version')) || first(f.get('tls.handshake.version'));
        hs.version = TLS_VERSIONS[chosen] ?? (chosen || '(unparsed)');
        hs.cipher = first(f.get('tls.handshake.ciphersuite')) || '(unparsed)';
        // TLS 1.3 moves the server's choice into EncryptedExtensions, readable only with the keys.
        hs.alpn =
          hs.version === 'TLS 1.3' && hs.alpnOffered !== '(none offered)'
            ? '(encrypted: no keylog)'
            : first(f.get('tls.handshake.extensions_alpn_str')) || '(none chosen)';
      }
      // A server frame's ALPN is EncryptedExtensions' (a TLS 1.3 ServerHello carries none).
      if (types.includes('8') && from !== hs.client) {
        hs.alpn = first(f.get('tls.handshake.extensions_alpn_str')) || '(none chosen)';
        if (hs.outcome === 'no server hello') hs.outcome = 'server hello, no application data';
      }
      const side = from === hs.client ? 'client' : 'server';
      const descs = all(f.get('tls.alert_message.desc'));
      const levels = all(f.get('tls.alert_message.level'));
      const named = descs.map(
        (d, i) =>
          `${side} ${LEVELS[levels[i] ?? ''] ?? 'level ?'}: ${TLS_ALERTS[d] ?? `alert ${d}`} (frame ${frame})`,
      );
      // An alert record tshark could not decrypt: its level and description are unknown.
      const hidden =
        all(f.get('tls.record.content_type')).filter((t) => t === ALERT_RECORD).length - descs.length;
      for (let i = 0; i < hidden; i++) named.push(`${side} encrypted alert (no keylog) (frame ${frame})`);
      if (named.length > 0) {
        hs.alerts = [hs.alerts, ...named].filter((x) => x !== '' && x !== 'none').join('; ');
        // close_notify is how a finished connection says goodbye, not a failure.
        const failing = descs.some((d) => d !== '0') || hidden > 0;
        if (hs.appData === 0 && failing) hs.outcome = `failed (alert from the ${side})`;
      }
      if (all(f.get('tls.app_data')).length > 0) {
        hs.appData++;
        if (!String(hs.outcome).startsWith('failed')) hs.outcome = 'established';
      }
    }
    return out.map(({ client: _client, appData: _appData, ...row }) => row);
  },
});
