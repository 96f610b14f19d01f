// The smtp digest: one row per mail transaction attempt (MAIL FROM to the end of DATA, a reset or
// the end of the session), with the session's client, server and HELO/EHLO name, each recipient and
// every reply. tshark's SMTP dissector takes the commands after a pipelined DATA that was refused
// for message text, so a second attempt in the same session has no command fields: where a
// stream's replies outnumber the commands tshark saw, that stream's dialogue is read again from its
// reassembled payload (`-z follow,tcp,raw`), whose lines are the commands as the client sent them.
import { column, count, tally } from './aggregate.js';
import { all, first, keyed } from './fields.js';
import type { Digest, DigestReader, Row, StreamPayload } from './fields.js';

export const SMTP_FIELDS = [
  'frame.number',
  'tcp.stream',
  'ip.src',
  'ipv6.src',
  'tcp.srcport',
  'ip.dst',
  'ipv6.dst',
  'tcp.dstport',
  'smtp.rsp',
  'smtp.command_line',
  'smtp.response.code',
  'smtp.response',
  'smtp.eom',
  'smtp.auth.username',
  'smtp.auth.password',
  'smtp.auth.username_password',
] as const;

/** A server reply: its code, its text (a multi-line reply's lines joined) and, when known, its frame. */
export interface Reply {
  readonly code: string;
  readonly text: string;
  readonly frame: number | null;
}

/** What the client sent and what the server answered, each side in its own order. */
export interface Dialogue {
  /** The client's lines (CRLF-ended); message text after a 354 ends with a "." line. */
  readonly client: string;
  readonly replies: readonly Reply[];
  /**
   * Rebuilt from tshark's fields rather than the payload: message text and BDAT chunks are left
   * out, so a "." stands for the end of data and BDAT skips nothing.
   */
  readonly fromFields: boolean;
}

/** One SMTP session (TCP stream) as the field pass saw it. */
export interface SmtpStream {
  readonly stream: number;
  readonly firstFrame: number;
  client: string;
  server: string;
  /** Server packets in order, with the codes tshark read in each (a packet can hold several replies). */
  readonly replyFrames: { frame: number; code: string }[];
  /** The dialogue from the fields: complete unless tshark took commands for message text. */
  readonly dialogue: { client: string[]; replies: Reply[] };
  commands: number;
  ends: number;
}

const MAX_TEXT = 160;
const clip = (s: string): string => (s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT - 1)}…` : s);
/** tshark prints a line's CR LF as the characters \r\n. */
const unescape = (s: string): string => s.replace(/(\\r)?\\n$/, '').replace(/\\t/g, ' ');

/** Reads the field pass, one entry per TCP stream. Pure. */
export function smtpStreams(rows: readonly string[][]): SmtpStream[] {
  const streams = new Map<number, SmtpStream>();
  for (const f of keyed(SMTP_FIELDS, rows)) {
    const index = Number(first(f.get('tcp.stream')));
    const frame = Number(first(f.get('frame.number')));
    const src = `${first(f.get('ip.src')) || first(f.get('ipv6.src'))}:${first(f.get('tcp.srcport'))}`;
    const dst = `${first(f.get('ip.dst')) || first(f.get('ipv6.dst'))}:${first(f.get('tcp.dstport'))}`;
    let s = streams.get(index);
    if (!s) {
      s = {
        stream: index,
        firstFrame: frame,
        client: '',
        server: '',
        replyFrames: [],
        dialogue: { client: [], replies: [] },
        commands: 0,
        ends: 0,
      };
      streams.set(index, s);
    }
    if (first(f.get('smtp.rsp')) !== '') {
      [s.server, s.client] = [src, dst];
      const texts = all(f.get('smtp.response'));
      all(f.get('smtp.response.code')).forEach((code, i) => {
        s.replyFrames.push({ frame, code });
        const text = unescape(texts[i] ?? '').replace(/^\d{3}[ -]?/, '');
        s.dialogue.replies.push({ code, text: clip(text), frame });
      });
      continue;
    }
    if (s.client === '') [s.client, s.server] = [src, dst];
    const lines = all(f.get('smtp.command_line')).map(unescape);
    s.commands += lines.length;
    s.dialogue.client.push(...lines);
    const auth = ['smtp.auth.username', 'smtp.auth.password', 'smtp.auth.username_password'];
    if (lines.length === 0 && auth.some((name) => first(f.get(name)) !== '')) {
      // An AUTH exchange's answer to a 334 (its secret is never shown here).
      s.commands += 1;
      s.dialogue.client.push('(credentials)');
    }
    if (f.get('smtp.eom') !== undefined && f.get('smtp.eom') !== '') {
      s.ends += 1;
      s.dialogue.client.push('.');
    }
  }
  return [...streams.values()];
}

/**
 * Whether the field pass missed commands in this stream: every command, every answer to a 334 and
 * every end of data gets exactly one reply, and tshark reads every reply, so more replies than
 * those (plus the greeting) means commands it did not read.
 */
export function fieldsMissCommands(s: SmtpStream): boolean {
  const challenges = s.replyFrames.filter((r) => r.code === '334').length;
  return s.replyFrames.length > 1 + s.commands + s.ends + challenges;
}

/** A server's text as replies: "250-" lines continue, "250 " ends one. Pure. */
export function parseReplies(text: string): Reply[] {
  const replies: Reply[] = [];
  let lines: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line === '') continue;
    const m = /^(\d{3})([ -]?)(.*)$/.exec(line);
    if (!m) {
      replies.push({ code: '(unparsed)', text: clip(line), frame: null });
      continue;
    }
    lines.push((m[3] ?? '').trim());
    if (m[2] === '-') continue;
    replies.push({ code: m[1] ?? '', text: clip(lines.filter((l) => l !== '').join(' / ')), frame: null });
    lines = [];
  }
  return replies;
}

/** A followed stream as a dialogue: the client is the side that did not send the greeting. */
export function dialogueOfFollow(follow: StreamPayload, server: string): Dialogue {
  // Node 0 spoke first: the server (its greeting) unless the field pass says otherwise.
  const serverNode: 0 | 1 = follow.nodes[1] === server ? 1 : 0;
  const side = (from: 0 | 1): string =>
    Buffer.concat(follow.chunks.filter((c) => c.from === from).map((c) => c.bytes)).toString('latin1');
  return {
    client: side(serverNode === 0 ? 1 : 0),
    replies: parseReplies(side(serverNode)),
    fromFields: false,
  };
}

/** Gives the replies read from the payload the frames the field pass saw them in (same codes, same order). */
export function withFrames(
  replies: readonly Reply[],
  frames: readonly { frame: number; code: string }[],
): Reply[] {
  let at = 0;
  return replies.map((r) => {
    for (let k = at; k < frames.length && k < at + 4; k++) {
      if (frames[k]?.code === r.code) {
        at = k + 1;
        return { ...r, frame: frames[k]?.frame ?? null };
      }
    }
    return r;
  });
}

interface Recipient {
  readonly address: string;
  readonly reply: Reply | undefined;
}

interface Attempt {
  mailFrom: string;
  readonly recipients: Recipient[];
  readonly steps: string[];
  start: Reply | undefined;
  /** The reply that decided it: the end of data's, or the refusal that ended it. */
  decided: Reply | undefined;
  accepted: boolean;
  outcome: string;
}

export interface SmtpSession {
  readonly greeting: Reply | undefined;
  helo: string;
  auth: string;
  readonly attempts: Attempt[];
  /** How the session ended: QUIT, STARTTLS, or the capture's end. */
  end: string;
}

const ok = (r: Reply | undefined): boolean => r !== undefined && r.code.startsWith('2');
const said = (r: Reply | undefined): string =>
  r === undefined ? '(no reply captured)' : `${r.code}${r.text !== '' ? ` ${r.text}` : ''}`;
const at = (r: Reply | undefined): string => (r?.frame != null ? ` (frame ${r.frame})` : '');
/** "<a@x>" from "FROM:<a@x> SIZE=12" or "TO:<b@y>". */
const address = (param: string): string => {
  const m = /^(?:FROM|TO):\s*(<[^>]*>|\S+)/i.exec(param);
  return m?.[1] ?? (param.trim() || '(unparsed)');
};

/** Reads a dialogue into its attempts, pairing each command with its reply in order. Pure. */
export function readDialogue(d: Dialogue): SmtpSession {
  const replies = [...d.replies];
  let next = 0;
  const reply = (): Reply | undefined => replies[next++];
  const text = d.client;
  let pos = 0;
  const line = (): string | undefined => {
    if (pos >= text.length) return undefined;
    const end = text.indexOf('\n', pos);
    const raw = end === -1 ? text.slice(pos) : text.slice(pos, end);
    pos = end === -1 ? text.length : end + 1;
    return raw.replace(/\r$/, '');
  };
  const session: SmtpSession = {
    greeting: reply(),
    helo: '',
    auth: '',
    attempts: [],
    end: 'the capture ends',
  };
  let open: Attempt | undefined;
  const close = (outcome: string): void => {
    if (open && open.outcome === '') open.outcome = outcome;
    open = undefined;
  };
  const begin = (mailFrom: string): Attempt => {
    close('abandoned: a new MAIL FROM');
    open = {
      mailFrom,
      recipients: [],
      steps: [],
      start: undefined,
      decided: undefined,
      accepted: false,
      outcome: '',
    };
    session.attempts.push(open);
    return open;
  };
  const refuse = (a: Attempt, stage: string, r: Reply | undefined): void => {
    a.decided ??= r;
    if (a.outcome === '') a.outcome = `rejected at ${stage}: ${said(r)}${at(r)}`;
  };
  for (let l = line(); l !== undefined; l = line()) {
    if (l.trim() === '') continue;
    const space = l.indexOf(' ');
    const verb = (space === -1 ? l : l.slice(0, space)).toUpperCase();
    const param = space === -1 ? '' : l.slice(space + 1).trim();
    const r = reply();
    switch (verb) {
      case 'HELO':
      case 'EHLO':
        close('reset by a new HELO/EHLO');
        session.helo = `${param || '(none)'} (${verb} ${r?.code ?? 'no reply'})`;
        break;
      case 'MAIL': {
        const a = begin(address(param));
        a.start = r;
        a.steps.push(`MAIL ${said(r)}`);
        if (!ok(r)) refuse(a, 'MAIL FROM', r);
        break;
      }
      case 'RCPT': {
        const a = open ?? begin('(no MAIL FROM)');
        a.start ??= r;
        a.recipients.push({ address: address(param), reply: r });
        a.steps.push(`RCPT ${address(param)} ${said(r)}`);
        break;
      }
      case 'DATA':
      case 'BDAT': {
        const a = open ?? begin('(no MAIL FROM)');
        a.steps.push(`${verb} ${said(r)}`);
        if (verb === 'DATA' && r?.code === '354') {
          // The message text, up to its "." line.
          for (let m = line(); m !== undefined && m !== '.'; m = line());
          const done = reply();
          a.steps.push(`end of data ${said(done)}`);
          a.decided = done;
          a.accepted = ok(done);
          if (a.accepted) a.outcome = `accepted: ${said(done)}${at(done)}`;
          else refuse(a, 'the end of data', done);
          open = undefined;
        } else if (verb === 'BDAT') {
          const [size, last] = param.split(/\s+/);
          if (!d.fromFields) pos = Math.min(text.length, pos + Number(size ?? 0));
          if (!ok(r)) refuse(a, 'BDAT', r);
          else if (last?.toUpperCase() === 'LAST') {
            a.decided = r;
            a.accepted = true;
            a.outcome = `accepted: ${said(r)}${at(r)}`;
            open = undefined;
          }
        } else refuse(a, 'DATA', r);
        break;
      }
      case 'AUTH': {
        let last = r;
        // Each 334 challenge is answered by one client line (the credentials: never shown here).
        while (last?.code === '334' && line() !== undefined) last = reply();
        session.auth = `${param.split(/\s+/)[0] ?? ''}: ${said(last)}`;
        break;
      }
      case 'RSET':
        close('reset (RSET)');
        break;
      case 'QUIT':
        close('the client quit before the end of data');
        session.end = 'QUIT';
        break;
      case 'STARTTLS':
        if (r?.code === '220') {
          close('STARTTLS: the rest is encrypted');
          session.end = 'STARTTLS: the rest is encrypted';
          return session;
        }
        break;
      default:
        open?.steps.push(`${verb} ${said(r)}`);
    }
  }
  close(next > replies.length ? 'no reply captured: the capture ends' : 'the capture ends');
  return session;
}

export const SMTP_COLUMNS = [
  'stream',
  'attempt',
  'frame',
  'client',
  'server',
  'helo',
  'auth',
  'mailFrom',
  'rcptTo',
  'accepted',
  'outcome',
  'replies',
] as const;

/** Rows of one session: one per attempt, or one saying there was none. Pure. */
export function sessionRows(s: SmtpStream, session: SmtpSession, note: string): Row[] {
  const base = {
    stream: s.stream,
    client: s.client || '(unparsed)',
    server: s.server || '(unparsed)',
    helo: session.helo || '(none)',
    auth: session.auth || '(none)',
  };
  if (session.attempts.length === 0) {
    const g = session.greeting;
    const outcome =
      g === undefined
        ? `(unparsed): no reply read in stream ${s.stream}`
        : g.code !== '220'
          ? `refused at the greeting: ${said(g)}${at(g)}`
          : `no mail transaction; ended: ${session.end}`;
    return [
      {
        ...base,
        attempt: 0,
        frame: s.firstFrame,
        mailFrom: '(none)',
        rcptTo: '(none)',
        accepted: 'no',
        outcome: outcome + note,
        replies: `greeting ${said(g)}`,
      },
    ];
  }
  return session.attempts.map((a, i) => ({
    ...base,
    attempt: i + 1,
    frame: a.start?.frame ?? s.firstFrame,
    mailFrom: a.mailFrom,
    rcptTo:
      a.recipients
        .map((r) => `${r.address} ${ok(r.reply) ? (r.reply?.code ?? '') : said(r.reply)}`)
        .join('; ') || '(none)',
    accepted: a.accepted ? 'yes' : 'no',
    outcome: (a.outcome || 'the capture ends') + note,
    replies: a.steps.join('; '),
  }));
}

/** The smtp digest: a field pass, then the streams whose commands it missed, followed. */
export const smtp: Digest<'smtp'> = {
  kind: 'smtp',
  description:
    'one row per mail transaction attempt (MAIL FROM to the end of DATA; a session without one gets a row too; frame: the reply to MAIL FROM): client, server, HELO/EHLO, AUTH outcome (credentials never shown), MAIL FROM, each RCPT TO with its reply, accepted yes/no, the deciding reply with its frame, every reply; commands tshark missed are read from the reassembled stream.',
  columns: SMTP_COLUMNS,
  async collect(read: DigestReader) {
    const streams = smtpStreams(await read.fields('smtp', SMTP_FIELDS));
    const missed = streams.filter(fieldsMissCommands);
    const followed =
      missed.length > 0
        ? await read.tcpStreams(missed.map((s) => s.stream))
        : new Map<number, StreamPayload>();
    return streams.flatMap((s) => {
      const follow = missed.includes(s) ? followed.get(s.stream) : undefined;
      if (follow && follow.chunks.length > 0) {
        const d = dialogueOfFollow(follow, s.server);
        const session = readDialogue({ ...d, replies: withFrames(d.replies, s.replyFrames) });
        return sessionRows(s, session, '');
      }
      const session = readDialogue({
        client: s.dialogue.client.map((l) => `${l}\r\n`).join(''),
        replies: s.dialogue.replies,
        fromFields: true,
      });
      const note = missed.includes(s)
        ? ' (tshark missed commands in this stream and it could not be followed: attempts may be missing)'
        : '';
      return sessionRows(s, session, note);
    });
  },
  aggregate(rows) {
    const attempts = rows.filter((r) => r['attempt'] !== 0);
    const sessions = new Set(rows.map((r) => r['stream'])).size;
    const accepted = attempts.filter((r) => r['accepted'] === 'yes').length;
    const refusals = rows.flatMap((r) =>
      String(r['replies'])
        .split('; ')
        .map((step) => /^(greeting|end of data|[A-Z]+)(?: \S+)? ([45]\d\d)\b/.exec(step))
        .filter((m) => m !== null)
        .map((m) => `${m[1]} ${m[2]}`),
    );
    return `${count(sessions, 'session')}, ${count(attempts.length, 'mail attempt')}: ${accepted} accepted, ${attempts.length - accepted} not; refusals: ${tally(refusals)}; by server: ${tally(column(rows, 'server'))}`;
  },
};
