// The rooms of src/ and what each may import: the one place the layout is written down. The
// architecture test fails when an import breaks it, and `npm run readme` writes the README's
// "Layout" section from it. Rooms are listed from the ground floor up; a room may import itself
// and the rooms it names, never one above it.

export interface Room {
  /** A folder ("analysis/") or a file ("cli.ts") under src/; a file belongs to the longest room that holds it. */
  readonly path: string;
  /** What lives there, in a few words. */
  readonly role: string;
  /** The rooms (and packages, by name prefix) it may import. */
  readonly imports: readonly string[];
}

const SDK = '@modelcontextprotocol/';
const GROUND = ['errors.ts', 'limits.ts', 'util/'];

export const LAYOUT: readonly Room[] = [
  {
    path: 'errors.ts',
    role: 'errors the agent can act on (UserError: its text says what to do next)',
    imports: [],
  },
  { path: 'limits.ts', role: 'bounds and defaults shared by tool schemas and saved configs', imports: [] },
  { path: 'version.ts', role: "the package's name and version", imports: ['util/'] },
  {
    path: 'util/',
    role: "text, logging, pids, the progress of a read, the package's own directory",
    imports: ['errors.ts'],
  },
  {
    path: 'wireshark/',
    role: "locating and running Wireshark's tools; every tshark argument list (tshark-args.ts)",
    imports: GROUND,
  },
  { path: 'storage/', role: "the server's private files, the file sandbox, captures seen", imports: GROUND },
  { path: 'config/', role: 'saved configurations', imports: GROUND },
  {
    path: 'analysis/redact.ts',
    role: 'the one redaction rule: which values are secrets, and how each kind of answer hides them',
    imports: GROUND,
  },
  {
    path: 'processes/',
    role: 'which local process owns each socket while a capture runs (Linux /proc), its sidecar file',
    imports: [...GROUND, 'analysis/redact.ts'],
  },
  {
    path: 'capture/',
    role: 'dumpcap, capture sessions, interfaces',
    imports: [...GROUND, 'wireshark/', 'storage/', 'processes/'],
  },
  {
    path: 'analysis/framing.ts',
    role: 'the record framing of pcap and pcapng files: record lengths and kinds, never the packets',
    imports: [],
  },
  {
    path: 'analysis/index/',
    role: 'where each frame of a capture starts (kept per capture), and cuts of a file tshark reads instead',
    imports: [...GROUND, 'analysis/framing.ts'],
  },
  {
    path: 'analysis/digests/',
    role: "inspect_protocol's digests, one file a kind, and the index they are listed in",
    imports: [...GROUND, 'analysis/redact.ts'],
  },
  {
    path: 'analysis/',
    role: 'reading captures: requests resolved, the domain services, answers rendered',
    imports: [
      ...GROUND,
      'wireshark/',
      'storage/',
      'config/',
      'capture/',
      'processes/',
      'analysis/redact.ts',
      'analysis/framing.ts',
      'analysis/index/',
      'analysis/digests/',
    ],
  },
  {
    path: 'analysis/plot/',
    role: "plot_capture's pictures: tshark's numbers drawn by Vega-Lite, rasterised by resvg",
    imports: [...GROUND, 'wireshark/', 'analysis/'],
  },
  {
    path: 'mcp/toolsets.ts',
    role: 'which tools a server serves (--toolsets), read by the command line before anything loads',
    imports: [],
  },
  {
    path: 'mcp/',
    role: 'the MCP layer: one file a tool (mcp/tools/), resources, prompts, roots',
    imports: [
      ...GROUND,
      'storage/',
      'config/',
      'capture/',
      'analysis/',
      'analysis/digests/',
      'analysis/plot/',
      SDK,
    ],
  },
  {
    path: 'server/',
    role: 'builds the services and an MCP server over them; stdio and Streamable HTTP',
    imports: [
      ...GROUND,
      'version.ts',
      'wireshark/',
      'storage/',
      'config/',
      'processes/',
      'capture/',
      'analysis/',
      'analysis/digests/',
      'analysis/plot/',
      'mcp/',
      'mcp/toolsets.ts',
      SDK,
    ],
  },
  {
    path: 'doctor.ts',
    role: 'sharkmcp doctor: what is installed and what capture may do',
    imports: [...GROUND, 'wireshark/', 'config/', 'capture/'],
  },
  { path: 'demo/', role: 'sharkmcp demo: a client that drives the server over real traffic', imports: [SDK] },
  {
    path: 'cli.ts',
    role: 'the entry point: arguments, then stdio, HTTP, doctor, setup or demo',
    imports: [
      'version.ts',
      'storage/',
      'server/',
      'doctor.ts',
      'demo/',
      'mcp/toolsets.ts',
      'wireshark/',
      SDK,
    ],
  },
  {
    path: 'launch.ts',
    role: "the bundle's entry: runs the bundled cli.ts through V8's code cache",
    imports: ['config/'],
  },
];

/** The room that holds `file` (a path relative to src/, with '/'), or undefined. */
export function roomOf(file: string): Room | undefined {
  let best: Room | undefined;
  for (const room of LAYOUT) {
    const holds = room.path.endsWith('/') ? file.startsWith(room.path) : file === room.path;
    if (holds && (!best || room.path.length > best.path.length)) best = room;
  }
  return best;
}

/**
 * Why `from` may not import `spec` (a path relative to src/ for the project's own files, a package
 * name otherwise), or undefined when the layout allows it. Node's own modules and packages other
 * than the SDK are allowed everywhere.
 */
export function importProblem(from: string, spec: string, own: boolean): string | undefined {
  const room = roomOf(from);
  if (!room) return `${from} is in no room of scripts/layout.ts`;
  if (!own) {
    if (!spec.startsWith(SDK) || room.imports.includes(SDK)) return undefined;
    return `${from} imports ${spec}: only ${LAYOUT.filter((r) => r.imports.includes(SDK))
      .map((r) => r.path)
      .join(', ')} may use the MCP SDK`;
  }
  const target = roomOf(spec);
  if (!target) return `${from} imports ${spec}, which is in no room of scripts/layout.ts`;
  if (target === room || room.imports.includes(target.path)) return undefined;
  return `${from} (${room.path}) imports ${spec} (${target.path}); ${room.path} may import ${
    room.imports.length === 0 ? 'nothing' : room.imports.join(', ')
  }`;
}

/** The README's "Layout" section: one line a room, and what it may import. */
export function renderLayout(): string {
  return [
    '```',
    'src/',
    ...[...LAYOUT].reverse().map((room) => {
      const own = room.imports.filter((i) => i !== SDK);
      const uses = [...own, ...(room.imports.includes(SDK) ? ['the MCP SDK'] : [])];
      return `  ${room.path.padEnd(18)} ${room.role}${uses.length > 0 ? `\n  ${''.padEnd(18)} ↳ imports ${uses.join(', ')}` : ''}`;
    }),
    '```',
  ].join('\n');
}
