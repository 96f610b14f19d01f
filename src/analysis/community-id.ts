// The Community ID of a TCP or UDP flow (version 1 of Corelight's spec, as Wireshark's `communityid`
// post-dissector, Zeek and Suricata compute it), so that an agent can take a conversation from an
// answer to the fleet systems that index flows by it. It is a hash of the flow's 5-tuple, which the
// answer already holds: nothing is decoded here. The tests hold it equal to tshark's own
// `communityid` field on every TCP and UDP conversation of corpus captures.
import { createHash } from 'node:crypto';
import net from 'node:net';

const PROTOCOL = { tcp: 6, udp: 17 } as const;

/** "1.2.3.4:80", "[2001:db8::1]:443" into the address's bytes and the port; undefined otherwise. */
export function parseEndpoint(endpoint: string): { addr: Buffer; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(endpoint) ?? /^([^:]+):(\d+)$/.exec(endpoint);
  if (!m) return undefined;
  const port = Number(m[2]);
  const addr = addressBytes(m[1] ?? '');
  if (addr === undefined || port > 65_535) return undefined;
  return { addr, port };
}

function addressBytes(text: string): Buffer | undefined {
  if (net.isIPv4(text)) return Buffer.from(text.split('.').map(Number));
  if (!net.isIPv6(text)) return undefined;
  // An IPv4 tail ("::ffff:1.2.3.4") as two groups.
  let t = text;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  if (v4?.[1]) {
    const b = v4[1].split('.').map(Number);
    t = `${t.slice(0, -v4[1].length)}${(((b[0] ?? 0) << 8) | (b[1] ?? 0)).toString(16)}:${(((b[2] ?? 0) << 8) | (b[3] ?? 0)).toString(16)}`;
  }
  const [head = '', tail] = t.split('::');
  const groups = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const h = groups(head);
  const tl = tail === undefined ? [] : groups(tail);
  const all = [...h, ...Array<string>(8 - h.length - tl.length).fill('0'), ...tl];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/**
 * The flow's Community ID ("1:" and the base64 of a SHA-1), or undefined when an end is not an
 * address with a port. The ends are ordered as the spec orders them (address, then port), so
 * either direction gives the same ID.
 */
export function communityId(kind: 'tcp' | 'udp', a: string, b: string, seed = 0): string | undefined {
  const x = parseEndpoint(a);
  const y = parseEndpoint(b);
  if (!x || !y || x.addr.length !== y.addr.length) return undefined;
  const order = Buffer.compare(x.addr, y.addr);
  const [src, dst] = order < 0 || (order === 0 && x.port <= y.port) ? [x, y] : [y, x];
  const head = Buffer.alloc(2);
  head.writeUInt16BE(seed);
  const ports = Buffer.alloc(6);
  ports.writeUInt8(PROTOCOL[kind], 0);
  ports.writeUInt8(0, 1);
  ports.writeUInt16BE(src.port, 2);
  ports.writeUInt16BE(dst.port, 4);
  const hash = createHash('sha1')
    .update(Buffer.concat([head, src.addr, dst.addr, ports]))
    .digest('base64');
  return `1:${hash}`;
}
