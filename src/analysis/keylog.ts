// Whether a TLS keylog can decrypt anything: tshark silently ignores a keylog without a single
// line in the NSS key log format, so an answer that said "decryption enabled" for such a file
// would send the reader looking for a fault in the capture. The file is read as a stream, bounded.
import { createReadStream } from 'node:fs';
import { LineSplitter } from '../util/text.js';
import type { Line } from '../util/text.js';

/**
 * The NSS key log lines Wireshark reads (as its own keylog parser accepts them): the TLS 1.2
 * master secret by client random, the RSA forms, and the TLS 1.3 traffic secrets.
 */
const KEYLOG_LINE = new RegExp(
  '^(?:' +
    [
      'RSA [0-9a-f]{16} [0-9a-f]{96}',
      'RSA Session-ID:[0-9a-f]+ Master-Key:[0-9a-f]{96}',
      '(?:PMS_)?CLIENT_RANDOM [0-9a-f]{64} [0-9a-f]{96}',
      '(?:CLIENT_EARLY_TRAFFIC_SECRET|CLIENT_HANDSHAKE_TRAFFIC_SECRET|SERVER_HANDSHAKE_TRAFFIC_SECRET|CLIENT_TRAFFIC_SECRET_0|SERVER_TRAFFIC_SECRET_0|EARLY_EXPORTER_SECRET|EXPORTER_SECRET) [0-9a-f]{64} [0-9a-f]{32,}',
    ].join('|') +
    ')\\s*$',
  'i',
);

/** True for a line of the NSS key log format that holds a secret. Pure. */
export function isKeylogLine(line: string): boolean {
  return KEYLOG_LINE.test(line);
}

/** How much of a keylog is read to find its first secret; beyond it, the file is taken as it is. */
export const KEYLOG_SCAN_BYTES = 64 * 1024 * 1024;

/**
 * Whether `file` holds at least one TLS secret: true as soon as one line is found, false when the
 * whole file was read without one, undefined when the first `maxBytes` held none (not judged).
 */
export async function keylogHoldsSecrets(
  file: string,
  maxBytes = KEYLOG_SCAN_BYTES,
): Promise<boolean | undefined> {
  // Secret lines are under 300 characters; a longer line is kept only in part, to bound memory.
  const splitter = new LineSplitter(1_024);
  const secret = (lines: Line[]): boolean =>
    lines.some((l) => l.length === l.text.length && isKeylogLine(l.text));
  const stream = createReadStream(file, { end: maxBytes - 1, highWaterMark: 1024 * 1024 });
  let read = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      read += chunk.length;
      if (secret(splitter.push(chunk))) return true;
    }
  } catch {
    return undefined; // unreadable now: tshark will say so, or decrypt what it can
  } finally {
    stream.destroy();
  }
  if (secret(splitter.end())) return true;
  return read >= maxBytes ? undefined : false;
}
