// The ftp digest: what an FTP session did, one row per login, transfer or file command with the
// reply that settled it. tshark pairs nothing here: commands and replies are paired in order on each
// control connection, and a data connection (tshark's ftp-data, set up by a PASV/EPSV reply or a
// PORT/EPRT command: `ftp-data.setup-frame`) belongs to the first transfer command after its set-up
// (tshark's own `ftp-data.command` names the command before the connection opened, often TYPE).
// Passwords are redacted unless the call says reveal.
import { hideSecret } from '../redact.js';
import { count, tally } from './aggregate.js';
import { all, first, keyed, fieldDigest } from './fields.js';
import type { FieldDigest, Row } from './fields.js';

const TRANSFERS: Record<string, 'upload' | 'download' | 'listing'> = {
  RETR: 'download',
  STOR: 'upload',
  STOU: 'upload',
  APPE: 'upload',
  LIST: 'listing',
  NLST: 'listing',
  MLSD: 'listing',
};

/** Commands that only set a session up: a row only when they fail. */
const PLUMBING = new Set(
  'PASV EPSV LPSV PORT EPRT LPRT TYPE SYST FEAT PWD XPWD NOOP QUIT OPTS MODE STRU SIZE MDTM REST ALLO CLNT HELP STAT PBSZ PROT'.split(
    ' ',
  ),
);

export const FTP_COLUMNS = [
  'frame',
  'session',
  'client',
  'server',
  'user',
  'command',
  'argument',
  'direction',
  'bytes',
  'reply',
  'ok',
] as const;

interface Pending {
  readonly row: Row;
  readonly command: string;
  preliminary: string;
}

interface Session {
  readonly pending: Pending[];
  user: string;
  /** The login row of a USER answered 331, which its PASS settles. */
  login: Row | undefined;
  greeted: boolean;
  /** Transfer rows in order, with the frame of their command, for the data connections to find. */
  readonly transfers: { frame: number; row: Row }[];
}

const joinPath = (cwd: string, arg: string): string =>
  arg.startsWith('/') || cwd === '' ? arg || cwd : `${cwd.replace(/\/$/, '')}/${arg}`;

export const ftp: FieldDigest<'ftp'> = fieldDigest({
  kind: 'ftp',
  description:
    'one row per FTP login (password redacted unless reveal), transfer (RETR/STOR/LIST...: file, direction, bytes of its data connection) and file command (CWD, DELE, MKD, ...), with the reply that settled it; set-up commands (PASV, TYPE, SIZE, ...) only when they fail.',
  filter: 'ftp || ftp-data',
  fields: [
    'frame.number',
    'tcp.stream',
    'ip.src',
    'ipv6.src',
    'ip.dst',
    'ipv6.dst',
    'ftp.request.command',
    'ftp.request.arg',
    'ftp.response.code',
    'ftp.response.arg',
    'ftp.current-working-directory',
    'ftp-data.setup-frame',
    'tcp.len',
    'tcp.analysis.retransmission',
  ],
  columns: FTP_COLUMNS,
  aggregate(rows) {
    const logins = rows.filter((r) => r['command'] === 'login');
    const failedLogins = logins.filter((r) => r['ok'] !== 'yes').length;
    // Transfers that did not fail: a transfer the capture saw no final reply for still moved its bytes.
    const moved = (direction: string): string => {
      const these = rows.filter((r) => r['direction'] === direction && r['ok'] !== 'no');
      const bytes = these.reduce((sum, r) => sum + (typeof r['bytes'] === 'number' ? r['bytes'] : 0), 0);
      return `${count(these.length, direction)} (${bytes} bytes)`;
    };
    const failures = rows
      .filter((r) => r['ok'] === 'no')
      .map((r) => `${String(r['command'])} ${String(r['reply']).split(' ')[0] ?? ''}`);
    const unanswered = rows.filter((r) => r['ok'] === 'no reply').length;
    const sessions = new Set(rows.map((r) => r['session'])).size;
    return `${count(sessions, 'session')}; ${count(logins.length, 'login')} (${failedLogins} failed; users: ${tally(logins.map((r) => r['user']))}); ${moved('upload')}, ${moved('download')}, ${moved('listing')}; failures: ${tally(failures)}; without a final reply: ${unanswered}`;
  },
  build(rows, { reveal }) {
    const hide = (s: string): string => hideSecret(s, reveal);
    const out: Row[] = [];
    const sessions = new Map<string, Session>();
    const controlOf = new Map<number, Session>();
    const dataBytes = new Map<string, { setup: number; bytes: number }>();
    for (const f of keyed(this.fields, rows)) {
      const frame = Number(first(f.get('frame.number')));
      const stream = first(f.get('tcp.stream'));
      const src = first(f.get('ip.src')) || first(f.get('ipv6.src'));
      const dst = first(f.get('ip.dst')) || first(f.get('ipv6.dst'));
      const setup = first(f.get('ftp-data.setup-frame'));
      if (setup !== '') {
        // Retransmitted segments would count their bytes twice.
        if (first(f.get('tcp.analysis.retransmission')) !== '') continue;
        const d = dataBytes.get(stream) ?? { setup: Number(setup), bytes: 0 };
        d.bytes += Number(first(f.get('tcp.len'))) || 0;
        dataBytes.set(stream, d);
        continue;
      }
      let s = sessions.get(stream);
      if (!s) {
        s = { pending: [], user: '', login: undefined, greeted: false, transfers: [] };
        sessions.set(stream, s);
      }
      controlOf.set(frame, s);
      const commands = all(f.get('ftp.request.command'));
      const args = all(f.get('ftp.request.arg'));
      const cwd = first(f.get('ftp.current-working-directory'));
      commands.forEach((raw, i) => {
        const command = raw.toUpperCase();
        const arg = args.length === commands.length ? (args[i] ?? '') : i === 0 ? (args[0] ?? '') : '';
        const base = { frame, session: Number(stream), client: src, server: dst };
        const direction = TRANSFERS[command];
        if (command === 'USER') s.user = arg;
        if (command === 'PASS') {
          // The login row the USER opened, or one of its own when the USER was not captured.
          const row = s.login ?? {
            ...base,
            user: s.user || '(unknown)',
            command: 'login',
            argument: '',
            direction: null,
            bytes: null,
            reply: '(no reply captured)',
            ok: 'no reply',
          };
          if (!s.login) out.push(row);
          s.login = undefined;
          row['argument'] = `password ${hide(arg)}`;
          s.pending.push({ row, command, preliminary: '' });
          return;
        }
        const row: Row = {
          ...base,
          user: command === 'USER' ? arg : s.user || '(not logged in)',
          command: command === 'USER' ? 'login' : command,
          argument:
            command === 'USER'
              ? '(no password sent)'
              : direction !== undefined || !PLUMBING.has(command)
                ? joinPath(cwd, arg) || '(none)'
                : arg || '(none)',
          direction: direction ?? null,
          bytes: null,
          reply: '(no reply captured)',
          ok: 'no reply',
        };
        s.pending.push({ row, command, preliminary: '' });
        if (command === 'USER') s.login = row;
        if (!PLUMBING.has(command)) out.push(row);
        if (direction !== undefined) s.transfers.push({ frame, row });
      });
      const texts = all(f.get('ftp.response.arg'));
      all(f.get('ftp.response.code')).forEach((code, i) => {
        const reply = `${code} ${texts[i] ?? ''}`.trim();
        // A greeting is 120, 220 or 421 (RFC 959); another reply first: the capture began mid-session.
        if (!s.greeted && s.pending.length === 0 && ['120', '220', '421'].includes(code)) {
          s.greeted = true;
          if (code === '421')
            out.push({
              frame,
              session: Number(stream),
              client: dst,
              server: src,
              user: '(not logged in)',
              command: 'connect',
              argument: '(none)',
              direction: null,
              bytes: null,
              reply,
              ok: 'no',
            });
          return;
        }
        s.greeted = true;
        const p = s.pending[0];
        if (!p) return;
        if (code.startsWith('1')) {
          p.preliminary = reply;
          return;
        }
        s.pending.shift();
        // A USER answered 331 waits for the PASS; any other answer settles the login.
        if (p.command === 'USER' && code === '331') return;
        if (p.command === 'USER') s.login = undefined;
        p.row['reply'] = p.preliminary !== '' ? `${reply} (after ${p.preliminary})` : reply;
        p.row['ok'] = code.startsWith('2') ? 'yes' : 'no';
        if (PLUMBING.has(p.command) && p.row['ok'] !== 'yes') out.push(p.row);
      });
    }
    // Each data connection's bytes go to the first transfer after its set-up on the same control connection.
    const claimed = new Set<Row>();
    for (const d of [...dataBytes.values()].sort((a, b) => a.setup - b.setup)) {
      const s = controlOf.get(d.setup);
      const t = s?.transfers.find((x) => x.frame > d.setup && !claimed.has(x.row));
      if (!t) continue;
      claimed.add(t.row);
      t.row['bytes'] = d.bytes;
    }
    for (const row of out) {
      if (row['direction'] === null || row['bytes'] !== null) continue;
      row['bytes'] =
        row['ok'] === 'yes'
          ? '(data connection not found: not captured, or not dissected as ftp-data)'
          : '(none)';
    }
    return out.sort((a, b) => Number(a['frame']) - Number(b['frame']));
  },
});
