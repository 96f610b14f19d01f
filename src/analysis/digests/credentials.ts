// The credentials digest: cleartext logins, one row each, built from tshark's fields.
import { hideSecret, isSecretCommand } from '../redact.js';
import { all, first, keyed, fieldDigest } from './fields.js';
import type { FieldDigest, Row } from './fields.js';
import { column, count, tally } from './aggregate.js';

export const credentials: FieldDigest<'credentials'> = fieldDigest({
  kind: 'credentials',
  description: 'cleartext logins (FTP, Telnet, POP, IMAP, HTTP basic), secrets redacted.',
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
  aggregate(rows) {
    return `${count(rows.length, 'login')}; by protocol: ${tally(column(rows, 'protocol'))}; by server: ${tally(column(rows, 'server'))}`;
  },
  build(rows, { reveal }) {
    // The one redaction rule (redact.ts), which the packet listings, trees and streams follow too.
    const hide = (s: string): string => hideSecret(s, reveal);
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
        } else if (isSecretCommand(command)) {
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
});
