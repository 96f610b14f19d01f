// inspect_protocol's digests: one row per transaction or object (an HTTP request and its response,
// a DNS query and its answer, a TLS handshake, a TCP conversation's health, ...). tshark does the
// dissection and prints the fields; this pairs and counts them. Each kind's row builder is a pure
// function of the field rows, tested on recorded output.
import { abortError, UserError } from '../errors.js';
import type { WiresharkTools } from '../wireshark/locate.js';
import type { ProcessGroup } from '../wireshark/process.js';
import { runCollect } from '../wireshark/process.js';
import { readOutcome } from './damage.js';

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

/** One digest row: named values, in the order of the kind's columns. */
export type Row = Record<string, string | number | null>;

/** Several occurrences of a field in one packet are joined with this (it occurs in no value). */
export const AGGREGATOR = '\u001f';

interface FieldKind {
  readonly filter: string;
  readonly fields: readonly string[];
  readonly columns: readonly string[];
  build(rows: readonly string[][], options: { reveal: boolean }): Row[];
}

const all = (v: string | undefined): string[] => (v === undefined || v === '' ? [] : v.split(AGGREGATOR));
const first = (v: string | undefined): string => all(v)[0] ?? '';
const num = (v: string | undefined): number | null => {
  const s = first(v);
  if (s === '') return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
};
const ms = (seconds: number | null): number | null =>
  seconds === null ? null : Math.round(seconds * 1e6) / 1e3;

/** Field rows as objects keyed by field name. */
function keyed(fields: readonly string[], rows: readonly string[][]): Map<string, string>[] {
  return rows.map((r) => new Map(fields.map((f, i) => [f, r[i] ?? ''])));
}

const DNS_TYPES: Record<string, string> = {
  '1': 'A',
  '2': 'NS',
  '5': 'CNAME',
  '6': 'SOA',
  '12': 'PTR',
  '15': 'MX',
  '16': 'TXT',
  '28': 'AAAA',
  '33': 'SRV',
  '35': 'NAPTR',
  '43': 'DS',
  '46': 'RRSIG',
  '48': 'DNSKEY',
  '64': 'SVCB',
  '65': 'HTTPS',
  '252': 'AXFR',
  '255': 'ANY',
};
const DNS_RCODES: Record<string, string> = {
  '0': 'NOERROR',
  '1': 'FORMERR',
  '2': 'SERVFAIL',
  '3': 'NXDOMAIN',
  '4': 'NOTIMP',
  '5': 'REFUSED',
};
const TLS_VERSIONS: Record<string, string> = {
  '0x0300': 'SSL 3.0',
  '0x0301': 'TLS 1.0',
  '0x0302': 'TLS 1.1',
  '0x0303': 'TLS 1.2',
  '0x0304': 'TLS 1.3',
};
const TLS_ALERTS: Record<string, string> = {
  '0': 'close_notify',
  '10': 'unexpected_message',
  '20': 'bad_record_mac',
  '22': 'record_overflow',
  '40': 'handshake_failure',
  '42': 'bad_certificate',
  '43': 'unsupported_certificate',
  '44': 'certificate_revoked',
  '45': 'certificate_expired',
  '46': 'certificate_unknown',
  '47': 'illegal_parameter',
  '48': 'unknown_ca',
  '49': 'access_denied',
  '50': 'decode_error',
  '51': 'decrypt_error',
  '70': 'protocol_version',
  '71': 'insufficient_security',
  '80': 'internal_error',
  '86': 'inappropriate_fallback',
  '90': 'user_canceled',
  '109': 'missing_extension',
  '110': 'unsupported_extension',
  '112': 'unrecognized_name',
  '116': 'certificate_required',
  '120': 'no_application_protocol',
};
const DHCP_TYPES: Record<string, string> = {
  '1': 'DISCOVER',
  '2': 'OFFER',
  '3': 'REQUEST',
  '4': 'DECLINE',
  '5': 'ACK',
  '6': 'NAK',
  '7': 'RELEASE',
  '8': 'INFORM',
};
const ICMP_TYPES: Record<string, string> = {
  '0': 'echo reply',
  '3': 'destination unreachable',
  '4': 'source quench',
  '5': 'redirect',
  '8': 'echo request',
  '11': 'time exceeded',
  '12': 'parameter problem',
  '13': 'timestamp',
  '14': 'timestamp reply',
};

const http: FieldKind = {
  filter: 'http.request || http.response || http2.headers.method || http2.headers.status',
  fields: [
    'frame.number',
    'frame.time_relative',
    'tcp.stream',
    'http.request.method',
    'http.host',
    'http.request.uri',
    'http.response.code',
    'http.response.phrase',
    'http.request_in',
    'http.time',
    'http.content_length',
    'http2.streamid',
    'http2.headers.method',
    'http2.headers.authority',
    'http2.headers.path',
    'http2.headers.status',
    'frame.len',
  ],
  columns: [
    'frame',
    'version',
    'method',
    'host',
    'uri',
    'status',
    'responseMs',
    'requestBytes',
    'responseBytes',
  ],
  build(rows) {
    const out: Row[] = [];
    const byFrame = new Map<string, Row>();
    const h2 = new Map<string, { row: Row; time: number }>();
    for (const f of keyed(this.fields, rows)) {
      const frame = f.get('frame.number') ?? '';
      const method = first(f.get('http.request.method'));
      if (method !== '') {
        const row: Row = {
          frame: Number(frame),
          version: 'HTTP/1.x',
          method,
          host: first(f.get('http.host')),
          uri: first(f.get('http.request.uri')),
          status: null,
          responseMs: null,
          requestBytes: num(f.get('http.content_length')) ?? 0,
          responseBytes: null,
        };
        byFrame.set(frame, row);
        out.push(row);
      }
      const code = first(f.get('http.response.code'));
      if (code !== '') {
        const request = byFrame.get(first(f.get('http.request_in')));
        const status = `${code} ${first(f.get('http.response.phrase'))}`.trim();
        if (request) {
          request.status = status;
          request.responseMs = ms(num(f.get('http.time')));
          request.responseBytes = num(f.get('http.content_length')) ?? 0;
        } else {
          out.push({
            frame: Number(frame),
            version: 'HTTP/1.x',
            method: '(request not captured)',
            host: '',
            uri: '',
            status,
            responseMs: null,
            requestBytes: null,
            responseBytes: num(f.get('http.content_length')) ?? 0,
          });
        }
      }
      // HTTP/2: HEADERS frames carry :method or :status; pair them by connection and stream id.
      const ids = all(f.get('http2.streamid'));
      const h2methods = all(f.get('http2.headers.method'));
      const h2status = all(f.get('http2.headers.status'));
      const time = num(f.get('frame.time_relative')) ?? 0;
      const stream = first(f.get('tcp.stream'));
      if (h2methods.length > 0) {
        const paths = all(f.get('http2.headers.path'));
        const hosts = all(f.get('http2.headers.authority'));
        h2methods.forEach((m, i) => {
          const row: Row = {
            frame: Number(frame),
            version: 'HTTP/2',
            method: m,
            host: hosts[i] ?? '',
            uri: paths[i] ?? '',
            status: null,
            responseMs: null,
            requestBytes: null,
            responseBytes: null,
          };
          // Without a reliable per-frame stream id for each HEADERS, pair with the lowest open one.
          h2.set(`${stream}/${ids[i] ?? `?${frame}.${i}`}`, { row, time });
          out.push(row);
        });
      }
      for (const s of h2status) {
        const open = [...h2.entries()].find(
          ([key, v]) => key.startsWith(`${stream}/`) && v.row.status === null,
        );
        if (!open) continue;
        open[1].row.status = s;
        open[1].row.responseMs = ms(time - open[1].time);
        h2.delete(open[0]);
      }
    }
    return out;
  },
};

const dns: FieldKind = {
  filter: 'dns',
  fields: [
    'frame.number',
    'frame.time_relative',
    'ip.src',
    'ipv6.src',
    'dns.id',
    'dns.flags.response',
    'dns.qry.name',
    'dns.qry.type',
    'dns.flags.rcode',
    'dns.a',
    'dns.aaaa',
    'dns.cname',
    'dns.time',
    'dns.response_to',
  ],
  columns: ['frame', 'client', 'query', 'type', 'rcode', 'answers', 'responseMs'],
  build(rows) {
    const out: Row[] = [];
    const byFrame = new Map<string, Row>();
    for (const f of keyed(this.fields, rows)) {
      const frame = f.get('frame.number') ?? '';
      const type = DNS_TYPES[first(f.get('dns.qry.type'))] ?? first(f.get('dns.qry.type'));
      if (first(f.get('dns.flags.response')) !== '1') {
        const row: Row = {
          frame: Number(frame),
          client: first(f.get('ip.src')) || first(f.get('ipv6.src')),
          query: first(f.get('dns.qry.name')),
          type,
          rcode: 'no response',
          answers: '',
          responseMs: null,
        };
        byFrame.set(frame, row);
        out.push(row);
        continue;
      }
      const answers = [...all(f.get('dns.a')), ...all(f.get('dns.aaaa')), ...all(f.get('dns.cname'))].join(
        ', ',
      );
      const rcode = DNS_RCODES[first(f.get('dns.flags.rcode'))] ?? `rcode ${first(f.get('dns.flags.rcode'))}`;
      const query = byFrame.get(first(f.get('dns.response_to')));
      if (query) {
        query.rcode = rcode;
        query.answers = answers;
        query.responseMs = ms(num(f.get('dns.time')));
      } else {
        out.push({
          frame: Number(frame),
          client: '',
          query: first(f.get('dns.qry.name')),
          type,
          rcode: `${rcode} (query not captured)`,
          answers,
          responseMs: null,
        });
      }
    }
    return out;
  },
};

const tls: FieldKind = {
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
};

const tcpHealth: FieldKind = {
  filter: 'tcp',
  fields: [
    'tcp.stream',
    'ip.src',
    'ipv6.src',
    'tcp.srcport',
    'ip.dst',
    'ipv6.dst',
    'tcp.dstport',
    'tcp.analysis.retransmission',
    'tcp.analysis.fast_retransmission',
    'tcp.analysis.duplicate_ack',
    'tcp.flags.reset',
    'tcp.analysis.zero_window',
    'tcp.analysis.ack_rtt',
    'tcp.analysis.lost_segment',
    'tcp.analysis.out_of_order',
  ],
  columns: [
    'stream',
    'client',
    'server',
    'packets',
    'retransmissions',
    'duplicateAcks',
    'resets',
    'zeroWindows',
    'lostSegments',
    'outOfOrder',
    'rttMs',
  ],
  build(rows) {
    interface Health {
      row: Row;
      counts: Record<
        | 'packets'
        | 'retransmissions'
        | 'duplicateAcks'
        | 'resets'
        | 'zeroWindows'
        | 'lostSegments'
        | 'outOfOrder',
        number
      >;
      rtts: number[];
    }
    const by = new Map<string, Health>();
    for (const f of keyed(this.fields, rows)) {
      const stream = first(f.get('tcp.stream'));
      let c = by.get(stream);
      if (!c) {
        const v6 = first(f.get('ip.src')) === '';
        const end = (ip: string, port: string): string => (v6 ? `[${ip}]:${port}` : `${ip}:${port}`);
        c = {
          row: {
            stream: Number(stream),
            client: end(first(f.get('ip.src')) || first(f.get('ipv6.src')), first(f.get('tcp.srcport'))),
            server: end(first(f.get('ip.dst')) || first(f.get('ipv6.dst')), first(f.get('tcp.dstport'))),
          },
          counts: {
            packets: 0,
            retransmissions: 0,
            duplicateAcks: 0,
            resets: 0,
            zeroWindows: 0,
            lostSegments: 0,
            outOfOrder: 0,
          },
          rtts: [],
        };
        by.set(stream, c);
      }
      const has = (field: string): boolean => first(f.get(field)) !== '' && first(f.get(field)) !== '0';
      const n = c.counts;
      n.packets++;
      if (has('tcp.analysis.retransmission') || has('tcp.analysis.fast_retransmission')) n.retransmissions++;
      if (has('tcp.analysis.duplicate_ack')) n.duplicateAcks++;
      if (has('tcp.flags.reset')) n.resets++;
      if (has('tcp.analysis.zero_window')) n.zeroWindows++;
      if (has('tcp.analysis.lost_segment')) n.lostSegments++;
      if (has('tcp.analysis.out_of_order')) n.outOfOrder++;
      const rtt = num(f.get('tcp.analysis.ack_rtt'));
      if (rtt !== null) c.rtts.push(rtt);
    }
    return [...by.values()].map(({ row, counts, rtts }) => ({
      ...row,
      ...counts,
      // The median ACK round trip: robust to the odd delayed ACK.
      rttMs:
        rtts.length === 0 ? null : ms([...rtts].sort((a, b) => a - b)[Math.floor(rtts.length / 2)] ?? null),
    }));
  },
};

const credentials: FieldKind = {
  filter:
    'ftp.request.command == "USER" || ftp.request.command == "PASS" || http.authbasic || pop.request.command == "USER" || pop.request.command == "PASS" || imap.request.username || telnet.data',
  fields: [
    'frame.number',
    'ip.src',
    'ip.dst',
    'tcp.stream',
    'ftp.request.command',
    'ftp.request.arg',
    'http.authbasic',
    'pop.request.command',
    'pop.request.parameter',
    'imap.request.username',
    'imap.request.password',
    'tcp.srcport',
    'telnet.data',
  ],
  columns: ['frame', 'protocol', 'client', 'server', 'username', 'secret'],
  build(rows, { reveal }) {
    const hide = (s: string): string => (s === '' ? '' : reveal ? s : `[redacted, ${s.length} characters]`);
    const out: Row[] = [];
    const pending = new Map<string, Row>();
    // Telnet has no login fields: the line a client types after a "login:" or "Password:" prompt is
    // the username or the password (typed a character a packet, or a line at once).
    const telnet = new Map<
      string,
      { awaiting: 'user' | 'pass' | undefined; typed: string; row: Row | undefined }
    >();
    for (const f of keyed(this.fields, rows)) {
      const base = {
        frame: Number(f.get('frame.number')),
        client: first(f.get('ip.src')),
        server: first(f.get('ip.dst')),
      };
      const stream = first(f.get('tcp.stream'));
      const userPass = (protocol: string, command: string, arg: string): void => {
        if (command.toUpperCase() === 'USER') {
          const row: Row = { ...base, protocol, username: arg, secret: '' };
          pending.set(`${protocol}/${stream}`, row);
          out.push(row);
        } else if (command.toUpperCase() === 'PASS') {
          const row = pending.get(`${protocol}/${stream}`);
          if (row) row.secret = hide(arg);
          else out.push({ ...base, protocol, username: '', secret: hide(arg) });
        }
      };
      if (first(f.get('ftp.request.command')) !== '')
        userPass('FTP', first(f.get('ftp.request.command')), first(f.get('ftp.request.arg')));
      if (first(f.get('pop.request.command')) !== '')
        userPass('POP', first(f.get('pop.request.command')), first(f.get('pop.request.parameter')));
      const basic = first(f.get('http.authbasic'));
      if (basic !== '') {
        const at = basic.indexOf(':');
        out.push({
          ...base,
          protocol: 'HTTP basic',
          username: at === -1 ? basic : basic.slice(0, at),
          secret: hide(at === -1 ? '' : basic.slice(at + 1)),
        });
      }
      const data = all(f.get('telnet.data')).join('');
      if (data !== '') {
        const state = telnet.get(stream) ?? { awaiting: undefined, typed: '', row: undefined };
        telnet.set(stream, state);
        const fromServer = first(f.get('tcp.srcport')) === '23';
        if (fromServer) {
          if (/login:\s*$/i.test(data)) state.awaiting = 'user';
          else if (/password:\s*$/i.test(data)) state.awaiting = 'pass';
          state.typed = '';
        } else if (state.awaiting !== undefined) {
          state.typed += data;
          const end = state.typed.search(/\\r|\\n|\r|\n/);
          if (end !== -1) {
            const value = state.typed.slice(0, end);
            if (state.awaiting === 'user') {
              state.row = { ...base, protocol: 'Telnet', username: value, secret: '' };
              out.push(state.row);
            } else if (state.row) state.row.secret = hide(value);
            else out.push({ ...base, protocol: 'Telnet', username: '', secret: hide(value) });
            state.awaiting = undefined;
            state.typed = '';
          }
        }
      }
      const imapUser = first(f.get('imap.request.username'));
      if (imapUser !== '')
        out.push({
          ...base,
          protocol: 'IMAP',
          username: imapUser,
          secret: hide(first(f.get('imap.request.password'))),
        });
    }
    return out;
  },
};

const dhcp: FieldKind = {
  filter: 'dhcp',
  fields: [
    'frame.number',
    'frame.time_relative',
    'dhcp.hw.mac_addr',
    'dhcp.option.dhcp',
    'dhcp.ip.your',
    'dhcp.option.requested_ip_address',
    'dhcp.option.hostname',
    'dhcp.option.dhcp_server_id',
  ],
  columns: ['frame', 'client', 'hostname', 'messages', 'server', 'address', 'outcome'],
  build(rows) {
    const out: Row[] = [];
    const open = new Map<string, Row>();
    for (const f of keyed(this.fields, rows)) {
      const mac = first(f.get('dhcp.hw.mac_addr'));
      const type = DHCP_TYPES[first(f.get('dhcp.option.dhcp'))] ?? first(f.get('dhcp.option.dhcp'));
      let ex = open.get(mac);
      // An exchange starts with DISCOVER, or with a REQUEST when none is open (a renewal).
      if (!ex || type === 'DISCOVER' || (type === 'REQUEST' && /ACK|NAK/.test(String(ex.outcome)))) {
        ex = {
          frame: Number(f.get('frame.number')),
          client: mac,
          hostname: '',
          messages: '',
          server: '',
          address: '',
          outcome: 'no answer',
        };
        open.set(mac, ex);
        out.push(ex);
      }
      ex.messages = [ex.messages, type].filter((x) => x !== '').join(' → ');
      if (first(f.get('dhcp.option.hostname')) !== '') ex.hostname = first(f.get('dhcp.option.hostname'));
      if (first(f.get('dhcp.option.dhcp_server_id')) !== '')
        ex.server = first(f.get('dhcp.option.dhcp_server_id'));
      const offered = first(f.get('dhcp.ip.your'));
      if (offered !== '' && offered !== '0.0.0.0') ex.address = offered;
      else if (ex.address === '' && first(f.get('dhcp.option.requested_ip_address')) !== '')
        ex.address = first(f.get('dhcp.option.requested_ip_address'));
      if (type === 'OFFER' && ex.outcome === 'no answer') ex.outcome = 'offered';
      if (type === 'ACK') ex.outcome = `leased ${String(ex.address)}`;
      if (type === 'NAK') ex.outcome = 'refused (NAK)';
    }
    return out;
  },
};

const icmp: FieldKind = {
  filter: 'icmp || icmpv6',
  fields: [
    'frame.number',
    'ip.src',
    'ip.dst',
    'ipv6.src',
    'ipv6.dst',
    'icmp.type',
    'icmp.code',
    'icmp.ident',
    'icmp.seq',
    'icmp.resp_to',
    'icmp.resptime',
    'icmpv6.type',
    'icmpv6.code',
    'icmpv6.echo.sequence_number',
    'icmpv6.resp_to',
    'icmpv6.resptime',
  ],
  columns: ['frame', 'from', 'to', 'message', 'sequence', 'outcome', 'rttMs'],
  build(rows) {
    const out: Row[] = [];
    const requests = new Map<string, Row>();
    for (const f of keyed(this.fields, rows)) {
      const v6 = first(f.get('icmpv6.type')) !== '';
      const type = first(f.get(v6 ? 'icmpv6.type' : 'icmp.type'));
      const frame = f.get('frame.number') ?? '';
      const from = first(f.get(v6 ? 'ipv6.src' : 'ip.src'));
      const to = first(f.get(v6 ? 'ipv6.dst' : 'ip.dst'));
      const seq = first(f.get(v6 ? 'icmpv6.echo.sequence_number' : 'icmp.seq'));
      const isRequest = v6 ? type === '128' : type === '8';
      const isReply = v6 ? type === '129' : type === '0';
      if (isRequest) {
        const row: Row = {
          frame: Number(frame),
          from,
          to,
          message: 'echo request',
          sequence: seq,
          outcome: 'no reply',
          rttMs: null,
        };
        requests.set(frame, row);
        out.push(row);
      } else if (isReply) {
        const req = requests.get(first(f.get(v6 ? 'icmpv6.resp_to' : 'icmp.resp_to')));
        if (req) {
          req.outcome = 'reply';
          req.rttMs = num(f.get(v6 ? 'icmpv6.resptime' : 'icmp.resptime'));
        } else
          out.push({
            frame: Number(frame),
            from,
            to,
            message: 'echo reply',
            sequence: seq,
            outcome: 'request not captured',
            rttMs: null,
          });
      } else {
        const code = first(f.get(v6 ? 'icmpv6.code' : 'icmp.code'));
        const name = v6 ? `ICMPv6 type ${type}` : (ICMP_TYPES[type] ?? `type ${type}`);
        out.push({
          frame: Number(frame),
          from,
          to,
          message: `${name} (code ${code})`,
          sequence: seq,
          outcome: '',
          rttMs: null,
        });
      }
    }
    return out;
  },
};

const KINDS: Record<Exclude<InspectKind, 'voip'>, FieldKind> = {
  http,
  dns,
  tls,
  tcp_health: tcpHealth,
  credentials,
  dhcp,
  icmp,
};

export function columnsOf(kind: InspectKind): readonly string[] {
  return kind === 'voip' ? VOIP_COLUMNS : KINDS[kind].columns;
}

export const VOIP_COLUMNS = [
  'kind',
  'id',
  'from',
  'to',
  'start',
  'end',
  'detail',
  'packets',
  'lost',
  'maxJitterMs',
  'meanJitterMs',
] as const;

/** Builds rows from `-T fields` output lines. Pure, for tests on recorded output. */
export function buildRows(
  kind: Exclude<InspectKind, 'voip'>,
  fieldsOutput: string,
  options: { reveal: boolean },
): Row[] {
  const lines = fieldsOutput.split('\n').filter((l) => l !== '');
  return KINDS[kind].build(
    lines.map((l) => l.split('\t')),
    options,
  );
}

/** Reads `-z rtp,streams` (one line per RTP stream). Pure. */
export function parseRtpStreams(text: string): Row[] {
  const rows: Row[] = [];
  for (const line of text.split('\n')) {
    const m = line.match(
      /^\s*([\d.]+)\s+([\d.]+)\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(0x[0-9A-Fa-f]+)\s+(.+?)\s+(\d+)\s+(-?\d+) \(([-\d.]+)%\)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*(.*)$/,
    );
    if (!m) continue;
    rows.push({
      kind: 'rtp',
      id: m[7] ?? '',
      from: `${m[3] ?? ''}:${m[4] ?? ''}`,
      to: `${m[5] ?? ''}:${m[6] ?? ''}`,
      start: Number(m[1]),
      end: Number(m[2]),
      detail: `${(m[8] ?? '').trim()}${(m[18] ?? '').trim() !== '' ? `, problem: ${(m[18] ?? '').trim()}` : ''}`,
      packets: Number(m[9]),
      lost: Number(m[10]),
      maxJitterMs: Number(m[17]),
      meanJitterMs: Number(m[16]),
    });
  }
  return rows;
}

export const SIP_FIELDS = [
  'frame.time_relative',
  'sip.Call-ID',
  'sip.Method',
  'sip.Status-Code',
  'sip.from.user',
  'sip.to.user',
  'sip.CSeq.method',
] as const;

/** SIP calls from per-message fields: one row per Call-ID with its INVITE's final answer. Pure. */
export function buildSipCalls(fieldsOutput: string): Row[] {
  const calls = new Map<string, Row>();
  for (const line of fieldsOutput.split('\n')) {
    if (line === '') continue;
    const [time, callId = '', method, status, from, to, cseqMethod] = line.split('\t').map((v) => first(v));
    let call = calls.get(callId);
    if (!call) {
      call = {
        kind: 'sip',
        id: callId,
        from: from ?? '',
        to: to ?? '',
        start: Number(time),
        end: Number(time),
        detail: '',
        packets: 0,
        lost: null,
        maxJitterMs: null,
        meanJitterMs: null,
      };
      calls.set(callId, call);
    }
    call.packets = Number(call.packets) + 1;
    call.end = Number(time);
    const steps = String(call.detail)
      .split(', ')
      .filter((x) => x !== '');
    if (method) steps.push(method);
    else if (status && cseqMethod) steps.push(`${status} (${cseqMethod})`);
    call.detail = steps.slice(0, 12).join(', ');
  }
  return [...calls.values()];
}

export interface InspectRequest {
  readonly file: string;
  readonly kind: InspectKind;
  readonly displayFilter: string | undefined;
  readonly keylogFile: string | undefined;
  readonly reveal: boolean;
  readonly live: boolean;
  readonly timeoutMs: number;
}

const MAX_OUTPUT = 256 * 1024 * 1024;

/** Runs tshark for a digest and returns its rows (all of them: the caller pages). */
export async function inspect(
  group: ProcessGroup,
  tools: WiresharkTools,
  req: InspectRequest,
  signal?: AbortSignal,
): Promise<{ rows: Row[]; warnings: string[] }> {
  const tshark = tools.require('tshark');
  const base = ['-r', req.file];
  if (req.keylogFile) base.push('-o', `tls.keylog_file:${req.keylogFile}`);
  const filterFor = (own: string): string => (req.displayFilter ? `(${own}) && (${req.displayFilter})` : own);
  const run = async (args: string[]): Promise<string> => {
    const { stdout, result } = await runCollect(group, {
      command: tshark,
      args: [...base, ...args],
      timeoutMs: req.timeoutMs,
      signal,
      maxBytes: MAX_OUTPUT,
    });
    if (result.aborted) throw abortError();
    const read = await readOutcome(group, tools, result.stderr, req.file, req.live, signal);
    if (read.other !== undefined && result.exitCode !== 0 && stdout === '')
      throw new UserError(`tshark failed: ${read.other}`);
    for (const w of read.warnings) warnings.add(w);
    if (result.stoppedEarly)
      warnings.add('tshark printed more than 256 MB; the digest covers what was read.');
    return stdout;
  };
  // A set: the two passes of voip report the same damage.
  const warnings = new Set<string>();
  const fieldArgs = (fields: readonly string[]): string[] => [
    '-T',
    'fields',
    '-E',
    'occurrence=a',
    '-E',
    `aggregator=${AGGREGATOR}`,
    ...fields.flatMap((f) => ['-e', f]),
  ];
  if (req.kind === 'voip') {
    const [sip, rtp] = await Promise.all([
      run(['-Y', filterFor('sip'), ...fieldArgs(SIP_FIELDS)]),
      run(['-q', ...(req.displayFilter ? ['-Y', req.displayFilter] : []), '-z', 'rtp,streams']),
    ]);
    return { rows: [...buildSipCalls(sip), ...parseRtpStreams(rtp)], warnings: [...warnings] };
  }
  const kind = KINDS[req.kind];
  const out = await run(['-Y', filterFor(kind.filter), ...fieldArgs(kind.fields)]);
  return { rows: buildRows(req.kind, out, { reveal: req.reveal }), warnings: [...warnings] };
}
