// Dissection trees (`tshark -V`/`-O`) read from a sparse cut (index/sparse-cut.ts), told in the
// whole file's numbers: frame n of the cut is frame frames[n - 1] of the file, and the cut numbers
// its TCP and UDP streams from 0 where the whole file has its own numbers. Every line that holds a
// frame number is rewritten: the frame's header ("Frame 12: ..."), "Frame Number: 12", each field
// of type FT_FRAMENUM by its label (tshark's glossary lists them: "[Response In: 12]", "[This is an
// ACK to the segment in frame: 7]"), reassembly lists ("#5(724), #6(724)") and their members
// ("[Frame: 5, payload: 0-723 (724 bytes)]"); and each TCP/UDP "[Stream index: N]".
import type { Glossary } from '../wireshark/glossary.js';
import type { StreamIndex, StreamKind } from './index/stream-index.js';
import { NO_STREAM } from './index/stream-index.js';

/** The labels tshark prints frame-number fields with. */
export interface FrameLabels {
  /** Labels only frame-number fields use: rewritten wherever "Label: N" stands. */
  readonly only: ReadonlySet<string>;
  /** Labels some other field uses too: rewritten only in brackets ("[Label: N]": generated fields). */
  readonly shared: ReadonlySet<string>;
}

const BUILT = new WeakMap<Glossary, FrameLabels>();

/** The frame-number labels of a glossary (built once per glossary). */
export function frameLabels(glossary: Glossary): FrameLabels {
  const held = BUILT.get(glossary);
  if (held) return held;
  const numbers = new Set<string>();
  const others = new Set<string>();
  glossary.forEach((_i, field, name) => {
    if (name === '') return;
    (glossary.typeOf(field) === 'FT_FRAMENUM' ? numbers : others).add(name);
  });
  const only = new Set<string>();
  const shared = new Set<string>();
  for (const name of numbers) (others.has(name) ? shared : only).add(name);
  const labels = { only, shared };
  BUILT.set(glossary, labels);
  return labels;
}

/** How a cut's numbers map to the file's. */
export interface CutNumbers {
  /** File frame of cut frame n (1-based): frames[n - 1]. */
  readonly frames: readonly number[];
  readonly streams: StreamIndex;
  /** Told each top-level stream number the cut printed, with the file's stream of that frame. */
  readonly check?: (kind: StreamKind, cutNumber: number, fileStream: number, frame: number) => void;
}

const PROTOCOL_HEADERS: readonly [string, StreamKind][] = [
  ['Transmission Control Protocol, ', 'tcp'],
  ['User Datagram Protocol, ', 'udp'],
];

const FIELD = /^(\s*)(\[?)([^:[\]]+): (\d+)(?=\]|,|$)/;

/**
 * One packet's tree, told in the file's numbers. `streamMap` carries, per packet list, what the
 * cut's stream numbers were found to be in the file (for a header inside another, e.g. the UDP
 * header an ICMP error quotes, whose number the stream index does not give).
 */
export function renumberTree(
  text: string,
  numbers: CutNumbers,
  labels: FrameLabels,
  streamMap: Map<string, number> = new Map(),
): string {
  const fileFrame = (n: number): number => numbers.frames[n - 1] ?? n;
  const lines = text.split('\n');
  let frame = 0; // the file frame of the packet being read
  let inFrameTree = false; // "Frame Number" is frame.number only in the frame's own tree
  /** The protocol headers enclosing the line: their indent and kind. */
  const open: { indent: number; kind: StreamKind | undefined }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const header = /^Frame (\d+): /.exec(line);
    if (header?.[1]) {
      frame = fileFrame(Number(header[1]));
      lines[i] = `Frame ${frame}: ${line.slice(header[0].length)}`;
      open.length = 0;
      inFrameTree = true;
      continue;
    }
    const indent = line.length - line.trimStart().length;
    if (indent === 0) inFrameTree = false;
    while (open.length > 0 && (open.at(-1)?.indent ?? 0) >= indent) open.pop();
    const body = line.slice(indent);
    const protocol = PROTOCOL_HEADERS.find(([start]) => body.startsWith(start));
    if (protocol || /^\S/.test(line)) open.push({ indent, kind: protocol?.[1] });
    lines[i] = renumberLine(line, {
      fileFrame,
      labels,
      inFrameTree,
      streamContext: () => {
        const kind = open.at(-1)?.kind;
        return kind && { kind, topLevel: open.at(-1)?.indent === 0 };
      },
      fileStream: (kind, cut, topLevel) => {
        const key = `${kind}:${cut}`;
        if (topLevel && frame > 0) {
          const file = numbers.streams.streamOf(kind, frame);
          if (file === NO_STREAM) return undefined;
          numbers.check?.(kind, cut, file, frame);
          streamMap.set(key, file);
          return file;
        }
        return streamMap.get(key);
      },
    });
  }
  return lines.join('\n');
}

interface LineContext {
  readonly fileFrame: (n: number) => number;
  readonly labels: FrameLabels;
  /** The line is in the frame's own tree (where "Frame Number" is frame.number). */
  readonly inFrameTree: boolean;
  /** The TCP or UDP header the line is in, and whether it is a top-level one. */
  readonly streamContext: () => { kind: StreamKind; topLevel: boolean } | undefined;
  /** The file's number of the cut's stream `cut`, where known. */
  readonly fileStream: (kind: StreamKind, cut: number, topLevel: boolean) => number | undefined;
}

function renumberLine(line: string, ctx: LineContext): string {
  const { fileFrame, labels, inFrameTree, streamContext, fileStream } = ctx;
  // Reassembly lists: "[3 Reassembled TCP Segments (2896 bytes): #5(1448), #6(1448), #7(0)]".
  if (/^\s*\[\d+ [^:]*\(\d+ bytes?\): #\d+\(/.test(line))
    return line.replace(/#(\d+)\(/g, (_m, n: string) => `#${fileFrame(Number(n))}(`);
  // A member of such a list: "[Frame: 5, payload: 0-723 (724 bytes)]".
  const member = /^(\s*\[Frame: )(\d+)(, payload: )/.exec(line);
  if (member?.[1] && member[2] && member[3])
    return `${member[1]}${fileFrame(Number(member[2]))}${line.slice(member[1].length + member[2].length)}`;
  const m = FIELD.exec(line);
  if (!m) return line;
  const [whole, indent = '', bracket = '', label = '', value = ''] = m;
  const rest = line.slice(whole.length);
  if (label === 'Stream index' && bracket === '[') {
    const context = streamContext();
    if (!context) return line;
    const file = fileStream(context.kind, Number(value), context.topLevel);
    return file === undefined ? line : `${indent}${bracket}${label}: ${file}${rest}`;
  }
  const isFrame =
    (inFrameTree && label === 'Frame Number') ||
    labels.only.has(label) ||
    (bracket === '[' && labels.shared.has(label));
  return isFrame ? `${indent}${bracket}${label}: ${fileFrame(Number(value))}${rest}` : line;
}
