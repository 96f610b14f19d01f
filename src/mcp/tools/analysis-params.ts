// The analysis parameters shared by the tools that list packets (analyze_pcap_file,
// stop_capture_session): the seed's names and defaults, plus the paging parameters.
import * as z from 'zod';
import { resolveAnalysis } from '../../analysis/options.js';
import type { ResolvedAnalysis } from '../../analysis/options.js';
import { resolveSource } from '../../analysis/source.js';
import type { ResolvedSource } from '../../analysis/source.js';
import type { ServerDeps } from '../tool.js';
import { DEFAULT_FIELDS } from '../../analysis/analyze-capture.js';
import {
  DECODE_AS_LIMITS,
  PREFERENCE_LIMITS,
  DEFAULT_LIMIT,
  MAX_FIELDS_LENGTH,
  MAX_FILTER_LENGTH,
  OUTPUT_FORMATS,
  MAX_PATH_LENGTH,
  DEFAULT_OUTPUT_FORMAT,
} from '../../limits.js';
import { pagingParams } from './paging-params.js';

/** Secrets are redacted in every answer (analysis/redact.ts) unless the call says reveal. */
export const revealParam = z
  .boolean()
  .optional()
  .meta({ default: false, brief: '' })
  .describe(
    'Show cleartext passwords and credentials (FTP/POP PASS, IMAP LOGIN, SMTP AUTH, HTTP Authorization) as they are; by default they read "[redacted, N characters]".',
  );

/**
 * Decode-as rules and preferences, on every tool that reads a capture: one more option of every
 * tshark pass, checked against tshark's own lists before the run.
 */
export const dissectionParams = {
  decodeAs: z
    .array(z.string().min(1).max(DECODE_AS_LIMITS.maxLength))
    .max(DECODE_AS_LIMITS.maxItems)
    .optional()
    .meta({ brief: '' })
    .describe(
      'Decode-as rules, exactly as tshark\'s -d takes them: "<layer>==<value>,<protocol>", e.g. ["tcp.port==50051,http2"] for a gRPC or HTTP/2 cleartext service on port 50051, "tcp.port==8443,tls", "udp.port==5000-5010,rtp". Without one, a protocol tshark finds by port only shows as bare TCP/UDP on an unusual port. An unknown layer or protocol gets close matches.',
    ),
  preferences: z
    .array(z.string().min(1).max(PREFERENCE_LIMITS.maxLength))
    .max(PREFERENCE_LIMITS.maxItems)
    .optional()
    .meta({ brief: '' })
    .describe(
      'Protocol preferences, "name:value" as tshark\'s -o takes them, e.g. ["tcp.desegment_tcp_streams:FALSE", "http.tcp.port:80,9000"]. Allowed: the boolean, number, choice and port-range preferences of dissectors, except names about files or logs (the TLS keylog is sslKeylogFile); others are refused with what is allowed. Where an analysis sets a preference itself to be right (e.g. the summary\'s counters), its value wins.',
    ),
};

export const analysisParamsShape = {
  displayFilter: z
    .string()
    .max(MAX_FILTER_LENGTH)
    .optional()
    .meta({ brief: '' })
    .describe(
      'Wireshark display filter for analysis (e.g., "tls.handshake.type == 1"). Checked before the run.',
    ),
  outputFormat: z
    .enum(OUTPUT_FORMATS)
    .optional()
    .meta({ default: DEFAULT_OUTPUT_FORMAT, brief: '' })
    .describe(
      'Output format: text (one summary line per packet, the default), fields (tab-separated values of customFields, one line per packet), or json (tshark -T json, compact, one packet per line).',
    ),
  customFields: z
    .string()
    .max(MAX_FIELDS_LENGTH)
    .optional()
    .meta({
      default: DEFAULT_FIELDS.join(','),
      brief: 'Comma-separated field names.',
    })
    .describe(
      'Comma-separated tshark field names for outputFormat "fields" (e.g., "ip.src,http.host"). An unknown name gets close matches; list_fields finds names by protocol and by words.',
    ),
  sslKeylogFile: z
    .string()
    .max(MAX_PATH_LENGTH)
    .optional()
    .meta({ brief: '' })
    .describe(
      'Path to a TLS keylog file (NSS format, as written via SSLKEYLOGFILE) to decrypt TLS. Defaults to the SSLKEYLOGFILE environment variable of the server.',
    ),
  configName: z
    .string()
    .max(64)
    .optional()
    .meta({ brief: '' })
    .describe(
      'Name of a saved configuration (manage_config) that fills displayFilter, outputFormat, customFields, decodeAs and preferences where this call leaves them out; arguments given here win.',
    ),
  reveal: revealParam,
  ...dissectionParams,
  ...pagingParams({
    brief: 'Packets per page (default 100 text, 200 fields, 5 json).',
    limit: `Packets per page at most. Default: ${DEFAULT_LIMIT.text} for text, ${DEFAULT_LIMIT.fields} for fields, ${DEFAULT_LIMIT.json} for json.`,
    offset: 'Matching packets to skip: the answer names the offset of the next page.',
  }),
};

// For the tools that cut rather than page (summaries, comparisons), which build their "shorter
// answer" call from the arguments given and take the same budget.
export { givenArgs } from '../../analysis/paged-answer.js';
export { maxCharsParam } from './paging-params.js';

/** Where an analysis reads from: a capture file or a capture session. */
export const sourceParam = z
  .string()
  .min(1)
  .max(MAX_PATH_LENGTH)
  .meta({ brief: '' })
  .describe('A capture file path (.pcap/.pcapng), or the ID of a capture session, running or finished.');

/** A capture session, by the ID start_capture_session gave it. */
export const sessionIdParam = z
  .string()
  .min(1)
  .max(128)
  .meta({ brief: '' })
  .describe('Session ID returned from start_capture_session');

/** A stream index as tshark numbers them (tcp.stream, udp.stream, ...), from 0. */
export const streamIndex = z.number().int().min(0).max(100_000_000);

/** A TLS keylog for the tools that do not take the whole analysis parameter set. */
export const keylogParam = analysisParamsShape.sslKeylogFile;

/** Cuts a text answer at a line boundary within maxChars, ending with `note` (which says what to call). */
export function cutAtLine(text: string, maxChars: number, note: string): string {
  if (text.length <= maxChars) return text;
  const head = text.slice(0, Math.max(0, maxChars - note.length - 1));
  return `${head.slice(0, Math.max(0, head.lastIndexOf('\n')))}\n${note}`;
}

/** What a tool that reads one capture says about how to read it. */
export interface ReadArgs {
  readonly source: string;
  readonly sslKeylogFile?: string | undefined;
  readonly decodeAs?: readonly string[] | undefined;
  readonly preferences?: readonly string[] | undefined;
}

/**
 * The source a call names, the TLS keylog it gives (or SSLKEYLOGFILE), its decode-as rules and
 * preferences, all checked.
 */
export async function sourceAndKeylog(
  deps: ServerDeps,
  args: ReadArgs,
  signal: AbortSignal | undefined,
): Promise<{ source: ResolvedSource; keylog: ResolvedAnalysis }> {
  const resolvedSource = await resolveSource(
    args.source,
    'source',
    deps.sessions,
    deps.sandbox,
    deps.uploads,
  );
  const keylog = await readOptions(deps, args, signal);
  return { source: resolvedSource, keylog };
}

/** The keylog, decode-as rules and preferences of a call, checked (decode-as against tshark). */
export function readOptions(
  deps: ServerDeps,
  args: Omit<ReadArgs, 'source'>,
  signal: AbortSignal | undefined,
): Promise<ResolvedAnalysis> {
  return resolveAnalysis(
    { sslKeylogFile: args.sslKeylogFile, decodeAs: args.decodeAs, preferences: args.preferences },
    deps.configs,
    deps.env,
    deps.sandbox,
    { checker: deps.analyzer, signal },
  );
}
