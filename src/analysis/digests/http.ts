// The http digest: HTTP requests and their responses, one row each, built from tshark's fields.
import { all, first, num, ms, keyed, fieldDigest } from './fields.js';
import type { FieldDigest, Row } from './fields.js';
import { column, count, tally, timing } from './aggregate.js';

export const http: FieldDigest<'http'> = fieldDigest({
  kind: 'http',
  description: 'requests with host, URI, status, response time, sizes (HTTP/1.x and HTTP/2).',
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
  aggregate(rows) {
    const statusClass = (s: Row[string]): string =>
      typeof s === 'string' && /^\d{3}/.test(s) ? `${s[0]}xx` : s === null ? 'no response' : String(s);
    return `${count(rows.length, 'request')}; by status: ${tally(rows.map((r) => statusClass(r.status ?? null)))}; by host: ${tally(column(rows, 'host'))}; response time ${timing(column(rows, 'responseMs'))}`;
  },
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
});
