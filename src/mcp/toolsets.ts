// Toolsets: a server can serve a subset of its tools (--toolsets, SHARKMCP_TOOLSETS), so an agent
// that only reads capture files does not pay for the capture tools' descriptions in every context,
// as github-mcp-server lets its users choose. The seed's four tools are always served; by default,
// every tool is. It imports nothing, so the command line checks --toolsets before anything loads.

/** Each toolset's tools, by name. */
export const TOOLSETS: Readonly<Record<string, readonly string[]>> = {
  capture: [
    'start_capture_session',
    'stop_capture_session',
    'list_capture_sessions',
    'delete_capture_session',
    'list_interfaces',
  ],
  analysis: [
    'analyze_pcap_file',
    'summarize_capture',
    'follow_stream',
    'get_packet_details',
    'inspect_protocol',
    'list_fields',
  ],
  statistics: ['capture_statistics', 'plot_capture', 'compare_captures'],
  export: ['export_packets', 'export_objects'],
  config: ['manage_config'],
};

/** The seed's tools: served whatever the toolsets. */
export const SEED_TOOLS: readonly string[] = [
  'start_capture_session',
  'stop_capture_session',
  'analyze_pcap_file',
  'manage_config',
];

/** Toolset names as a list says them ("capture,analysis"): trimmed, empty ones dropped. */
export function parseToolsets(list: string): string[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** The names that are not toolsets. */
export function unknownToolsets(names: readonly string[]): string[] {
  return names.filter((n) => n !== 'all' && TOOLSETS[n] === undefined);
}

/** What to say of unknown toolset names: which there are. */
export function toolsetsAdvice(unknown: readonly string[]): string {
  return `unknown toolset${unknown.length === 1 ? '' : 's'} ${unknown.map((n) => `"${n}"`).join(', ')}: choose from ${Object.keys(TOOLSETS).join(', ')} (or all).`;
}

/**
 * The tools to serve, in the registry's order: the seed's, and those of `names` (every tool when
 * `names` is undefined, empty or names "all"). Unknown names are the caller's to refuse first.
 */
export function servedTools<T extends { readonly name: string }>(
  tools: readonly T[],
  names: readonly string[] | undefined,
): T[] {
  if (names === undefined || names.length === 0 || names.includes('all')) return [...tools];
  const wanted = new Set([...SEED_TOOLS, ...names.flatMap((n) => TOOLSETS[n] ?? [])]);
  return tools.filter((t) => wanted.has(t.name));
}
