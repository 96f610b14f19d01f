// The one redaction rule: which values are secrets (cleartext passwords and credentials that
// tshark dissects: FTP and POP PASS, IMAP LOGIN, SMTP AUTH, HTTP Authorization/basic, Telnet's
// typed password) and how each output shows them: "[redacted, N characters]". Every answer that can
// print a secret goes through here unless its call says reveal: the credentials digest, packet
// listings (fields by field name, JSON by field name and text label, one-line summaries), packet
// detail trees (by the labels of the same fields), and followed streams. A followed stream is bytes
// with no field names, so it is read with text rules over its lines (the protocol commands that
// carry secrets); they live here too, so the field rules and the text rules are read together.

/** How a secret is shown: its length, never its content. */
export function redacted(secret: string): string {
  return `[redacted, ${secret.length} characters]`;
}

/** A secret value as an answer shows it: redacted unless revealed, empty stays empty. */
export function hideSecret(value: string, reveal: boolean): string {
  return value === '' || reveal ? value : redacted(value);
}

/** Commands whose argument is a secret (FTP and POP PASS, FTP ACCT). */
export function isSecretCommand(command: string): boolean {
  return /^(PASS|ACCT)$/i.test(command.trim());
}

/** Fields whose value is a secret wherever they occur, with the label detail trees print them with. */
const SECRET_FIELDS: Readonly<Record<string, string>> = {
  'http.authbasic': 'Credentials',
  'http.authorization': 'Authorization',
  'http.proxy_authorization': 'Proxy-Authorization',
  'http2.headers.authorization': 'authorization',
  'http2.headers.proxy_authorization': 'proxy-authorization',
  'http.authcitrix.password': 'Citrix AG Password',
  'imap.request.password': 'Request Password',
  'smtp.auth.password': 'Password',
  'smtp.auth.username_password': 'Username/Password',
  'pgsql.password': 'Password',
  'socks.password': 'Password',
  'mysql.passwd': 'Password',
};

/** Fields that are secret when their packet's command (another field) is a secret command. */
const SECRET_ARGUMENTS: Readonly<Record<string, { command: string; label: string; commandLabel: string }>> = {
  'ftp.request.arg': {
    command: 'ftp.request.command',
    label: 'Request arg',
    commandLabel: 'Request command',
  },
  'pop.request.parameter': {
    command: 'pop.request.command',
    label: 'Request parameter',
    commandLabel: 'Request command',
  },
};

export function isSecretField(field: string): boolean {
  return field in SECRET_FIELDS;
}

// --- Text rules: a line of payload, a summary line, a tree line, a JSON key ---

/** Where a line's text ends: a CR, an LF, or the "\r\n" tshark writes into labels. */
const END = String.raw`(?=\\r\\n|\r|\n|$)`;

/** Each rule keeps its first group and redacts its second. */
const TEXT_RULES: readonly RegExp[] = [
  // FTP and POP "PASS secret", FTP "ACCT secret", at a line's start or after "Request: ".
  new RegExp(String.raw`((?:^|: |^\s+)(?:PASS|ACCT|pass) +)([^\r\n]+?)${END}`, 'g'),
  // IMAP "a001 LOGIN user password".
  new RegExp(String.raw`((?:^|: |^\s+)\S+ (?:LOGIN|login) +(?:"[^"]*"|\S+) +)("[^"]*"|[^\r\n]+?)${END}`, 'g'),
  // tshark's summary of the password line of an SMTP AUTH LOGIN: "C: Pass: <base64>".
  /((?:^|\s)C: Pass: )(\S+)/g,
  // SMTP "AUTH PLAIN <base64>", IMAP "AUTHENTICATE PLAIN <base64>".
  // (tshark's tree shows the argument as "Request parameter: PLAIN <base64>", its JSON as the
  // value "PLAIN <base64>".)
  /((?:(?:^|: |\s)AUTH(?:ENTICATE)? |Request parameter: |^)PLAIN +)([A-Za-z0-9+/=]+)/gi,
  // HTTP "Authorization: Basic <credentials>" (any scheme: a bearer token is a secret too).
  new RegExp(String.raw`((?:^|\s|")(?:Proxy-)?Authorization: *\S+ +)([^\r\n"]+?)${END}`, 'gi'),
];

/** Tree labels of the secret fields: "Credentials: bob:secret", "Request Password: x". */
const LABEL_RULE = new RegExp(
  String.raw`^(\s*(?:${Object.values(SECRET_FIELDS)
    .filter((l) => !/authorization/i.test(l))
    .map((l) => l.replace(/[/-]/g, '\\$&'))
    .join('|')}): )(.+?)${END}`,
);

/** One line with every secret the text rules find redacted. */
export function redactLine(line: string): string {
  let out = line;
  for (const rule of TEXT_RULES)
    out = out.replace(rule, (_m, keep: string, secret: string) => keep + redacted(secret));
  return out;
}

/** Lines of text (a packet's summary lines), each through redactLine. */
export function redactText(text: string): string {
  return text.split('\n').map(redactLine).join('\n');
}

/**
 * A packet's dissection tree (tshark -V/-O text): the text rules, the labels of the secret fields,
 * and an argument line right after its command line when the command is a secret one.
 */
export function redactTree(tree: string, telnet = new TelnetLogins()): string {
  const argumentLabels = Object.values(SECRET_ARGUMENTS);
  let secretArgument = false;
  // The conversation, from the IP and TCP header lines (shown even when collapsed by -O).
  const ip = /^Internet Protocol Version \d, Src: (\S+), Dst: (\S+)$/m.exec(tree);
  const tcp = /^Transmission Control Protocol, Src Port: (\d+), Dst Port: (\d+)/m.exec(tree);
  const port = tcp?.[1] ?? '';
  const stream = [`${ip?.[1]}:${port}`, `${ip?.[2]}:${tcp?.[2]}`].sort().join(' ');
  let inTelnet = false;
  const out = tree
    .split('\n')
    .map((line) => {
      if (/^\S/.test(line)) inTelnet = line === 'Telnet';
      const data = inTelnet ? /^(\s+Data: )(.*)$/.exec(line) : null;
      if (data) return (data[1] ?? '') + telnet.data(stream, port, data[2] ?? '');
      const after = secretArgument;
      secretArgument = false;
      const command = argumentLabels.find((a) => line.trimStart().startsWith(`${a.commandLabel}: `));
      if (command) secretArgument = isSecretCommand(line.split(': ').slice(1).join(': '));
      if (after) {
        const arg = argumentLabels.find((a) => line.trimStart().startsWith(`${a.label}: `));
        if (arg) {
          const at = line.indexOf(': ') + 2;
          return line.slice(0, at) + redacted(line.slice(at));
        }
      }
      return redactLine(line).replace(
        LABEL_RULE,
        (_m, keep: string, secret: string) => keep + redacted(secret),
      );
    })
    .join('\n');
  if (out === tree) return tree;
  // The frame's bytes (-x) hold the same secret in hex and in their text column.
  const hex = /^[0-9a-f]{4,} {2}[0-9a-f]{2} /;
  const lines = out.split('\n');
  const kept = lines.filter((l) => !hex.test(l));
  return kept.length === lines.length ? out : [...kept, HIDDEN_BYTES].join('\n');
}

/** What replaces the bytes of a frame that carries a secret. */
export const HIDDEN_BYTES = '[bytes not shown: this frame carries a secret; reveal: true shows them]';

// --- Field output and JSON ---

/** How a `-T fields` listing is redacted: the fields to print (its own, then the commands it needs). */
export interface FieldRedaction {
  /** The fields to ask tshark for: the requested ones, then the commands that decide secrets. */
  readonly fields: readonly string[];
  /** One printed line (all of `fields`) → the line of the requested fields, secrets redacted. */
  line(text: string): string;
}

export function fieldRedaction(requested: readonly string[], telnet = new TelnetLogins()): FieldRedaction {
  const needs = (f: string): string[] =>
    f === 'telnet.data'
      ? ['tcp.stream', 'tcp.srcport']
      : SECRET_ARGUMENTS[f]
        ? [SECRET_ARGUMENTS[f].command]
        : [];
  const extra = [...new Set(requested.flatMap(needs))].filter((f) => !requested.includes(f));
  const fields = [...requested, ...extra];
  const at = new Map(fields.map((f, i) => [f, i]));
  return {
    fields,
    line(text) {
      const values = text.split('\t');
      const out = requested.map((f, i) => {
        const v = values[i] ?? '';
        if (v === '') return v;
        if (isSecretField(f)) return redacted(v);
        if (f === 'telnet.data') {
          const [stream, port] = ['tcp.stream', 'tcp.srcport'].map((x) => values[at.get(x) ?? -1] ?? '');
          return telnet.data(stream ?? '', port ?? '', v);
        }
        const rule = SECRET_ARGUMENTS[f];
        if (rule) {
          const command = values[at.get(rule.command) ?? -1] ?? '';
          // Several commands in one packet print as "USER,PASS": any secret one hides the value.
          if (command.split(',').some(isSecretCommand)) return redacted(v);
        }
        return v;
      });
      return out.join('\t');
    },
  };
}

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/**
 * A packet as tshark's JSON (parsed): secret fields by name, secret arguments by their command,
 * text by the text rules; and when it carries a secret, its raw payload fields too (the same
 * secret in hex).
 */
export function redactPacketJson(packet: Json, telnet = new TelnetLogins()): Json {
  const out = redactJson(telnetJson(packet, telnet));
  return JSON.stringify(out) === JSON.stringify(packet) ? packet : hidePayload(out);
}

/** The packet with the password a Telnet client typed redacted (layers.telnet["telnet.data"]). */
function telnetJson(packet: Json, telnet: TelnetLogins): Json {
  const layers = field(field(packet, '_source'), 'layers');
  const data = field(field(layers, 'telnet'), 'telnet.data');
  if (layers === undefined || data === undefined) return packet;
  const tcp = field(layers, 'tcp');
  const [stream, port] = [field(tcp, 'tcp.stream'), field(tcp, 'tcp.srcport')].map((v) =>
    typeof v === 'string' ? v : '',
  );
  const typed = (v: Json): Json => (typeof v === 'string' ? telnet.data(stream ?? '', port ?? '', v) : v);
  const telnetLayer = field(layers, 'telnet') as { [key: string]: Json };
  const next = { ...telnetLayer, 'telnet.data': Array.isArray(data) ? data.map(typed) : typed(data) };
  const source = field(packet, '_source') as { [key: string]: Json };
  return {
    ...(packet as { [key: string]: Json }),
    _source: { ...source, layers: { ...(layers as { [key: string]: Json }), telnet: next } },
  };
}

function field(value: Json | undefined, key: string): Json | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value[key] : undefined;
}

/** Fields that hold a packet's raw bytes as hex: tcp.payload, udp.payload, data.data, ... */
const RAW_BYTES = /^(?:tcp|udp|sctp)\.payload$|^data\.data$|\.segment_data$|\.reassembled\.data$/;

function hidePayload(value: Json): Json {
  if (Array.isArray(value)) return value.map(hidePayload);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, RAW_BYTES.test(k) ? hideJson(v) : hidePayload(v)]),
  );
}

function redactJson(value: Json): Json {
  if (typeof value === 'string') return redactLine(value);
  if (Array.isArray(value)) return value.map(redactJson);
  if (value === null || typeof value !== 'object') return value;
  const out: { [key: string]: Json } = {};
  for (const [key, v] of Object.entries(value)) {
    const rule = SECRET_ARGUMENTS[key];
    const command = rule ? value[rule.command] : undefined;
    const secret =
      isSecretField(key) ||
      (rule !== undefined &&
        (Array.isArray(command) ? command : [command]).some(
          (c) => typeof c === 'string' && isSecretCommand(c),
        ));
    out[redactLine(key)] = secret ? hideJson(v) : redactJson(v);
  }
  return out;
}

function hideJson(value: Json): Json {
  if (typeof value === 'string') return redacted(value);
  if (Array.isArray(value)) return value.map(hideJson);
  return value;
}

/**
 * Telnet has no password field: what a client types after a "Password:" prompt is the password
 * (the credentials digest reads it the same way). Typed a character a packet, it is redacted packet
 * by packet until the line ends; one of these follows the packets of one listing, in order, by
 * TCP stream. (A listing that leaves out the prompt's packet cannot know.)
 */
export class TelnetLogins {
  /** The server's port of each stream whose client is typing a password. */
  private readonly typing = new Map<string, string>();

  /** One packet's telnet data as it is shown, the typed password redacted. */
  data(stream: string, srcPort: string, data: string): string {
    const server = this.typing.get(stream);
    if (server !== undefined && srcPort !== server) {
      const end = data.search(/\\r|\\n|\r|\n/);
      if (end !== -1) this.typing.delete(stream);
      const secret = end === -1 ? data : data.slice(0, end);
      return secret === '' ? data : redacted(secret) + data.slice(secret.length);
    }
    if (/password: *$/i.test(data)) this.typing.set(stream, srcPort);
    return data;
  }
}

// --- Followed streams ---

/**
 * A followed stream's payload, chunk by chunk in order: the text rules on every line, plus what
 * needs the conversation's state: the line after an SMTP "334 UGFzc3dvcmQ6" (base64 "Password:")
 * or after a bare "AUTH PLAIN", and what a Telnet client types after a "Password:" prompt.
 */
export class StreamRedactor {
  /** The next line from this side (0 or 1) is a secret. */
  private secretLineFrom: 0 | 1 | undefined;

  chunk(from: 0 | 1, bytes: Buffer): Buffer {
    let text = bytes.toString('latin1');
    let head = '';
    if (this.secretLineFrom === from) {
      // A line typed a character a packet (Telnet) stays secret until its end.
      const end = text.search(/[\r\n]/);
      const secret = end === -1 ? text : text.slice(0, end);
      if (secret.trim() !== '' || end !== -1) {
        head = secret === '' ? '' : redacted(secret);
        text = end === -1 ? '' : text.slice(end);
        if (end !== -1) this.secretLineFrom = undefined;
      }
    }
    const other: 0 | 1 = from === 0 ? 1 : 0;
    const lines = text.split(/(?<=\n)/).map((line) => {
      const trimmed = line.replace(/[\r\n]+$/, '');
      if (/^334 UGFzc3dvcmQ6\s*$/.test(trimmed) || /password: *$/i.test(trimmed)) this.secretLineFrom = other;
      else if (/^(?:\S+ )?AUTH(?:ENTICATE)? PLAIN\s*$/i.test(trimmed)) this.secretLineFrom = from;
      return redactLine(line);
    });
    return Buffer.from(head + lines.join(''), 'latin1');
  }
}

// --- Command lines (process attribution): secrets given as arguments ---

/** Flags whose next argument (or "=value") is a secret. */
const SECRET_FLAGS =
  /^--?(?:p|password|passwd|pass|token|access-token|auth-token|secret|client-secret|api-key|apikey|key-password|passphrase|oauth2-bearer|u|user|proxy-user)$/i;
/** Headers whose value is a secret, as a program takes them ("-H 'Authorization: Bearer …'"). */
const SECRET_HEADER =
  /^((?:proxy-)?authorization|cookie|set-cookie|x-api-key|x-auth-token|api-key)(\s*:\s*)(.+)$/is;
/** NAME=value arguments (and environment-style settings) whose value is a secret. */
const SECRET_SETTING = /^([\w.-]*(?:password|passwd|secret|token|api[_-]?key|credential)[\w.-]*)=(.+)$/is;
/** A URL's password: scheme://user:password@host. */
const URL_PASSWORD = /^([a-z][\w+.-]*:\/\/[^/:@\s]*:)([^/@\s]+)(@)/i;

/** One argument with its secret part redacted ("user:secret" keeps "user:"). */
function redactArgument(arg: string, afterSecretFlag: boolean): string {
  if (afterSecretFlag) {
    const colon = arg.indexOf(':');
    // curl -u user:password: the user name is not the secret.
    return colon > 0 ? `${arg.slice(0, colon + 1)}${redacted(arg.slice(colon + 1))}` : redacted(arg);
  }
  const header = SECRET_HEADER.exec(arg);
  if (header) return `${header[1]}${header[2]}${redacted(header[3] ?? '')}`;
  const eq = arg.indexOf('=');
  if (eq > 0 && SECRET_FLAGS.test(arg.slice(0, eq)))
    return `${arg.slice(0, eq + 1)}${redacted(arg.slice(eq + 1))}`;
  const setting = SECRET_SETTING.exec(arg);
  if (setting) return `${setting[1]}=${redacted(setting[2] ?? '')}`;
  return arg.replace(
    URL_PASSWORD,
    (_m, head: string, secret: string, at: string) => `${head}${redacted(secret)}${at}`,
  );
}

/**
 * A process's arguments as one line, secrets given on the command line redacted (passwords,
 * tokens and keys after their flags or in NAME=value form, Authorization and Cookie headers, a
 * URL's password), and an argument holding a space or a quote quoted, so the line reads as typed.
 * Applied where the command line is recorded, so no file of ours ever holds the secret.
 */
export function redactCommandLine(args: readonly string[]): string {
  let secretNext = false;
  const shown: string[] = [];
  for (const arg of args) {
    const safe = redactArgument(arg, secretNext);
    secretNext = SECRET_FLAGS.test(arg);
    shown.push(/[\s"'\\]/.test(arg) || arg === '' ? JSON.stringify(safe) : safe);
  }
  return shown.join(' ');
}
