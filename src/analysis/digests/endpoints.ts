// The two ends of a packet as ip:port ([v6]:port), read from the fields every conversation digest
// asks for: one place for the field names and the IPv6 brackets.
import { first } from './fields.js';

/** The fields `ends` reads, for a digest's field list. */
export const endFields = (transport: 'tcp' | 'udp'): string[] => [
  'ip.src',
  'ipv6.src',
  `${transport}.srcport`,
  'ip.dst',
  'ipv6.dst',
  `${transport}.dstport`,
];

/** Source and destination of one packet's fields, ip:port each. */
export function ends(f: Map<string, string>, transport: 'tcp' | 'udp'): { from: string; to: string } {
  const v6 = first(f.get('ip.src')) === '';
  const end = (ip: string, port: string): string => (v6 ? `[${ip}]:${port}` : `${ip}:${port}`);
  return {
    from: end(first(f.get('ip.src')) || first(f.get('ipv6.src')), first(f.get(`${transport}.srcport`))),
    to: end(first(f.get('ip.dst')) || first(f.get('ipv6.dst')), first(f.get(`${transport}.dstport`))),
  };
}
