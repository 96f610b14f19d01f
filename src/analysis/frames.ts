// Frame selections such as "5" or "1-10,42", turned into a display filter tshark 4.0 accepts.
import { UserError } from '../errors.js';

export interface FrameRange {
  readonly from: number;
  readonly to: number;
}

/** tshark numbers frames with 32 bits: no capture has a frame past this. */
export const MAX_FRAME_NUMBER = 4_294_967_295;

/** Parses "5", "1-10,42", " 3 - 4 , 9". Pure. */
export function parseFrameSelection(spec: string, maxFrames = MAX_FRAME_NUMBER): FrameRange[] {
  const parts = spec
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.length === 0)
    throw new UserError('frames is empty: give frame numbers such as "5" or "1-10,42".');
  return parts.map((part) => {
    const m = part.match(/^(\d+)(?:\s*-\s*(\d+))?$/);
    if (!m) {
      throw new UserError(
        `frames: "${part}" is not a frame number or range. Use numbers and ranges such as "5" or "1-10,42".`,
      );
    }
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (from < 1 || to < from) {
      throw new UserError(
        `frames: "${part}" is not a valid range (frames are numbered from 1, and a range runs low-high).`,
      );
    }
    if (to > maxFrames) {
      throw new UserError(
        `frames: "${part}" goes past frame ${maxFrames.toLocaleString('en-US')}, the largest frame number tshark gives.`,
      );
    }
    return { from, to };
  });
}

/** The display filter that selects the ranges. */
export function frameFilter(ranges: readonly FrameRange[]): string {
  return `frame.number in {${ranges.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}..${r.to}`)).join(', ')}}`;
}
