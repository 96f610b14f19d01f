// The http digest: HTTP requests and their responses, one row per transaction, built from tshark's
// fields. Interim responses (100 Continue) belong to their request's row. A request left without a
// response gets a second look at its TCP stream: tshark hands no segment it calls a retransmission
// or out-of-order to HTTP, and waits forever for a body whose segment the capture missed, so the
// second pass reads those streams with TCP sequence analysis and body reassembly off, where such a
// response shows (the way Wireshark's "follow" reads the bytes whatever the analysis says).
import { all, first, num, ms, keyed, fieldDigest } from './fields.js';
import type { DigestReader, FieldDigest, Row } from './fields.js';
import { column, count, tally, timing } from './aggregate.js';

const NO_RESPONSE = 'no response';
const NOT_CAPTURED = '(request not captured)';

/** The preferences of the second look: every segment reaches HTTP, and a header needs no body. */
export const SECOND_LOOK_PREFERENCES = ['tcp.analyze_sequence_numbers:FALSE', 'http.desegment_body:FALSE'];

const SECOND_LOOK_NOTE = (frame: Row[string] | undefined): string =>
  `response in frame ${String(frame)} read on a second look at the stream (tshark's first pass did not read it as HTTP: a segment it marked retransmission or out-of-order, or one the capture missed)`;

/** A 1xx status other than 101 (which ends HTTP on the connection, so is final). */
const isInterim = (code: string): boolean => /^1\d\d$/.test(code) && code !== '101';

/** "200 OK", or "100 Continue → 201 Created" with the interim responses first. */
const withInterim = (interim: readonly string[], status: string): string => [...interim, status].join(' → ');

/** The final status of a row's status ("201 Created" of "100 Continue → 201 Created"). */
const finalStatus = (s: Row[string] | undefined): string =>
  String(s ?? '')
    .split(' → ')
    .pop() ?? '';

const endpoint = (f: Map<string, string>, side: 'src' | 'dst'): string => {
  const v4 = first(f.get(`ip.${side}`));
  const host = v4 !== '' ? v4 : `[${first(f.get(`ipv6.${side}`))}]`;
  const port = first(f.get(`tcp.${side}port`)) || first(f.get(`udp.${side}port`));
  return `${host}:${port}`;
};

const base = fieldDigest({
  kind: 'http',
  description:
    'requests with TCP stream, client, server, host, URI, status (interim responses first: "100 Continue → 200 OK"), response time and frame, sizes (HTTP/1.x and HTTP/2).',
  filter: 'http.request || http.response || http2.headers.method || http2.headers.status',
  fields: [
    'frame.number',
    'frame.time_relative',
    'tcp.stream',
    'udp.stream',
    'ip.src',
    'ipv6.src',
    'ip.dst',
    'ipv6.dst',
    'tcp.srcport',
    'tcp.dstport',
    'udp.srcport',
    'udp.dstport',
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
  ],
  columns: [
    'frame',
    'stream',
    'client',
    'server',
    'version',
    'method',
    'host',
    'uri',
    'status',
    'responseMs',
    'requestBytes',
    'responseBytes',
    'responseFrame',
    'note',
  ],
  countsLoss: 'requests without a response',
  aggregate(rows) {
    const statusClass = (s: Row[string]): string => {
      const final = finalStatus(s);
      return /^\d{3}/.test(final) ? `${final[0] ?? ''}xx` : final;
    };
    const second = rows.filter((r) => String(r.note).includes('second look')).length;
    return [
      count(rows.length, 'request'),
      `by status: ${tally(rows.map((r) => statusClass(r.status ?? null)))}`,
      `by host: ${tally(column(rows, 'host'))}`,
      `response time ${timing(column(rows, 'responseMs'))}`,
      ...(second > 0 ? [`${count(second, 'response')} read on a second look at the stream (see note)`] : []),
    ].join('; ');
  },
  build(rows) {
    const out: Row[] = [];
    const byFrame = new Map<string, Row>();
    /** Interim responses by row, until the final one. */
    const interim = new Map<Row, string[]>();
    /** Interim responses met before their request: a request with a body is read where the body ends. */
    const early = new Map<string, { status: string; frame: string }[]>();
    const h2 = new Map<string, { row: Row; time: number }>();
    /** When each HTTP/1.x request was read, for a response tshark did not pair. */
    const sent = new Map<Row, number>();
    for (const f of keyed(this.fields, rows)) {
      const frame = f.get('frame.number') ?? '';
      const tcp = first(f.get('tcp.stream'));
      const stream = tcp !== '' ? tcp : first(f.get('udp.stream'));
      const overUdp = tcp === '' && stream !== '';
      const method = first(f.get('http.request.method'));
      if (method !== '') {
        const row: Row = {
          frame: Number(frame),
          stream: stream === '' ? null : Number(stream),
          client: endpoint(f, 'src'),
          server: endpoint(f, 'dst'),
          version: overUdp ? 'HTTP/1.x over UDP' : 'HTTP/1.x',
          method,
          host: first(f.get('http.host')) || '(no Host header)',
          uri: first(f.get('http.request.uri')) || `(unparsed, frame ${frame})`,
          status: NO_RESPONSE,
          responseMs: null,
          requestBytes: num(f.get('http.content_length')) ?? 0,
          responseBytes: null,
          responseFrame: null,
          note: '',
        };
        const before = early.get(stream);
        if (before) {
          interim.set(
            row,
            before.map((e) => e.status),
          );
          early.delete(stream);
        }
        byFrame.set(frame, row);
        sent.set(row, num(f.get('frame.time_relative')) ?? 0);
        out.push(row);
      }
      const code = first(f.get('http.response.code'));
      if (code !== '') {
        const paired = byFrame.get(first(f.get('http.request_in')));
        // tshark gives a final response that follows an interim one no request (the interim took
        // it): it answers the stream's oldest request still open.
        const request =
          paired ??
          (isInterim(code)
            ? undefined
            : out.find(
                (r) => sent.has(r) && String(r.stream) === stream && finalStatus(r.status) === NO_RESPONSE,
              ));
        const status = `${code} ${first(f.get('http.response.phrase'))}`.trim();
        if (isInterim(code)) {
          if (request) interim.set(request, [...(interim.get(request) ?? []), status]);
          else early.set(stream, [...(early.get(stream) ?? []), { status, frame }]);
        } else if (request) {
          request.status = withInterim(interim.get(request) ?? [], status);
          interim.delete(request);
          request.responseMs = paired
            ? ms(num(f.get('http.time')))
            : ms((num(f.get('frame.time_relative')) ?? 0) - (sent.get(request) ?? 0));
          request.responseBytes = num(f.get('http.content_length')) ?? 0;
          request.responseFrame = Number(frame);
        } else {
          out.push({
            frame: Number(frame),
            stream: stream === '' ? null : Number(stream),
            client: endpoint(f, 'dst'),
            server: endpoint(f, 'src'),
            version: overUdp ? 'HTTP/1.x over UDP' : 'HTTP/1.x',
            method: NOT_CAPTURED,
            host: '(request not captured)',
            uri: '(request not captured)',
            status,
            responseMs: null,
            requestBytes: null,
            responseBytes: num(f.get('http.content_length')) ?? 0,
            responseFrame: Number(frame),
            note: `the request of the response in frame ${frame} is not in the capture (or not in the packets the display filter kept)`,
          });
        }
      }
      // HTTP/2: HEADERS frames carry :method or :status; pair them by connection and stream id.
      const ids = all(f.get('http2.streamid'));
      const h2methods = all(f.get('http2.headers.method'));
      const h2status = all(f.get('http2.headers.status'));
      const time = num(f.get('frame.time_relative')) ?? 0;
      if (h2methods.length > 0) {
        const paths = all(f.get('http2.headers.path'));
        const hosts = all(f.get('http2.headers.authority'));
        h2methods.forEach((m, i) => {
          const row: Row = {
            frame: Number(frame),
            stream: stream === '' ? null : Number(stream),
            client: endpoint(f, 'src'),
            server: endpoint(f, 'dst'),
            version: 'HTTP/2',
            method: m,
            host: hosts[i] ?? '(no :authority)',
            uri: paths[i] ?? `(unparsed, frame ${frame})`,
            status: NO_RESPONSE,
            responseMs: null,
            requestBytes: null,
            responseBytes: null,
            responseFrame: null,
            note: '',
          };
          // Without a reliable per-frame stream id for each HEADERS, pair with the lowest open one.
          h2.set(`${stream}/${ids[i] ?? `?${frame}.${i}`}`, { row, time });
          out.push(row);
        });
      }
      for (const s of h2status) {
        const open = [...h2.entries()].find(
          ([key, v]) => key.startsWith(`${stream}/`) && v.row.status === NO_RESPONSE,
        );
        if (!open) continue;
        open[1].row.status = s;
        open[1].row.responseMs = ms(time - open[1].time);
        open[1].row.responseFrame = Number(frame);
        h2.delete(open[0]);
      }
    }
    settleInterim(out, interim, early);
    return out;
  },
});

/**
 * Interim responses left at the end: those of a request that got no final response, and those
 * met before a request that never came (the one they answer is then the stream's last open one).
 */
function settleInterim(
  out: Row[],
  interim: Map<Row, string[]>,
  early: Map<string, { status: string; frame: string }[]>,
): void {
  for (const [row, statuses] of interim) row.status = withInterim(statuses, NO_RESPONSE);
  for (const [stream, statuses] of early) {
    const open = out
      .filter((r) => String(r.stream) === stream && finalStatus(r.status) === NO_RESPONSE)
      .pop();
    if (open) {
      open.status = withInterim(
        statuses.map((s) => s.status),
        NO_RESPONSE,
      );
      continue;
    }
    for (const s of statuses)
      out.push({
        frame: Number(s.frame),
        stream: stream === '' ? null : Number(stream),
        client: '(request not captured)',
        server: '(request not captured)',
        version: 'HTTP/1.x',
        method: NOT_CAPTURED,
        host: '(request not captured)',
        uri: '(request not captured)',
        status: withInterim([s.status], NO_RESPONSE),
        responseMs: null,
        requestBytes: null,
        responseBytes: null,
        responseFrame: Number(s.frame),
        note: `an interim response in frame ${s.frame} whose request is not in the capture`,
      });
  }
}

/**
 * Fills the rows left without a response from the second look's rows: the k-th request of a stream
 * there is the next request of that stream here with the same method and URI (a retransmitted
 * request may show twice there, and a request with a body is read at its first segment there).
 */
export function mergeSecondLook(rows: readonly Row[], second: readonly Row[]): void {
  const byStream = new Map<string, Row[]>();
  for (const r of rows) byStream.set(String(r.stream), [...(byStream.get(String(r.stream)) ?? []), r]);
  const cursor = new Map<string, number>();
  for (const s of second) {
    if (s.method === NOT_CAPTURED || s.version === 'HTTP/2') continue;
    const stream = String(s.stream);
    const mine = byStream.get(stream) ?? [];
    const from = cursor.get(stream) ?? 0;
    const i = mine.findIndex((r, at) => at >= from && r.method === s.method && r.uri === s.uri);
    if (i < 0) continue;
    cursor.set(stream, i + 1);
    const row = mine[i];
    if (!row || finalStatus(row.status) !== NO_RESPONSE || finalStatus(s.status) === NO_RESPONSE) continue;
    const interim = String(row.status).split(' → ').slice(0, -1);
    const theirs = String(s.status).split(' → ');
    row.status = withInterim(
      interim.length > 0 ? interim : theirs.slice(0, -1),
      theirs[theirs.length - 1] ?? '',
    );
    row.responseMs = s.responseMs ?? null;
    row.responseBytes = s.responseBytes ?? null;
    row.responseFrame = s.responseFrame ?? null;
    row.note = SECOND_LOOK_NOTE(s.responseFrame);
  }
}

export const http: FieldDigest<'http'> = {
  ...base,
  async collect(read: DigestReader, options) {
    const rows = this.build(await read.fields(this.filter, this.fields), options);
    const open = new Set(
      rows
        .filter((r) => r.version === 'HTTP/1.x' && r.stream !== null && finalStatus(r.status) === NO_RESPONSE)
        .map((r) => String(r.stream)),
    );
    if (open.size === 0) return rows;
    const second = await read.fields(
      `(http.request || http.response) && tcp.stream in {${[...open].join(', ')}}`,
      this.fields,
      {
        preferences: SECOND_LOOK_PREFERENCES,
      },
    );
    mergeSecondLook(rows, this.build(second, options));
    return rows;
  },
};
