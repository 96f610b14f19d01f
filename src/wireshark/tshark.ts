// What the server knows about tshark itself: how to read its stderr, how to check a display filter
// and field names before a run (tshark's own compiler does the checking), and how to name what went
// wrong when reading a file. (Close matches for a misspelt field are in field-suggestions.ts.)
import { abortError } from '../errors.js';
import type { Dissection } from './dissection.js';
import { isDefaultDissection } from './dissection.js';
import type { ProcessGroup } from './process.js';
import { packetOutputArgs, readArgs } from './tshark-args.js';

/** A pcap file with a header and no packets: lets tshark check its arguments without a capture. */
export const EMPTY_PCAP = Buffer.from([
  0xd4, 0xc3, 0xb2, 0xa1, 0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff,
  0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
]);

/** A field name as tshark spells them: letters, digits, '_', '-', '.', not starting with '-' or '.'. */
export const FIELD_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** tshark's stderr without its root warning and its "tshark: " prefixes. */
export function cleanStderr(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => !/^Running as user ".*" and group ".*"\. This could be dangerous\.$/.test(l.trim()))
    .map((l) => l.replace(/^tshark: /, ''))
    .join('\n')
    .trim();
}

export type ArgumentProblem =
  | { readonly kind: 'displayFilter'; readonly message: string }
  /** The check itself did not finish (time limit, killed, no word from tshark): nothing is known. */
  | { readonly kind: 'unfinished'; readonly message: string }
  | { readonly kind: 'fields'; readonly invalid: readonly string[]; readonly message: string }
  /** tshark refused a decode-as rule (-d) or a preference (-o). */
  | { readonly kind: 'dissection'; readonly message: string }
  | { readonly kind: 'other'; readonly message: string };

/** Reads tshark's complaint about its arguments. Pure, for tests on recorded stderr. */
export function parseArgumentProblem(stderr: string, hadFilter: boolean): ArgumentProblem {
  const text = cleanStderr(stderr);
  const fieldsMatch = text.match(/Some fields aren't valid:\n([\s\S]*)/);
  if (fieldsMatch?.[1] !== undefined) {
    const invalid = fieldsMatch[1]
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '');
    return { kind: 'fields', invalid, message: text };
  }
  if (/-o flag|preference|-d requires|selector|layer type|Unknown protocol|decode.as/i.test(text))
    return { kind: 'dissection', message: text.split('\n').slice(0, 3).join('\n') };
  if (hadFilter) return { kind: 'displayFilter', message: text };
  return { kind: 'other', message: text === '' ? 'tshark rejected its arguments.' : text };
}

/** How long tshark may take to check a display filter and field names on an empty capture. */
export const ARGUMENT_CHECK_TIMEOUT_MS = 30_000;

export interface ArgumentsToCheck {
  readonly displayFilter?: string | undefined;
  readonly fields?: readonly string[] | undefined;
  /** The caller's decode-as rules and preferences. */
  readonly dissection?: Dissection | undefined;
}

/**
 * Checks display filters, field names, decode-as rules and preferences with tshark itself, on an
 * empty capture file, so a bad one is reported before any real work starts. Good answers are remembered. (The empty capture is
 * a file, not stdin: Node gives a child a socket for stdin, and tshark reads only files and pipes.)
 */
export class TsharkArgumentChecker {
  private readonly known = new Map<string, true>();

  constructor(
    private readonly group: ProcessGroup,
    private readonly tsharkPath: string,
    /** Path of a file holding EMPTY_PCAP. */
    private readonly emptyCapture: () => Promise<string>,
    private readonly capacity = 256,
    /** How long one check may take (tshark starts in a fraction of a second when not starved). */
    private readonly timeoutMs = ARGUMENT_CHECK_TIMEOUT_MS,
  ) {}

  async check(args: ArgumentsToCheck, signal?: AbortSignal): Promise<ArgumentProblem | undefined> {
    const filter = args.displayFilter ?? '';
    const fields = args.fields ?? [];
    const dissection = isDefaultDissection(args.dissection) ? undefined : args.dissection;
    if (filter === '' && fields.length === 0 && dissection === undefined) return undefined;
    const key = JSON.stringify([filter, fields, dissection?.decodeAs, dissection?.preferences]);
    if (this.known.has(key)) return undefined;

    const argv = [
      ...readArgs({ file: await this.emptyCapture(), displayFilter: filter, dissection }),
      ...(fields.length > 0 ? packetOutputArgs({ kind: 'fields', fields }) : []),
    ];
    const result = await this.group.run({
      command: this.tsharkPath,
      args: argv,
      timeoutMs: this.timeoutMs,
      signal,
    });
    if (result.aborted) throw abortError();
    if (result.timedOut)
      return {
        kind: 'unfinished',
        message: `tshark did not finish within ${this.timeoutMs / 1000} s (the machine may be busy)`,
      };
    if (result.exitSignal !== null)
      return { kind: 'unfinished', message: `tshark was killed (${result.exitSignal}) before it finished` };
    if (result.exitCode !== 0 && cleanStderr(result.stderr) === '')
      return {
        kind: 'unfinished',
        message: `tshark ended with exit code ${result.exitCode} without saying why`,
      };
    if (result.exitCode === 0) {
      if (this.known.size >= this.capacity) this.known.clear();
      this.known.set(key, true);
      return undefined;
    }
    return parseArgumentProblem(result.stderr, filter !== '');
  }
}

export type ReadProblem =
  | { readonly kind: 'notCapture'; readonly message: string }
  | { readonly kind: 'truncated'; readonly message: string }
  | { readonly kind: 'damaged'; readonly message: string }
  | { readonly kind: 'unreadable'; readonly message: string }
  | { readonly kind: 'other'; readonly message: string };

/** Names what tshark said went wrong while reading a capture. Pure, for tests on recorded stderr. */
export function classifyReadProblem(stderr: string): ReadProblem | undefined {
  const text = cleanStderr(stderr);
  if (text === '') return undefined;
  if (/isn't a capture file in a format TShark understands/.test(text))
    return { kind: 'notCapture', message: text };
  if (/cut short in the middle of a packet/.test(text)) return { kind: 'truncated', message: text };
  if (/appears to be damaged or corrupt/.test(text)) return { kind: 'damaged', message: text };
  if (/Permission denied|doesn't exist|couldn't be opened|is a directory/i.test(text))
    return { kind: 'unreadable', message: text };
  return { kind: 'other', message: text };
}
