// The smb digest (SMB2/3): one row per tree connect, per file open (with its reads, writes and
// close), per failed request that belongs to neither, and per connection whose messages are
// encrypted or unreadable. Requests pair with their responses by connection and message id, as the
// protocol does; a request without its response and a response without its request say so.
import { column, count, tally } from './aggregate.js';
import { endFields, ends } from './endpoints.js';
import { all, first, keyed, fieldDigest } from './fields.js';
import type { FieldDigest, Row } from './fields.js';
import { NT_STATUS, SMB2_COMMANDS } from './smb-codes.js';

/** The name of an NT status as tshark prints it (0xc0000034), or the number when it is not a common one. */
export function ntStatus(code: string): string {
  return NT_STATUS[code.toLowerCase()] ?? code;
}

/** Statuses that are part of a normal exchange, not a failure, though their class says error or warning. */
const NORMAL = new Set([
  '0x00000000', // STATUS_SUCCESS
  '0x00000103', // STATUS_PENDING: an interim answer; the final one follows with the same message id
  '0xc0000016', // STATUS_MORE_PROCESSING_REQUIRED: the next leg of an authentication
  '0x80000005', // STATUS_BUFFER_OVERFLOW: more data than the buffer, read on
  '0x80000006', // STATUS_NO_MORE_FILES: the end of a directory listing
  '0xc0000011', // STATUS_END_OF_FILE: a read at the end of a file
]);

const isFailure = (status: string): boolean => status !== '' && !NORMAL.has(status.toLowerCase());

/** CREATE's Create Action (MS-SMB2 2.2.14): what the server did with the name. */
const CREATE_ACTIONS: Record<string, string> = {
  '0': 'superseded',
  '1': 'opened',
  '2': 'created',
  '3': 'overwritten',
};

const [TREE_CONNECT, CREATE, CLOSE, READ, WRITE] = ['3', '5', '6', '8', '9'];
const PENDING = '0x00000103';
const ZERO_FID = '00000000-0000-0000-0000-000000000000';
const SMB3_TRANSFORM = '0xfd534d42';
/** Rows that stand for a connection's frames the digest could not pair or read. */
const HIDDEN_OPS = new Set(['encrypted', '(unparsed)', '(request not captured)']);
/** A cell that does not apply to the row's operation. */
const NA = '-';

/** One SMB2 message of a frame (a frame may carry several, compounded). */
interface Message {
  frame: number;
  stream: string;
  from: string;
  to: string;
  cmd: string;
  response: boolean;
  status: string;
  msgId: string;
  user: string;
  share: string;
  filename: string;
  fid: string;
  action: string;
  bytes: number | null;
}

/** The messages of one frame's fields. Body fields go to the message whose command carries them. */
function messagesOf(f: Map<string, string>): Message[] {
  const { from, to } = ends(f, 'tcp');
  const cmds = all(f.get('smb2.cmd'));
  const responses = all(f.get('smb2.flags.response'));
  const statuses = all(f.get('smb2.nt_status'));
  const ids = all(f.get('smb2.msg_id'));
  const trees = all(f.get('smb2.tree'));
  const users = all(f.get('smb2.acct'));
  const names = all(f.get('smb2.filename'));
  // Compounded requests on one file share its id; a CREATE response brings a new one.
  const fid = all(f.get('smb2.fid')).find((x) => x !== ZERO_FID) ?? '';
  // A file read's data length, or for a named pipe (IPC$) the length of the blob read.
  const reads = all(f.get('smb2.read_length'));
  if (reads.length === 0) reads.push(...all(f.get('smb2.olb.length')));
  const writes = all(f.get('smb2.write.count'));
  const perMessage = (values: string[], i: number): string =>
    (values.length === cmds.length ? values[i] : values[0]) ?? '';
  let nameAt = 0;
  let readAt = 0;
  let writeAt = 0;
  return cmds.map((cmd, i) => {
    const response = responses[i] === '1' || responses[i] === 'True';
    let bytes: number | null = null;
    if (response && cmd === READ) bytes = Number(reads[readAt++] ?? NaN);
    if (response && cmd === WRITE) bytes = Number(writes[writeAt++] ?? NaN);
    return {
      frame: Number(f.get('frame.number')),
      stream: first(f.get('tcp.stream')),
      from,
      to,
      cmd,
      response,
      status: response ? perMessage(statuses, i) : '',
      msgId: ids[i] ?? '',
      user: perMessage(users, i),
      share: perMessage(trees, i),
      filename: cmd === CREATE && !response ? (names[nameAt++] ?? '') : '',
      fid,
      action: cmd === CREATE && response ? first(f.get('smb2.create.action')) : '',
      bytes: bytes !== null && Number.isFinite(bytes) ? bytes : null,
    };
  });
}

const commandName = (cmd: string): string => SMB2_COMMANDS[cmd] ?? `command ${cmd}`;
const opName = (cmd: string): string =>
  cmd === CREATE ? 'open' : commandName(cmd).toLowerCase().replace(/_/g, ' ');

export const smb: FieldDigest<'smb'> = fieldDigest({
  kind: 'smb',
  description:
    'SMB2/3: tree connects (share, status), file opens (name, NT status, reads and writes with bytes, close), other failed requests with their NT status, encrypted sessions.',
  filter: 'smb2',
  fields: [
    'frame.number',
    'tcp.stream',
    ...endFields('tcp'),
    'smb2.protocol_id',
    'smb2.cmd',
    'smb2.flags.response',
    'smb2.nt_status',
    'smb2.msg_id',
    'smb2.sesid',
    'smb2.acct',
    'smb2.tree',
    'smb2.filename',
    'smb2.fid',
    'smb2.create.action',
    'smb2.read_length',
    'smb2.olb.length',
    'smb2.write.count',
  ],
  columns: [
    'frame',
    'client',
    'server',
    'user',
    'op',
    'share',
    'file',
    'status',
    'reads',
    'readBytes',
    'writes',
    'writeBytes',
    'detail',
  ],
  aggregate(rows) {
    const answered = rows.filter((r) => !HIDDEN_OPS.has(String(r.op)));
    const failed = answered.filter((r) => r.status !== 'STATUS_SUCCESS');
    const sum = (c: string): number => rows.reduce((a, r) => a + (typeof r[c] === 'number' ? r[c] : 0), 0);
    const ops = (op: string): number => rows.filter((r) => r.op === op).length;
    const hidden = rows.filter((r) => HIDDEN_OPS.has(String(r.op)));
    return [
      `${count(ops('open'), 'file open')}, ${count(ops('tree connect'), 'tree connect')}`,
      `not successful ${failed.length}${failed.length > 0 ? ` (${tally(column(failed, 'status'))})` : ''}`,
      `read ${sum('readBytes')} bytes, written ${sum('writeBytes')} bytes`,
      `shares: ${tally(column(answered, 'share'))}`,
      ...(hidden.length > 0
        ? [`not read: ${tally(column(hidden, 'op'))} (connections; see their rows)`]
        : []),
    ].join('; ');
  },
  build(rows) {
    const out: Row[] = [];
    // Requests waiting for their response, by connection and message id.
    const pending = new Map<string, Message>();
    // Open files by connection and file id; what happened to them goes into their detail.
    const files = new Map<string, Row>();
    const note = (row: Row, text: string): void => {
      row.detail = row.detail === '' ? text : `${String(row.detail)}; ${text}`;
    };
    // Frames that hold no readable message, one row per connection and kind.
    const hidden = new Map<string, { row: Row; frames: number; what: string }>();
    const rowFor = (m: Message, extra: Partial<Row>): Row => ({
      frame: m.frame,
      client: m.response ? m.to : m.from,
      server: m.response ? m.from : m.to,
      user: m.user || '(unknown)',
      op: opName(m.cmd),
      share: m.share || '(unknown)',
      file: NA,
      status: '',
      reads: NA,
      readBytes: NA,
      writes: NA,
      writeBytes: NA,
      detail: '',
      ...extra,
    });

    const unreadable = (f: Map<string, string>, unpaired = false): void => {
      // An SMB3 transform header hides the message; otherwise tshark could not read it.
      const encrypted = all(f.get('smb2.protocol_id')).includes(SMB3_TRANSFORM);
      const op = unpaired ? '(request not captured)' : encrypted ? 'encrypted' : '(unparsed)';
      const key = `${op}/${first(f.get('tcp.stream'))}`;
      const seen = hidden.get(key);
      if (seen) {
        seen.frames++;
        return;
      }
      const { from, to } = ends(f, 'tcp');
      const row: Row = {
        frame: Number(f.get('frame.number')),
        // Which end is the client is unknown here: the ends as this packet has them.
        client: from,
        server: to,
        user: first(f.get('smb2.acct')) || '(unknown)',
        op,
        share: '(unknown)',
        file: '(unknown)',
        status: unpaired ? 'STATUS_SUCCESS' : encrypted ? '(encrypted)' : '(unparsed)',
        reads: NA,
        readBytes: NA,
        writes: NA,
        writeBytes: NA,
        detail: '',
      };
      hidden.set(key, {
        row,
        frames: 1,
        what: unpaired
          ? 'with successful responses whose requests the capture missed (it started late?)'
          : encrypted
            ? 'encrypted with SMB3 (no session key: the operations inside are unknown)'
            : 'tshark could not read as SMB2 messages',
      });
      out.push(row);
    };

    const answer = (req: Message | undefined, res: Message, f: Map<string, string>): void => {
      const status = ntStatus(res.status);
      const from = req ?? res;
      const where = req ? '' : `response frame ${res.frame}, its request not captured`;
      if (res.cmd === TREE_CONNECT) {
        out.push(rowFor(from, { share: req?.share || '(request not captured)', status, detail: where }));
        return;
      }
      if (res.cmd === CREATE) {
        const ok = !isFailure(res.status);
        const row = rowFor(from, {
          file: req ? req.filename || '(the share itself)' : '(request not captured)',
          status,
          reads: 0,
          readBytes: 0,
          writes: 0,
          writeBytes: 0,
          detail: [ok ? (CREATE_ACTIONS[res.action] ?? '') : '', where].filter((x) => x !== '').join(', '),
        });
        out.push(row);
        if (ok && res.fid !== '') files.set(`${res.stream}/${res.fid}`, row);
        return;
      }
      const fileKey = `${from.stream}/${from.fid}`;
      const file = files.get(fileKey);
      if (file && !isFailure(res.status)) {
        const add = (c: string, n: number): void => {
          file[c] = Number(file[c]) + n;
        };
        if (res.cmd === READ) {
          add('reads', 1);
          add('readBytes', res.bytes ?? 0);
        } else if (res.cmd === WRITE) {
          add('writes', 1);
          add('writeBytes', res.bytes ?? 0);
        } else if (res.cmd === CLOSE) {
          note(file, `closed frame ${res.frame}`);
          files.delete(fileKey);
        }
        return;
      }
      if (file) {
        note(file, `${commandName(res.cmd)} frame ${res.frame}: ${status}`);
        return;
      }
      if (!isFailure(res.status)) {
        // The SMB2 answer to a client's SMB1 multi-protocol negotiate has no SMB2 request.
        if (!req && !(res.cmd === '0' && res.msgId === '0')) unreadable(f, true);
        return;
      }
      // A failure outside any open file, with its request or without.
      out.push(
        rowFor(from, {
          status,
          detail: where || `answered in frame ${res.frame}`,
        }),
      );
    };

    for (const f of keyed(this.fields, rows)) {
      const messages = messagesOf(f);
      if (messages.length === 0) unreadable(f);
      for (const m of messages) {
        const key = `${m.stream}/${m.msgId}`;
        if (!m.response) {
          pending.set(key, m);
          continue;
        }
        // An interim answer: the final one comes later under the same message id.
        if (m.status.toLowerCase() === PENDING) continue;
        const req = pending.get(key);
        pending.delete(key);
        answer(req, m, f);
      }
    }
    for (const req of pending.values()) {
      const file = files.get(`${req.stream}/${req.fid}`);
      const text = `${commandName(req.cmd)} frame ${req.frame}: no response in the capture`;
      if (file && req.cmd !== CREATE) note(file, text);
      else
        out.push(
          rowFor(req, {
            file: req.cmd === CREATE ? req.filename || '(the share itself)' : NA,
            status: '(no response)',
            detail: text,
          }),
        );
    }
    for (const row of files.values()) note(row, 'not closed in the capture');
    for (const { row, frames, what } of hidden.values())
      row.detail = `${count(frames, 'frame')} ${what}, the first is frame ${String(row.frame)}`;
    for (const row of out) if (row.detail === '') row.detail = NA;
    return out;
  },
});
