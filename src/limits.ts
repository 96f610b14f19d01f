// Bounds and defaults shared by the tool schemas and the saved-configuration schema, so a value
// that can be saved can also be used.

export const CAPTURE_TIMEOUT = { min: 1, max: 3_600, default: 60 } as const;
export const CAPTURE_MAX_PACKETS = { min: 1, max: 10_000_000, default: 100_000 } as const;

/** How an analysis prints packets: tshark's JSON, tab-separated fields, or its one-line text. */
export const OUTPUT_FORMATS = ['json', 'fields', 'text'] as const;

/** What an analysis prints when neither the call nor a saved configuration says. */
export const DEFAULT_OUTPUT_FORMAT = 'text' satisfies (typeof OUTPUT_FORMATS)[number];
/** follow_stream without a choice: the first TCP stream, as text. */
export const FOLLOW_DEFAULTS = { protocol: 'tcp', stream: 0, format: 'ascii' } as const;
/** export_packets: which kind of stream `stream` counts when protocol is left out. */
export const EXPORT_DEFAULTS = { protocol: 'tcp' } as const;
/** summarize_capture's (and a capture resource's) conversations, endpoints and messages of each kind. */
export const SUMMARY_TOP_N = { min: 1, max: 100, default: 10 } as const;
/** compare_captures' entries per section. */
export const COMPARE_LIMIT = { min: 1, max: 1_000, default: 20 } as const;
/** Packets of each capture compare_captures matches one by one (a short hash each: ~100 bytes). */
export const COMPARE_PACKETS = { min: 1, max: 1_000_000, default: 200_000 } as const;

export const MAX_CHARS = { min: 1_000, max: 200_000, default: 20_000 } as const;
export const PAGE_LIMIT = { min: 1, max: 10_000 } as const;
/** Packets per page when the call gives no limit, chosen so a page fits the default maxChars. */
export const DEFAULT_LIMIT = { text: 100, fields: 200, json: 5 } as const;
export const MAX_OFFSET = 100_000_000;
/** Items per page when the call gives no limit, for the tools that page other things than packets. */
export const DEFAULT_PAGE = { chunks: 50, rows: 50, frames: 5 } as const;
/** Frames per page at most: a frame's whole dissection tree is long. */
export const MAX_FRAMES_PER_PAGE = 1_000;

export const MAX_FILTER_LENGTH = 4_096;
export const MAX_PATH_LENGTH = 4_096;
export const MAX_FIELDS_LENGTH = 4_096;
export const MAX_FIELDS = 64;

/**
 * Session and configuration names: letters, digits, '.', '_', '-', at most 64, not starting with
 * '.' or '-' (so a name never looks like a flag or a relative path).
 */
export const NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/;

/** Longest one tshark analysis may run. */
export const ANALYSIS_TIMEOUT_MS = 300_000;

/** Size at which one capture file stops, in MB (1,000,000 bytes, as dumpcap counts). */
export const CAPTURE_MAX_FILE_MB = { min: 1, max: 10_000, default: 100 } as const;
/** Bytes kept of each packet. */
export const CAPTURE_SNAPLEN = { min: 64, max: 262_144, default: 262_144 } as const;
/** Capture sessions running at once, and all capture files together. */
export const MAX_RUNNING_SESSIONS = 4;
export const MAX_TOTAL_CAPTURE_BYTES = 2_000_000_000;

/** plot_capture: the I/O graph's and throughput's bucket width, and the packets a flow draws. */
export const PLOT_DEFAULTS = { interval: 'auto', flowPackets: 40 } as const;
export const MAX_FLOW_PACKETS = 200;
/**
 * Bytes export_objects lets tshark write into the server's private directory before it stops it:
 * a compressed body can inflate far beyond its size on the wire (a "gzip bomb").
 */
export const EXPORT_OBJECT_BYTES = { min: 1_000, max: 16_000_000_000, default: 1_000_000_000 } as const;

/** Decode-as rules (tshark -d) a call or configuration may give, and the length of each. */
export const DECODE_AS_LIMITS = { maxItems: 16, maxLength: 128 } as const;
/** Protocol preferences (tshark -o) a call or configuration may give, and the length of each. */
export const PREFERENCE_LIMITS = { maxItems: 32, maxLength: 256 } as const;

/** Remote capture over SSH (start_capture_session's remote): each host's defaults. */
export const REMOTE_DEFAULTS = { port: 22, interface: 'any', captureCommand: 'dumpcap' } as const;
/** What runs the capture on a remote host. */
export const REMOTE_CAPTURE_COMMANDS = ['dumpcap', 'tcpdump', 'sudo dumpcap', 'sudo tcpdump'] as const;
/** Captures sent over HTTP (PUT/POST /uploads): one file's size, all of one client's, and how long one is kept after its last use. */
export const UPLOAD_LIMITS = { maxMB: 1_000, quotaMB: 2_000, ttlMinutes: 60 } as const;
/** Hosts in one remote capture session. */
export const MAX_REMOTE_HOSTS = 8;
