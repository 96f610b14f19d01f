// Small pure text helpers shared by the domain modules.
import { UserError } from '../errors.js';

/**
 * Edit distance counting a swap of two neighbouring characters as one edit ("htpt" is one from
 * "http", as a typist sees it), giving up (returning max + 1) once it must exceed `max`.
 */
export function boundedEditDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, (before[j - 2] ?? 0) + 1);
      cur.push(v);
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > max) return max + 1;
    before = prev;
    prev = cur;
  }
  return prev[b.length] ?? max + 1;
}

/** A line of a stream; `text` holds at most the splitter's bound, `length` is the whole line's. */
export interface Line {
  readonly text: string;
  readonly length: number;
}

/**
 * Splits a byte stream into complete UTF-8 lines; the partial tail waits for the next chunk. A line
 * longer than `maxLineChars` keeps only its head (its full length is still counted), so one huge
 * line cannot take unbounded memory.
 */
export class LineSplitter {
  private tail = '';
  private tailOverflow = 0;
  private readonly decoder = new TextDecoder('utf-8');

  constructor(private readonly maxLineChars = Number.POSITIVE_INFINITY) {}

  /** Lines completed by this chunk, without their line ends. */
  push(chunk: Buffer): Line[] {
    const parts = this.decoder.decode(chunk, { stream: true }).split('\n');
    const lines: Line[] = [];
    for (let i = 0; i < parts.length - 1; i++) {
      lines.push(this.finishLine(parts[i] ?? ''));
    }
    this.append(parts[parts.length - 1] ?? '');
    return lines;
  }

  /** The last line when the stream ended without a newline. */
  end(): Line[] {
    this.append(this.decoder.decode());
    if (this.tail === '' && this.tailOverflow === 0) return [];
    return [this.finishLine('')];
  }

  private append(piece: string): void {
    const room = this.maxLineChars - this.tail.length;
    if (piece.length <= room) this.tail += piece;
    else {
      this.tail += piece.slice(0, Math.max(0, room));
      this.tailOverflow += piece.length - Math.max(0, room);
    }
  }

  private finishLine(lastPiece: string): Line {
    this.append(lastPiece);
    const overflow = this.tailOverflow;
    let text = this.tail;
    let length = text.length + overflow;
    if (overflow === 0 && text.endsWith('\r')) {
      text = text.slice(0, -1);
      length -= 1;
    }
    this.tail = '';
    this.tailOverflow = 0;
    return { text, length };
  }
}

/**
 * A number as en-US prints it ("12,345"). Whole numbers are grouped here: the first
 * toLocaleString of a process loads ICU's number formats, 20-50 ms of a server's first answer.
 */
export function formatCount(n: number): string {
  if (!Number.isSafeInteger(n) || Object.is(n, -0)) return n.toLocaleString('en-US');
  const digits = String(Math.abs(n)).replace(/\B(?=(\d{3})+$)/g, ',');
  return n < 0 ? `-${digits}` : digits;
}

/** "1 packet", "3 packets". */
export function plural(n: number, word: string, pluralWord = `${word}s`): string {
  return `${formatCount(n)} ${n === 1 ? word : pluralWord}`;
}

// eslint-disable-next-line no-control-regex
const CONTROL_CHAR = /[\u0000-\u001f\u007f]/;

/** True when the string holds a control character (newline, NUL, escape, ...). */
export function hasControlChars(s: string): boolean {
  return CONTROL_CHAR.test(s);
}

/**
 * Refuses a string bound for a child process's arguments that holds a control character: a NUL
 * cannot be passed at all, and the others are never part of a filter, field list or name.
 */
export function requirePlainText(value: string | undefined, param: string): void {
  if (value === undefined) return;
  const found = value.match(CONTROL_CHAR);
  if (found === null) return;
  const code = `U+${found[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
  throw new UserError(
    `${param} contains a control character (${code}, such as a NUL, newline or escape) at position ${(found.index ?? 0) + 1}; give it as plain text on one line.`,
  );
}
