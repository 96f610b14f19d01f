// The tls digest: TLS handshakes, one row each, built from tshark's fields.
import { TLS_VERSIONS, TLS_ALERTS } from './codes.js';
import { all, first, keyed, fieldDigest } from './fields.js';
import type { FieldDigest, Row } from './fields.js';
import { column, count, tally } from './aggregate.js';

export const tls: FieldDigest<'tls'> = fieldDigest({
  kind: 'tls',
  description: 'handshakes with SNI, ALPN, versions, cipher, alerts, outcome.',
  filter: 'tls.handshake.type == 1 || tls.handshake.type == 2 || tls.alert_message || tls.app_data',
  fields: [
    'frame.number',
    'tcp.stream',
    'udp.stream',
    'ip.src',
    'ipv6.src',
    'tls.handshake.type',
    'tls.handshake.extensions_server_name',
    'tls.handshake.extensions_alpn_str',
    'tls.handshake.extensions.supported_version',
    'tls.handshake.version',
    'tls.handshake.ciphersuite',
    'tls.alert_message.desc',
    'tls.app_data',
  ],
  columns: [
    'frame',
    'stream',
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
    const alerts = rows.filter((r) => r.alerts !== '' && r.alerts !== null).length;
    return `${count(rows.length, 'handshake')}; by outcome: ${tally(column(rows, 'outcome'))}; with alerts ${alerts}; versions: ${tally(column(rows, 'version'))}`;
  },
  build(rows) {
    const byStream = new Map<string, Row & { client: string; appData: number }>();
    const out: Row[] = [];
    for (const f of keyed(this.fields, rows)) {
      const stream =
        first(f.get('tcp.stream')) !== ''
          ? `tcp ${first(f.get('tcp.stream'))}`
          : `udp ${first(f.get('udp.stream'))}`;
      const types = all(f.get('tls.handshake.type'));
      const src = first(f.get('ip.src')) || first(f.get('ipv6.src'));
      let hs = byStream.get(stream);
      if (types.includes('1')) {
        // GREASE values (0x?a?a) are placeholders clients offer to keep servers tolerant.
        const versions = all(f.get('tls.handshake.extensions.supported_version'))
          .filter((v) => !/^0x[0-9a-f]a[0-9a-f]a$/i.test(v))
          .map((v) => TLS_VERSIONS[v] ?? v);
        hs = {
          frame: Number(f.get('frame.number')),
          stream,
          sni: first(f.get('tls.handshake.extensions_server_name')),
          alpnOffered: all(f.get('tls.handshake.extensions_alpn_str')).join(','),
          alpn: '',
          versionsOffered: versions.join(',') || (TLS_VERSIONS[first(f.get('tls.handshake.version'))] ?? ''),
          version: '',
          cipher: '',
          alerts: '',
          outcome: 'no server hello',
          client: src,
          appData: 0,
        };
        byStream.set(stream, hs);
        out.push(hs);
      }
      if (!hs) continue;
      if (types.includes('2')) {
        const chosen =
          first(f.get('tls.handshake.extensions.supported_version')) || first(f.get('tls.handshake.version'));
        hs.version = TLS_VERSIONS[chosen] ?? chosen;
        hs.cipher = first(f.get('tls.handshake.ciphersuite'));
        hs.alpn = first(f.get('tls.handshake.extensions_alpn_str'));
        if (hs.outcome === 'no server hello') hs.outcome = 'server hello, no application data';
      }
      const alerts = all(f.get('tls.alert_message.desc'));
      if (alerts.length > 0) {
        const named = alerts.map(
          (a) => `${TLS_ALERTS[a] ?? `alert ${a}`} from ${src === hs.client ? 'client' : 'server'}`,
        );
        hs.alerts = [hs.alerts, ...named].filter((x) => x !== '').join('; ');
        // close_notify is how a finished connection says goodbye, not a failure.
        if (hs.appData === 0 && alerts.some((a) => a !== '0')) hs.outcome = 'failed (alert)';
      }
      if (all(f.get('tls.app_data')).length > 0) {
        hs.appData++;
        if (!String(hs.outcome).startsWith('failed')) hs.outcome = 'established';
      }
    }
    return out.map(({ client: _client, appData: _appData, ...row }) => row);
  },
});
