// Cuts tshark's stdout into packets as it streams, for each output format. Pure: bytes in, one
// string per packet out. `text` and `fields` print one line a packet; `-T json` prints an array
// whose elements start at a line "  {" and end at "  }" or "  },", which is where a packet ends
// (JSON strings cannot hold a raw newline, so the line structure is safe to read).
import type { OUTPUT_FORMATS } from '../limits.js';
import { MAX_CHARS } from '../limits.js';
import { LineSplitter } from '../util/text.js';
import type { Line } from '../util/text.js';

export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
/** The formats a page can hold: the public ones, and `details` (tshark -V trees, for get_packet_details). */
export type PageFormat = OutputFormat | 'details';

/**
 * One packet as tshark printed it. A packet larger than any page could hold keeps only its head
 * (`text.length < length`), so a single huge packet cannot take unbounded memory.
 */
export interface Packet {
  readonly text: string;
  readonly length: number;
}

/** Larger than the largest page: a packet this long is never shown whole, so no more is kept. */
export const MAX_PACKET_CHARS = 2 * MAX_CHARS.max;

export interface PacketSplitter {
  /** Packets completed by this chunk. */
  push(chunk: Buffer): Packet[];
  /** Packets left when the stream ends. */
  end(): Packet[];
}

export function createPacketSplitter(format: PageFormat): PacketSplitter {
  if (format === 'json') return new JsonPacketSplitter();
  if (format === 'details') return new DetailsPacketSplitter();
  return new LinePacketSplitter();
}

class LinePacketSplitter implements PacketSplitter {
  private readonly lines = new LineSplitter(MAX_PACKET_CHARS);
  push(chunk: Buffer): Packet[] {
    return this.lines.push(chunk);
  }
  end(): Packet[] {
    return this.lines.end();
  }
}

/**
 * `-V` output: each packet's tree starts at a line "Frame N: ..." (the frame protocol's root is
 * always first), followed by its other protocols and, with -x, its bytes.
 */
class DetailsPacketSplitter implements PacketSplitter {
  private readonly lines = new LineSplitter(MAX_PACKET_CHARS);
  private current: string[] = [];
  private length = 0;

  push(chunk: Buffer): Packet[] {
    return this.take(this.lines.push(chunk));
  }

  end(): Packet[] {
    const out = this.take(this.lines.end());
    const last = this.flush();
    return last ? [...out, last] : out;
  }

  private take(lines: Line[]): Packet[] {
    const out: Packet[] = [];
    for (const line of lines) {
      if (/^Frame \d+: /.test(line.text)) {
        const done = this.flush();
        if (done) out.push(done);
      }
      this.length += line.length + 1;
      if (this.length <= MAX_PACKET_CHARS) this.current.push(line.text);
    }
    return out;
  }

  private flush(): Packet | undefined {
    if (this.current.length === 0) return undefined;
    const text = this.current.join('\n').trimEnd();
    // Past the bound the tail was not kept: the packet's true size is what was counted.
    const length = this.length > MAX_PACKET_CHARS ? this.length : text.length;
    this.current = [];
    this.length = 0;
    return { text, length };
  }
}

/** Thrown when tshark's JSON is not what this splitter expects; a bug, not a user error. */
export class TsharkJsonError extends Error {
  override name = 'TsharkJsonError';
}

class JsonPacketSplitter implements PacketSplitter {
  private readonly lines = new LineSplitter(MAX_PACKET_CHARS);
  /** Lines of the packet being read; undefined outside a packet, or once it is too large to keep. */
  private current: string[] | undefined;
  private inPacket = false;
  private length = 0;

  push(chunk: Buffer): Packet[] {
    return this.take(this.lines.push(chunk));
  }

  end(): Packet[] {
    const out = this.take(this.lines.end());
    // A packet still open here was cut off by tshark stopping; it is incomplete and dropped.
    this.inPacket = false;
    this.current = undefined;
    return out;
  }

  private take(lines: Line[]): Packet[] {
    const out: Packet[] = [];
    for (const line of lines) {
      if (!this.inPacket) {
        if (line.text === '  {') {
          this.inPacket = true;
          this.current = ['{'];
          this.length = 1;
        }
        continue;
      }
      if (line.text === '  }' || line.text === '  },') {
        out.push(
          this.current ? compact([...this.current, '}'].join('\n')) : { text: '', length: this.length },
        );
        this.inPacket = false;
        this.current = undefined;
        continue;
      }
      // Indentation is dropped by compaction; count what is left.
      this.length += line.length - (line.text.length - line.text.trimStart().length);
      if (this.current && this.length <= MAX_PACKET_CHARS && line.text.length === line.length) {
        this.current.push(line.text);
      } else {
        this.current = undefined;
      }
    }
    return out;
  }
}

function compact(packetJson: string): Packet {
  try {
    const text = JSON.stringify(JSON.parse(packetJson));
    return { text, length: text.length };
  } catch (err) {
    throw new TsharkJsonError(`tshark printed a packet that is not valid JSON: ${(err as Error).message}`);
  }
}
