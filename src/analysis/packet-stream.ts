// Cuts tshark's stdout into packets as it streams, for each output format. Pure: bytes in, one
// string per packet out. `text` and `fields` print one line a packet; `-T json` prints an array
// whose elements start at a line "  {" and end at "  }" or "  },", which is where a packet ends
// (JSON strings cannot hold a raw newline, so the line structure is safe to read).
import { LineSplitter } from '../util/text.js';

export const OUTPUT_FORMATS = ['json', 'fields', 'text'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface PacketSplitter {
  /** Packets completed by this chunk. */
  push(chunk: Buffer): string[];
  /** Packets left when the stream ends. */
  end(): string[];
}

export function createPacketSplitter(format: OutputFormat): PacketSplitter {
  return format === 'json' ? new JsonPacketSplitter() : new LinePacketSplitter();
}

class LinePacketSplitter implements PacketSplitter {
  private readonly lines = new LineSplitter();
  push(chunk: Buffer): string[] {
    return this.lines.push(chunk);
  }
  end(): string[] {
    return this.lines.end();
  }
}

/** Thrown when tshark's JSON is not what this splitter expects; a bug, not a user error. */
export class TsharkJsonError extends Error {
  override name = 'TsharkJsonError';
}

class JsonPacketSplitter implements PacketSplitter {
  private readonly lines = new LineSplitter();
  private current: string[] | undefined;

  push(chunk: Buffer): string[] {
    return this.take(this.lines.push(chunk));
  }

  end(): string[] {
    const out = this.take(this.lines.end());
    // A packet still open here was cut off by tshark stopping; it is incomplete and dropped.
    this.current = undefined;
    return out;
  }

  private take(lines: string[]): string[] {
    const out: string[] = [];
    for (const line of lines) {
      if (this.current === undefined) {
        if (line === '  {') this.current = ['{'];
        continue;
      }
      if (line === '  }' || line === '  },') {
        this.current.push('}');
        out.push(compact(this.current.join('\n')));
        this.current = undefined;
      } else {
        this.current.push(line);
      }
    }
    return out;
  }
}

function compact(packetJson: string): string {
  try {
    return JSON.stringify(JSON.parse(packetJson));
  } catch (err) {
    throw new TsharkJsonError(`tshark printed a packet that is not valid JSON: ${(err as Error).message}`);
  }
}
