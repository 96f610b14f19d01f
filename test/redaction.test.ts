// One redaction rule: the passwords the credentials digest redacts are redacted in every answer
// that can print them (analyze_pcap_file in each format, get_packet_details, follow_stream) unless
// the call says reveal. Logins of FTP, POP, IMAP, SMTP AUTH and HTTP basic are made here on
// loopback by scripted servers and clients; the test knows each secret it sent, and checks each
// answer for it, in clear and in the base64 the protocol carried it in.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { captureLoopback, captureUnavailable, requireCapture, tempDir } from './helpers/loopback-capture.js';
import { useServer } from './helpers/in-process.js';
import { tsharkFields } from './helpers/tshark.js';
import {
  redactCommandLine,
  redactLine,
  redactTree,
  StreamRedactor,
  fieldRedaction,
} from '../src/analysis/redact.js';

// This file's loopback addresses, in 127.83.20.0/24.
const SERVER = '127.83.20.21';
const CLIENT = '127.83.20.22';
const b64 = (s: string): string => Buffer.from(s).toString('base64');

const SECRETS = {
  ftp: 's3cretFTP',
  pop: 's3cretPOP',
  imap: 's3cretIMAP',
  smtpPlain: b64('\0dave\0s3cretSMTP'),
  smtpLogin: b64('s3cretLOGIN'),
  http: 's3cretHTTP',
  httpHeader: b64('bob:s3cretHTTP'),
};

/** A line server: its banner, then a reply to each line the client sends. */
async function lineServer(
  port: number,
  banner: string,
  reply: (line: string) => string,
): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.write(`${banner}\r\n`);
    let buffered = '';
    socket.on('data', (data) => {
      buffered += data.toString('latin1');
      for (let end = buffered.indexOf('\r\n'); end !== -1; end = buffered.indexOf('\r\n')) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        socket.write(`${reply(line)}\r\n`);
        if (/^(QUIT|\S+ LOGOUT)/i.test(line)) socket.end();
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(port, SERVER, resolve));
  return server;
}

/** A client that waits for the banner, then sends each line and waits for its reply. */
async function converse(port: number, lines: readonly string[]): Promise<void> {
  const socket = net.connect({ port, host: SERVER, localAddress: CLIENT });
  const replies: string[] = [];
  let waiting: (() => void) | undefined;
  socket.on('data', (d) => {
    replies.push(d.toString('latin1'));
    waiting?.();
  });
  const reply = (): Promise<void> =>
    replies.length > 0
      ? Promise.resolve(void replies.shift())
      : new Promise((resolve) => {
          waiting = () => {
            waiting = undefined;
            replies.shift();
            resolve();
          };
        });
  await reply();
  for (const line of lines) {
    socket.write(`${line}\r\n`);
    await reply();
  }
  socket.destroy();
}

/** The password typed at the Telnet server's prompt, a character a packet. */
const TELNET_PASSWORD = 'tel5ecret';

/** A Telnet-like server: "login: ", then "Password: ", then a prompt; the client types a character a packet. */
async function telnetLogin(): Promise<void> {
  const server = net.createServer((socket) => {
    const prompts = ['\r\nPassword: ', '\r\n$ ', '\r\nbye\r\n'];
    socket.write('login: ');
    socket.on('data', (d) => {
      if (d.toString().includes('\n')) socket.write(prompts.shift() ?? '');
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(23, SERVER, resolve));
  const client = net.connect({ port: 23, host: SERVER, localAddress: CLIENT });
  const prompt = (): Promise<unknown> => new Promise((resolve) => client.once('data', resolve));
  try {
    await prompt();
    for (const line of ['eve', TELNET_PASSWORD, 'exit']) {
      for (const ch of line) {
        client.write(ch);
        await delay(15);
      }
      client.write('\r\n');
      await prompt();
    }
  } finally {
    client.destroy();
    server.close();
  }
}

async function logins(): Promise<void> {
  const servers = [
    await lineServer(21, '220 ftp ready', (l) =>
      l.startsWith('USER') ? '331 password?' : l.startsWith('PASS') ? '230 in' : '221 bye',
    ),
    await lineServer(110, '+OK pop ready', () => '+OK'),
    await lineServer(143, '* OK imap ready', (l) => `${l.split(' ')[0] ?? '*'} OK done`),
    await lineServer(25, '220 smtp ready', (l) =>
      /^AUTH LOGIN/i.test(l)
        ? '334 VXNlcm5hbWU6'
        : l === b64('dave')
          ? '334 UGFzc3dvcmQ6'
          : /^AUTH|^s3|^czN/.test(l)
            ? '235 ok'
            : '250 ok',
    ),
  ];
  const web = http.createServer((_req, res) => res.end('ok\n'));
  await new Promise<void>((resolve) => web.listen(80, SERVER, resolve));
  try {
    await telnetLogin();
    await converse(21, ['USER alice', `PASS ${SECRETS.ftp}`, 'QUIT']);
    await converse(110, ['USER erin', `PASS ${SECRETS.pop}`, 'QUIT']);
    await converse(143, [`a1 LOGIN carol ${SECRETS.imap}`, 'a2 LOGOUT']);
    await converse(25, [
      'EHLO me',
      `AUTH PLAIN ${SECRETS.smtpPlain}`,
      'AUTH LOGIN',
      b64('dave'),
      SECRETS.smtpLogin,
      'QUIT',
    ]);
    await new Promise<void>((resolve, reject) => {
      http
        .get(
          {
            host: SERVER,
            port: 80,
            path: '/private',
            auth: `bob:${SECRETS.http}`,
            localAddress: CLIENT,
            agent: false,
          },
          (res) => {
            res.resume();
            res.on('end', resolve);
          },
        )
        .on('error', reject);
    });
  } finally {
    for (const s of servers) s.close();
    web.close();
  }
}

/** "ab" as tshark prints bytes: "61:62". */
const hexColons = (s: string): string =>
  [...Buffer.from(s)].map((b) => b.toString(16).padStart(2, '0')).join(':');

/** The secrets `text` shows. */
function shown(text: string): string[] {
  return Object.values(SECRETS).filter((s) => text.includes(s));
}

describe('redaction on a capture of cleartext logins made here', () => {
  const server = useServer();
  let dir = '';
  let file = '';

  before(async () => {
    dir = await tempDir('sharkmcp-redact-');
    if ((await captureUnavailable()) !== undefined) return;
    file = await captureLoopback(dir, 'logins', `host ${SERVER}`, logins, 80);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('analyze_pcap_file redacts in text, fields and json, and shows with reveal', async (t) => {
    if (!(await requireCapture(t))) return;
    const fields =
      'frame.number,ftp.request.command,ftp.request.arg,pop.request.parameter,http.authbasic,http.authorization';
    for (const format of [
      { outputFormat: 'text' },
      { outputFormat: 'fields', customFields: fields },
      { outputFormat: 'json', limit: 200, maxChars: 200_000 },
    ]) {
      const args = { filePath: file, maxChars: 200_000, limit: 1000, ...format };
      const hidden = await server.mcp.call('analyze_pcap_file', args);
      assert.equal(hidden.isError, false, hidden.text);
      assert.deepEqual(shown(hidden.text), [], `${format.outputFormat}:\n${hidden.text}`);
      // Nor in the hex of a payload field (tcp.payload in json).
      assert.ok(
        !hidden.text.includes(hexColons(SECRETS.ftp)),
        `${format.outputFormat}: the FTP password in hex`,
      );
      assert.match(hidden.text, /\[redacted, 9 characters\]/, format.outputFormat);
      const revealed = await server.mcp.call('analyze_pcap_file', { ...args, reveal: true });
      assert.ok(
        revealed.text.includes(SECRETS.ftp),
        `${format.outputFormat} with reveal shows the FTP password`,
      );
    }
    // What is not a secret stays: the FTP user name, the command.
    const listing = await server.mcp.call('analyze_pcap_file', {
      filePath: file,
      displayFilter: 'ftp.request',
      outputFormat: 'fields',
      customFields: 'ftp.request.arg',
    });
    assert.match(listing.text, /^alice$/m);
    assert.match(listing.text, /^\[redacted, 9 characters\]$/m);
  });

  it('get_packet_details redacts the trees of the frames that carry secrets', async (t) => {
    if (!(await requireCapture(t))) return;
    const frames = (
      await tsharkFields(file, ['frame.number'], {
        filter:
          'ftp.request.command == "PASS" || pop.request.command == "PASS" || imap.request || smtp.req || http.authorization',
      })
    ).map(([n]) => n);
    assert.ok(frames.length >= 6, `frames with logins: ${frames.join(',')}`);
    const args = {
      source: file,
      frames: frames.join(','),
      limit: 100,
      maxChars: 200_000,
      includeBytes: true,
    };
    const hidden = await server.mcp.call('get_packet_details', args);
    assert.equal(hidden.isError, false, hidden.text);
    assert.deepEqual(shown(hidden.text), [], hidden.text);
    // The bytes hold the secret too (hex and text columns): a frame with a secret shows none.
    assert.doesNotMatch(hidden.text, /s3cr/);
    assert.match(hidden.text, /bytes not shown: this frame carries a secret/);
    const revealed = await server.mcp.call('get_packet_details', { ...args, reveal: true });
    assert.deepEqual(shown(revealed.text).sort(), Object.values(SECRETS).sort());
  });

  it('follow_stream redacts every login stream, and shows it with reveal', async (t) => {
    if (!(await requireCapture(t))) return;
    const streams = (
      await tsharkFields(file, ['tcp.stream'], { filter: 'tcp.flags.syn == 1 && tcp.flags.ack == 0' })
    ).map(([s]) => Number(s));
    assert.equal(streams.length, 6);
    const seen: string[] = [];
    for (const stream of streams) {
      const hidden = await server.mcp.call('follow_stream', { source: file, stream });
      assert.equal(hidden.isError, false, hidden.text);
      assert.deepEqual(shown(hidden.text), [], hidden.text);
      assert.match(hidden.text, /\[redacted, \d+ characters\]/);
      const revealed = await server.mcp.call('follow_stream', { source: file, stream, reveal: true });
      seen.push(...shown(revealed.text));
    }
    // HTTP carries its password only in base64.
    assert.deepEqual(
      seen.sort(),
      Object.values(SECRETS)
        .filter((s) => s !== SECRETS.http)
        .sort(),
    );
  });

  it('Telnet: what the client types after "Password:" is redacted in each packet, in every answer', async (t) => {
    if (!(await requireCapture(t))) return;
    const listing = async (reveal: boolean): Promise<string[][]> => {
      const answer = await server.mcp.call('analyze_pcap_file', {
        filePath: file,
        displayFilter: 'telnet.data',
        outputFormat: 'fields',
        customFields: 'tcp.srcport,telnet.data',
        reveal,
      });
      assert.equal(answer.isError, false, answer.text);
      return answer.text
        .split('\nPacket Analysis Results:\n')[1]!
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => l.split('\t'));
    };
    /** What the client (not port 23) sent between the "Password: " prompt and its line end. */
    const typed = (rows: string[][]): string[] => {
      const start = rows.findIndex(([, data]) => /Password: $/.test(data ?? ''));
      const out: string[] = [];
      for (const [port, data] of rows.slice(start + 1)) {
        if (port === '23') continue;
        if ((data ?? '').startsWith('\\r\\n')) break;
        out.push(data ?? '');
      }
      return out;
    };
    const revealed = typed(await listing(true));
    assert.equal(revealed.join(''), TELNET_PASSWORD);
    const hidden = typed(await listing(false));
    assert.equal(hidden.length, revealed.length);
    assert.ok(
      hidden.every((d) => /^\[redacted, \d+ characters\]$/.test(d)),
      hidden.join(' | '),
    );

    const stream = (await tsharkFields(file, ['tcp.stream'], { filter: 'tcp.port == 23' }))[0]?.[0];
    const details = await server.mcp.call('get_packet_details', {
      source: file,
      frames: `1-${(await tsharkFields(file, ['frame.number'])).length}`,
      protocols: ['telnet'],
      limit: 1000,
      maxChars: 200_000,
    });
    assert.equal((details.text.match(/Data: \[redacted, \d+ characters\]/g) ?? []).length, hidden.length);
    const follow = await server.mcp.call('follow_stream', { source: file, stream: Number(stream) });
    assert.equal((follow.text.match(/\[redacted, \d+ characters\]/g) ?? []).length, hidden.length);
    const followRevealed = await server.mcp.call('follow_stream', {
      source: file,
      stream: Number(stream),
      reveal: true,
    });
    assert.doesNotMatch(followRevealed.text, /redacted/);
  });

  it('the credentials digest redacts the same logins', async (t) => {
    if (!(await requireCapture(t))) return;
    const hidden = await server.mcp.call('inspect_protocol', { source: file, kind: 'credentials' });
    assert.equal(hidden.isError, false, hidden.text);
    assert.deepEqual(shown(hidden.text), []);
    assert.match(hidden.text, /alice\t\[redacted, 9 characters\]/);
  });
});

describe('the redaction rules', () => {
  it('text rules: commands that carry secrets, and only them', () => {
    assert.equal(redactLine('Request: PASS hunter2'), 'Request: PASS [redacted, 7 characters]');
    assert.equal(redactLine('a1 LOGIN carol "pw 1"'), 'a1 LOGIN carol [redacted, 6 characters]');
    assert.equal(
      redactLine('Authorization: Bearer abc.def\\r\\n'),
      'Authorization: Bearer [redacted, 7 characters]\\r\\n',
    );
    assert.equal(redactLine('C: AUTH PLAIN AGEAYg=='), 'C: AUTH PLAIN [redacted, 8 characters]');
    assert.equal(redactLine('Request: USER alice'), 'Request: USER alice');
    assert.equal(redactLine('we pass the PASSword test'), 'we pass the PASSword test');
  });

  it('trees: an argument after a PASS command, the labels of secret fields', () => {
    const tree = [
      '    PASS x\\r\\n',
      '        Request command: PASS',
      '        Request arg: x',
      '        Request command: RETR',
      '        Request arg: file.txt',
      '        Credentials: bob:pw',
    ].join('\n');
    assert.equal(
      redactTree(tree),
      [
        '    PASS [redacted, 1 characters]\\r\\n',
        '        Request command: PASS',
        '        Request arg: [redacted, 1 characters]',
        '        Request command: RETR',
        '        Request arg: file.txt',
        '        Credentials: [redacted, 6 characters]',
      ].join('\n'),
    );
  });

  it('fields: an argument is read with its command, asked for when not requested', () => {
    const plan = fieldRedaction(['ftp.request.arg']);
    assert.deepEqual(plan.fields, ['ftp.request.arg', 'ftp.request.command']);
    assert.equal(plan.line('alice\tUSER'), 'alice');
    assert.equal(plan.line('pw\tPASS'), '[redacted, 2 characters]');
  });

  it('streams: a Telnet password typed a character a packet, an SMTP AUTH LOGIN password', () => {
    const r = new StreamRedactor();
    const out = [
      r.chunk(0, Buffer.from('Password: ')),
      r.chunk(1, Buffer.from('p')),
      r.chunk(1, Buffer.from('w')),
      r.chunk(1, Buffer.from('\r\n')),
      r.chunk(0, Buffer.from('$ ')),
      r.chunk(1, Buffer.from('ls\r\n')),
    ].map((b) => b.toString());
    assert.deepEqual(out, [
      'Password: ',
      '[redacted, 1 characters]',
      '[redacted, 1 characters]',
      '\r\n',
      '$ ',
      'ls\r\n',
    ]);
    const smtp = new StreamRedactor();
    smtp.chunk(0, Buffer.from('334 UGFzc3dvcmQ6\r\n'));
    assert.equal(smtp.chunk(1, Buffer.from('c2VjcmV0\r\n')).toString(), '[redacted, 8 characters]\r\n');
  });
});

describe('command lines of the processes behind connections', () => {
  it('redacts secrets given as arguments and keeps the rest as typed', () => {
    const r = (args: string[]): string => redactCommandLine(args);
    assert.equal(
      r(['curl', '-s', '-H', 'Authorization: Bearer abc123', 'http://127.0.0.1/x']),
      'curl -s -H "Authorization: [redacted, 13 characters]" http://127.0.0.1/x',
    );
    assert.equal(
      r(['curl', '-u', 'alice:s3cret', 'http://h/']),
      'curl -u alice:[redacted, 6 characters] http://h/',
    );
    assert.equal(
      r(['mysql', '--password=pw1', '-h', 'db']),
      'mysql --password=[redacted, 3 characters] -h db',
    );
    assert.equal(
      r(['psql', 'postgres://bob:pa55@db/app']),
      'psql postgres://bob:[redacted, 4 characters]@db/app',
    );
    assert.equal(r(['env', 'API_TOKEN=xyz', 'app']), 'env API_TOKEN=[redacted, 3 characters] app');
    assert.equal(r(['app', '--token', 'tkn']), 'app --token [redacted, 3 characters]');
    assert.equal(r(['node', 'server.js', '--port', '8080']), 'node server.js --port 8080');
    assert.equal(r(['sh', '-c', 'echo hi']), 'sh -c "echo hi"');
  });
});
