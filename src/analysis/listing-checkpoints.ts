// Where a filtered listing's matches lie in the file, remembered between pages. An agent reads a
// filtered listing a page at a time (offset 0, 50, 100 ...): each page learns the frame of the
// first match of the next one (the one packet read past a full page), so the next page starts
// reading there, after a warm-up, instead of dissecting the file again from its first packet to
// count the matches before its offset. Pure bookkeeping: no file is read here.

/** What makes two listings match the same packets: the file, and how it is read and filtered. */
export interface ListingKey {
  /** The capture, as its device and inode (a file replaced under the same path is another file). */
  readonly dev: number;
  readonly ino: number;
  readonly displayFilter: string;
  readonly keylogFile?: string | undefined;
  /** The caller's decode-as rules and preferences, in a stable text form. */
  readonly dissection: string;
}

/**
 * The match numbered `match` (0-based, in the order tshark prints them) is frame `frame`, and the
 * match before it frame `previous` (its time is what frame.time_delta_displayed counts from).
 */
export interface Checkpoint {
  readonly match: number;
  readonly frame: number;
  readonly previous: number;
}

interface Listing {
  /** The file's size when the checkpoints were taken: it may grow (a running capture), not shrink. */
  size: number;
  mtimeMs: number;
  /** Ordered by match, and then also by frame. */
  readonly points: Checkpoint[];
}

/** Listings remembered at most, and checkpoints per listing. */
const MAX_LISTINGS = 64;
const MAX_POINTS = 4096;
/** Matches back that framesPerMatch looks (a few pages). */
const SPREAD = 1000;

function keyText(k: ListingKey): string {
  return JSON.stringify([k.dev, k.ino, k.displayFilter, k.keylogFile ?? '', k.dissection]);
}

export class ListingCheckpoints {
  /** In use order: the first is the least recently used. */
  private readonly listings = new Map<string, Listing>();

  /**
   * Records that match `match` is frame `frame` of the file at size `size` (modified at
   * `mtimeMs`). A file that shrank or changed without growing voids what was recorded before.
   */
  record(key: ListingKey, size: number, mtimeMs: number, point: Checkpoint): void {
    const k = keyText(key);
    let listing = this.current(k, size, mtimeMs);
    if (!listing) {
      listing = { size, mtimeMs, points: [] };
      this.listings.set(k, listing);
      while (this.listings.size > MAX_LISTINGS) {
        const oldest = this.listings.keys().next().value;
        if (oldest !== undefined) this.listings.delete(oldest);
      }
    }
    listing.size = size;
    listing.mtimeMs = mtimeMs;
    const points = listing.points;
    let i = points.length;
    while (i > 0 && (points[i - 1]?.match ?? 0) > point.match) i--;
    const before = points[i - 1];
    if (before?.match === point.match && before.frame === point.frame && before.previous === point.previous)
      return;
    const after = points[i];
    // Matches and frames rise together: a point that breaks the order (the same match at another
    // frame) says what was recorded is not this file's any more, and voids it.
    const ordered =
      point.previous < point.frame &&
      (!before || (before.match < point.match && before.frame < point.frame)) &&
      (!after || after.frame > point.frame);
    if (ordered) points.splice(i, 0, point);
    else points.splice(0, points.length, point);
    if (points.length > MAX_POINTS) points.splice(1, 1);
  }

  /**
   * The checkpoint nearest before match `offset` (the latest with match <= offset) for the file as
   * it is now, or undefined when none is known.
   */
  nearest(key: ListingKey, size: number, mtimeMs: number, offset: number): Checkpoint | undefined {
    const listing = this.current(keyText(key), size, mtimeMs);
    if (!listing) return undefined;
    let found: Checkpoint | undefined;
    for (const p of listing.points) {
      if (p.match > offset) break;
      found = p;
    }
    return found;
  }

  /**
   * Frames per match about `point`, from the points recorded before it (up to SPREAD matches
   * back), or undefined when none is: how far a page that starts there likely reaches.
   */
  framesPerMatch(key: ListingKey, size: number, mtimeMs: number, point: Checkpoint): number | undefined {
    const listing = this.current(keyText(key), size, mtimeMs);
    const earliest = listing?.points.find((p) => p.match < point.match && p.match >= point.match - SPREAD);
    if (!earliest) return undefined;
    return (point.frame - earliest.frame) / (point.match - earliest.match);
  }

  /** The listing if what it recorded still holds for the file at this size and time. */
  private current(k: string, size: number, mtimeMs: number): Listing | undefined {
    const listing = this.listings.get(k);
    if (!listing) return undefined;
    this.listings.delete(k);
    const same = listing.size === size && listing.mtimeMs === mtimeMs;
    // A file written since may only have grown at its end (a running capture appends records).
    if (!same && size <= listing.size) return undefined;
    this.listings.set(k, listing);
    return listing;
  }
}

/**
 * The frame number of a packet as tshark printed it in `format`, or undefined when the format does
 * not show it: a text line starts with it; a -V tree with "Frame N:"; a JSON packet holds
 * "frame.number" (compact, as the page keeps it); a fields line has it in column `numberColumn` when the fields include it.
 */
export function packetFrame(format: string, text: string, numberColumn?: number): number | undefined {
  let m: RegExpExecArray | null = null;
  if (format === 'text') m = /^ *(\d+) /.exec(text);
  else if (format === 'details') m = /^Frame (\d+): /.exec(text);
  // The page keeps JSON packets compact (packet-stream.ts).
  else if (format === 'json') m = /"frame\.number":"(\d+)"/.exec(text);
  else if (format === 'fields' && numberColumn !== undefined) {
    const v = text.split('\t')[numberColumn];
    return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
  }
  return m?.[1] !== undefined ? Number(m[1]) : undefined;
}
