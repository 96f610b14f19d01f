// When a tshark read needs its second pass (-2). Some fields are only filled once tshark has seen
// the whole file: those that point at a LATER frame (dns.response_in, http.response_in,
// tcp.reassembled_in, ...). In one pass they are always empty, so a filter `!dns.response_in`
// matches every query, a plausible and wrong answer. Only frame-number fields (type FT_FRAMENUM)
// can point at another frame, so the rule is: a read whose display filter or printed fields name a
// field of type FT_FRAMENUM gets -2. Not always -2: tshark must then read the whole file before it
// prints the first packet, and the first page of a huge capture would no longer come back early.
// tshark's field list does not say which way a frame-number field points, so every one counts,
// except the few common ones known to point back (Wireshark declares them as requests, ACKs or
// earlier frames), which the http, dns and icmp digests read on every call: those are filled in one
// pass, and reading the file twice would double those digests' time for nothing.
import type { Glossary, GlossarySource } from './glossary.js';

/** Frame-number fields that point at an EARLIER frame, filled in one pass. */
const POINTS_BACK = new Set([
  'dns.response_to',
  'http.request_in',
  'http.prev_request_in',
  'http.prev_response_in',
  'icmp.resp_to',
  'icmpv6.resp_to',
  'tcp.analysis.acks_frame',
]);

/** Field-like names in a display filter: what is outside its string literals and looks like a name. */
export function namesInFilter(filter: string): string[] {
  const outsideStrings = filter.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, ' ');
  const names = outsideStrings.match(/[A-Za-z_][A-Za-z0-9_.-]*/g) ?? [];
  return [...new Set(names.map((n) => n.replace(/[.-]+$/, '')))];
}

/** Whether any of these names is a frame-number field. Pure. */
export function namesFrameNumber(glossary: Glossary, names: readonly string[]): boolean {
  return names.some((n) => !POINTS_BACK.has(n) && glossary.typeOf(n) === 'FT_FRAMENUM');
}

/**
 * Without the glossary (tshark could not print it in time), the names that by Wireshark's naming
 * habits point forward: "…response_in", "…reassembled_in", "…retransmitted_in" and the like.
 */
const FORWARD_NAME = /(?:_in|_frame)$/;

export interface SecondPassQuery {
  readonly displayFilter?: string | undefined;
  readonly fields?: readonly string[] | undefined;
}

/** The rule, with the server's glossary. */
export class TwoPassRule {
  constructor(private readonly glossary: GlossarySource) {}

  /** Whether a read with this filter and these fields needs tshark's second pass. */
  async needed(query: SecondPassQuery, signal?: AbortSignal): Promise<boolean> {
    // A name without a dot is a protocol ("http") or a word of the filter language ("and"), not a
    // field: in Wireshark 4.0.17, 13 of its 233,550 fields lack a dot, none a frame number. Such
    // filters are decided without the glossary, which costs a tshark run of 1-1.5 s (the first
    // filtered read of a server, e.g. a stop_capture_session with displayFilter "http").
    const names = [...namesInFilter(query.displayFilter ?? ''), ...(query.fields ?? [])].filter(
      (n) => n.includes('.') || FORWARD_NAME.test(n),
    );
    if (names.length === 0) return false;
    let glossary: Glossary;
    try {
      glossary = await this.glossary.get(signal);
    } catch (err) {
      if (signal?.aborted) throw err;
      return names.some((n) => !POINTS_BACK.has(n) && FORWARD_NAME.test(n));
    }
    return namesFrameNumber(glossary, names);
  }
}
