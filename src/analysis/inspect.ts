// inspect_protocol's digests: one row per transaction or object (an HTTP request and its response,
// a DNS query and its answer, a TLS handshake, a TCP conversation's health, ...). tshark does the
// dissection and prints the fields; the digests in ./digests/ pair and count them. This runs the
// tshark passes a digest needs.
import { abortError, UserError } from '../errors.js';
import type { WiresharkTools } from '../wireshark/locate.js';
import type { ProcessGroup } from '../wireshark/process.js';
import { runCollect } from '../wireshark/process.js';
import { allOccurrenceFieldArgs, readArgs, statisticsArgs } from '../wireshark/tshark-args.js';
import { readOutcome } from './damage.js';
import { buildRows, FIELD_DIGESTS } from './digests/index.js';
import type { InspectKind } from './digests/index.js';
import { AGGREGATOR } from './digests/fields.js';
import type { Row } from './digests/fields.js';
import { buildSipCalls, parseRtpStreams, SIP_FIELDS } from './digests/voip.js';

export { columnsOf, INSPECT_KINDS, KIND_DESCRIPTION } from './digests/index.js';
export type { InspectKind } from './digests/index.js';
export type { Row } from './digests/fields.js';

export interface InspectRequest {
  readonly file: string;
  readonly kind: InspectKind;
  readonly displayFilter: string | undefined;
  readonly keylogFile: string | undefined;
  readonly reveal: boolean;
  readonly live: boolean;
  readonly timeoutMs: number;
}

const MAX_OUTPUT = 256 * 1024 * 1024;

/** Runs tshark for a digest and returns its rows (all of them: the caller pages). */
export async function inspect(
  group: ProcessGroup,
  tools: WiresharkTools,
  req: InspectRequest,
  signal?: AbortSignal,
): Promise<{ rows: Row[]; warnings: string[] }> {
  const tshark = tools.require('tshark');
  const read = (displayFilter: string | undefined): string[] =>
    readArgs({ file: req.file, keylogFile: req.keylogFile, displayFilter });
  const filterFor = (own: string): string => (req.displayFilter ? `(${own}) && (${req.displayFilter})` : own);
  const run = async (args: string[]): Promise<string> => {
    const { stdout, result } = await runCollect(group, {
      command: tshark,
      args,
      timeoutMs: req.timeoutMs,
      signal,
      maxBytes: MAX_OUTPUT,
    });
    if (result.aborted) throw abortError();
    const read = await readOutcome(
      group,
      tools,
      { stderr: result.stderr, file: req.file, live: req.live },
      signal,
    );
    if (read.other !== undefined && result.exitCode !== 0 && stdout === '')
      throw new UserError(`tshark failed: ${read.other}`);
    for (const w of read.warnings) warnings.add(w);
    if (result.stoppedEarly)
      warnings.add('tshark printed more than 256 MB; the digest covers what was read.');
    return stdout;
  };
  // A set: the two passes of voip report the same damage.
  const warnings = new Set<string>();
  const fieldArgs = (fields: readonly string[]): string[] => allOccurrenceFieldArgs(fields, AGGREGATOR);
  if (req.kind === 'voip') {
    const [sip, rtp] = await Promise.all([
      run([...read(filterFor('sip')), ...fieldArgs(SIP_FIELDS)]),
      run([...read(req.displayFilter), ...statisticsArgs(['rtp,streams'])]),
    ]);
    return { rows: [...buildSipCalls(sip), ...parseRtpStreams(rtp)], warnings: [...warnings] };
  }
  const kind = FIELD_DIGESTS[req.kind];
  const out = await run([...read(filterFor(kind.filter)), ...fieldArgs(kind.fields)]);
  return { rows: buildRows(req.kind, out, { reveal: req.reveal }), warnings: [...warnings] };
}
