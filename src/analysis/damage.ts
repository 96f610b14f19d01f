// What tshark said while reading a capture, turned into what the reader of an answer needs: a clear
// error when nothing in the file can be read (its header zeroed, cut or damaged; its first record
// damaged), and otherwise a warning that says where the damage is (after which packet, at which
// byte), so that the packets before it can be trusted. tshark names the damage but not where it is:
// capinfos counts the packets before it, and the file's own framing gives the byte where the next
// record begins.
import { open, stat } from 'node:fs/promises';
import { abortError, UserError } from '../errors.js';
import { countReadable } from '../wireshark/capinfos.js';
import type { WiresharkTools } from '../wireshark/locate.js';
import type { ProcessGroup } from '../wireshark/process.js';
import { classifyReadProblem } from '../wireshark/tshark.js';
import { plural } from '../util/text.js';
import { offsetAfterPackets } from './framing.js';

/** Where tshark stopped reading a file cut short or damaged part-way. */
export interface Damage {
  readonly kind: 'truncated' | 'damaged';
  /** Packets read before the damage. */
  readonly packets: number;
  /** The byte where the first record that could not be read begins, when the framing says. */
  readonly offset: number | undefined;
  readonly size: number;
}

export interface ReadOutcome {
  /** For the answer: where the file is damaged or cut short. */
  readonly warnings: string[];
  /** Anything else tshark said, for the caller to weigh. */
  readonly other: string | undefined;
  readonly damage: Damage | undefined;
}

/** What tshark said while reading a capture, and what the caller knows of that read. */
export interface FinishedRead {
  readonly stderr: string;
  readonly file: string;
  /** A capture still being written: its partial last packet is normal. */
  readonly live: boolean;
  /** Packets the caller knows were read (a summary's count), which spares counting them again. */
  readonly knownPackets?: number | undefined;
}

const NOTHING: ReadOutcome = { warnings: [], other: undefined, damage: undefined };

/** What the reader can do about a file nothing can be read from. */
const ANOTHER_COPY = 'Give another copy of the capture, or capture it again.';
const REPAIR = `${ANOTHER_COPY} A repair tool such as pcapfix may recover the packets after a damaged header.`;

/**
 * What tshark's stderr after reading `file` means for an answer: nothing, warnings that say where the
 * file is damaged or cut short, or a UserError when the file cannot be read at all (not a capture,
 * no permission, not one packet before the damage).
 */
export async function readOutcome(
  group: ProcessGroup,
  tools: WiresharkTools,
  read: FinishedRead,
  signal?: AbortSignal,
): Promise<ReadOutcome> {
  const { file, live, knownPackets } = read;
  const problem = classifyReadProblem(read.stderr);
  switch (problem?.kind) {
    case undefined:
      return NOTHING;
    case 'notCapture':
      throw new UserError(
        `"${file}" is not a capture file that tshark can read (not pcap, pcapng or another format Wireshark knows). Give the path of a .pcap or .pcapng file.`,
      );
    case 'unreadable':
      throw new UserError(`tshark could not read "${file}": ${problem.message}`);
    case 'other':
      return { ...NOTHING, other: problem.message };
    case 'truncated':
    case 'damaged':
      break;
  }
  // A file still being written ends in a partial packet as a matter of course.
  if (live && problem.kind === 'truncated') return NOTHING;
  const capinfos = tools.status('capinfos');
  const [count, size] = await Promise.all([
    knownPackets !== undefined && knownPackets > 0
      ? { packets: knownPackets, opened: true }
      : capinfos.found
        ? countReadable(group, capinfos.path, file, signal).catch(() => undefined)
        : Promise.resolve(undefined),
    stat(file).then(
      (s) => s.size,
      () => undefined,
    ),
  ]);
  if (signal?.aborted) throw abortError();
  const detail = tsharkDetail(problem.message);
  if (count === undefined || size === undefined || (count.packets === undefined && count.opened)) {
    // Where cannot be known (no capinfos, or it gave up): say what tshark said.
    return {
      ...NOTHING,
      warnings: [
        problem.kind === 'truncated'
          ? 'The capture file was cut short in the middle of a packet: the packets before the cut are read; the partial packet at the end is lost.'
          : `The capture file is damaged: the packets before the damage are read, the rest is not (tshark: ${detail}).`,
      ],
    };
  }
  if (count.packets === undefined || count.packets === 0) {
    // Not one packet: the answer would be an empty page that looks like an empty capture.
    const why = await nothingReadable(file, size, problem.kind, count.opened, detail);
    throw new UserError(`"${file}" cannot be read: ${why.text} ${why.repairable ? REPAIR : ANOTHER_COPY}`);
  }
  const damage: Damage = {
    kind: problem.kind,
    packets: count.packets,
    offset: await offsetAfterPackets(file, count.packets).catch(() => undefined),
    size,
  };
  return { ...NOTHING, warnings: [damageWarning(damage, detail)], damage };
}

/** A warning that says where the damage is and what was read. */
export function damageWarning(d: Damage, detail: string): string {
  const bytes = (n: number): string => n.toLocaleString('en-US');
  if (d.kind === 'truncated') {
    const at = d.offset === undefined ? '' : ` (at byte ${bytes(d.offset)} of ${bytes(d.size)})`;
    return `The capture file was cut short in the middle of a packet: packet ${d.packets + 1}${at} needs more bytes than the file has left, so it is lost; the ${plural(d.packets, 'packet')} before it are read. Either the file's writer stopped abruptly or that packet's length field is damaged.`;
  }
  const at =
    d.offset === undefined
      ? ''
      : ` at byte ${bytes(d.offset)} of ${bytes(d.size)}, and the ${bytes(d.size - d.offset)} bytes from there are not read`;
  return `The capture file is damaged after packet ${d.packets}: tshark read the ${plural(d.packets, 'packet')} before the damage and stopped${at} (tshark: ${detail}). To read past the damage, repair the file (for example with pcapfix) or use another copy.`;
}

/** tshark's own detail ("pcap: File has 4009487160-byte packet, ..."), or its message in one line. */
function tsharkDetail(message: string): string {
  const inParentheses = message.match(/\(([^()]+)\)\s*$/);
  return (inParentheses?.[1] ?? message).replace(/\s*\n\s*/g, ' ').trim();
}

const PCAP_MAGIC = [0xa1b2c3d4, 0xa1b23c4d, 0xa1b2cd34];
const PCAPNG_SHB = 0x0a0d0d0a;
/** The first four bytes of a pcap file (either byte order) or of a pcapng file. */
const MAGIC_BYTES = [...PCAP_MAGIC.flatMap((m) => [m, swap32(m)]), PCAPNG_SHB].map((m) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(m);
  return b;
});

function swap32(n: number): number {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b.readUInt32BE(0);
}

/** A file's pcap or pcapng file header, from its first bytes: the format, and the header's length. */
function headerOf(head: Buffer): { format: 'pcap' | 'pcapng'; bytes: number; exact: boolean } | undefined {
  if (head.length < 4) return undefined;
  const magic = head.readUInt32LE(0);
  if (magic === PCAPNG_SHB) {
    // The section header block says its own length, in the byte order its magic at byte 8 shows.
    if (head.length < 12) return { format: 'pcapng', bytes: 28, exact: false };
    const big = head.readUInt32BE(8) === 0x1a2b3c4d;
    return { format: 'pcapng', bytes: big ? head.readUInt32BE(4) : head.readUInt32LE(4), exact: true };
  }
  if (PCAP_MAGIC.some((m) => m === magic || swap32(m) === magic))
    return { format: 'pcap', bytes: 24, exact: true };
  return undefined;
}

/** A file that ends inside its pcap or pcapng file header, described; undefined when it does not. */
function cutInHeader(head: Buffer, size: number): string | undefined {
  if (size === 0) return 'the file is empty (0 bytes).';
  if (size < 4 && MAGIC_BYTES.some((m) => m.subarray(0, size).equals(head.subarray(0, size))))
    return `the file is ${plural(size, 'byte')}, cut short inside the first bytes of a pcap or pcapng file header.`;
  const header = headerOf(head);
  if (header && size < header.bytes)
    return `its ${header.format} file header is cut short: the file is ${plural(size, 'byte')} and the header alone takes ${header.exact ? '' : 'at least '}${header.bytes}.`;
  return undefined;
}

async function readHead(file: string, size: number): Promise<Buffer> {
  const head = Buffer.alloc(Math.min(size, 32));
  const handle = await open(file, 'r');
  try {
    await handle.read(head, 0, head.length, 0);
  } finally {
    await handle.close();
  }
  return head;
}

/**
 * Refuses a capture file that ends inside its file header, before tshark reads it: tshark then
 * guesses another format and reads the stub as one packet of JSON, MIME or MP4, or as no packet at
 * all, without a word about the cut.
 */
export async function checkCaptureHead(file: string): Promise<void> {
  const { size } = await stat(file);
  const why = cutInHeader(await readHead(file, size), size);
  if (why !== undefined) throw new UserError(`"${file}" cannot be read: ${why} ${ANOTHER_COPY}`);
}

/** Why no packet of a file can be read, from its first bytes: a sentence for the error. */
async function nothingReadable(
  file: string,
  size: number,
  kind: 'truncated' | 'damaged',
  opened: boolean,
  detail: string,
): Promise<{ text: string; repairable: boolean }> {
  const head = await readHead(file, size);
  const cut = cutInHeader(head, size);
  if (cut !== undefined) return { text: cut, repairable: false };
  const repairable = (text: string): { text: string; repairable: boolean } => ({ text, repairable: true });
  const header = headerOf(head);
  if (header === undefined) {
    const shown = head.subarray(0, 24);
    if (shown.every((b) => b === 0)) {
      return repairable(
        `its first ${shown.length} bytes are all zero, where a pcap or pcapng file header should be: the header is missing or was overwritten, so tshark cannot tell how the file is laid out (tshark tried the formats it knows; the last said: ${detail}).`,
      );
    }
    const hex = [...shown.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    return repairable(
      `it does not begin with a pcap or pcapng file header (its first bytes are ${hex}), and tshark cannot read it as another format either (tshark: ${detail}).`,
    );
  }
  if (!opened) {
    const what = header.format === 'pcap' ? 'file header is' : 'blocks before its first packet are';
    const text = `its ${header.format} ${what} ${kind === 'truncated' ? 'cut short' : 'damaged'} (tshark: ${detail}).`;
    return { text, repairable: kind === 'damaged' };
  }
  return kind === 'truncated'
    ? {
        text: 'it was cut short in the middle of its first packet, so it holds no whole packet.',
        repairable: false,
      }
    : repairable(`its first packet record is damaged (tshark: ${detail}).`);
}
