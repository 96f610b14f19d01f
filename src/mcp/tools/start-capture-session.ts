// start_capture_session: a background capture that is running when the call returns.
import * as z from 'zod';
import { loadNamedConfig, nonEmpty } from '../../analysis/options.js';
import { configFieldsSchema } from '../../config/config-store.js';
import { loopbackName, resolveInterfaceName } from '../../capture/interfaces.js';
import { formatBytes } from '../../capture/sessions.js';
import {
  CAPTURE_MAX_FILE_MB,
  CAPTURE_MAX_PACKETS,
  CAPTURE_SNAPLEN,
  CAPTURE_TIMEOUT,
  MAX_FILTER_LENGTH,
  MAX_PATH_LENGTH,
  MAX_REMOTE_HOSTS,
  REMOTE_CAPTURE_COMMANDS,
  REMOTE_DEFAULTS,
} from '../../limits.js';
import { admitIdentityFile } from '../../capture/remote-hosts.js';
import { captureLink } from '../resources.js';
import { defineTool, textResult } from '../tool.js';
import { UserError } from '../../errors.js';
import { hostLines, sessionViewSchema } from '../../capture/session-view.js';

const inputSchema = z.object({
  interface: z
    .string()
    .min(1)
    .max(256)
    .optional()
    .meta({ default: loopbackName(), brief: 'A list_interfaces name or number.' })
    .describe(
      `Network interface to capture from (e.g., lo, eth0, en0): one that list_interfaces lists, by name or by its number there; nothing else (no file, pipe or socket). Default: the loopback (${loopbackName()}); "lo0" also means "lo" on Linux.`,
    ),
  captureFilter: z
    .string()
    .max(MAX_FILTER_LENGTH)
    .optional()
    .meta({ brief: 'BPF, e.g. "port 443".' })
    .describe(
      'Optional BPF capture filter to apply while capturing (e.g., "port 443"); dumpcap checks it before capture starts.',
    ),
  timeout: configFieldsSchema.shape.timeout
    .meta({ default: CAPTURE_TIMEOUT.default, brief: 'Seconds.' })
    .describe('Timeout in seconds before auto-stopping capture (default: 60s to prevent orphaned sessions)'),
  maxPackets: configFieldsSchema.shape.maxPackets
    .meta({ default: CAPTURE_MAX_PACKETS.default, brief: '' })
    .describe('Maximum number of packets to capture (safety limit, default: 100,000)'),
  sessionName: z
    .string()
    .max(64)
    .optional()
    .meta({ brief: 'Becomes the session ID.' })
    .describe(
      "Optional session name for easier identification; it becomes the session ID (letters, digits, '.', '_', '-').",
    ),
  configName: z
    .string()
    .max(64)
    .optional()
    .meta({ brief: '' })
    .describe(
      'Name of a saved configuration (manage_config) that fills interface, captureFilter, timeout and maxPackets where this call leaves them out; arguments given here win.',
    ),
  maxFileMB: z
    .number()
    .int()
    .min(CAPTURE_MAX_FILE_MB.min)
    .max(CAPTURE_MAX_FILE_MB.max)
    .optional()
    .meta({ default: CAPTURE_MAX_FILE_MB.default, brief: '' })
    .describe('Stop when the capture file reaches this many megabytes.'),
  snaplen: z
    .number()
    .int()
    .min(CAPTURE_SNAPLEN.min)
    .max(CAPTURE_SNAPLEN.max)
    .optional()
    .meta({ default: CAPTURE_SNAPLEN.default, brief: '' })
    .describe('Bytes kept of each packet (snapshot length); smaller keeps headers only.'),
  remote: z
    .array(
      z.object({
        host: z.string().min(1).max(255).describe('Host name or IP address of the SSH server.'),
        port: z.number().int().min(1).max(65_535).optional().meta({ default: REMOTE_DEFAULTS.port }),
        user: z.string().min(1).max(32).describe('User to log in as.'),
        identityFile: z
          .string()
          .max(MAX_PATH_LENGTH)
          .optional()
          .meta({ brief: 'Private key path.' })
          .describe(
            "Absolute path of the private key (OpenSSH format, no passphrase, or loaded in ssh-agent), in the server user's ~/.ssh or an allowed directory. Left out: ssh-agent and the default keys. Passwords are never taken.",
          ),
        interface: z
          .string()
          .max(64)
          .optional()
          .meta({ default: REMOTE_DEFAULTS.interface })
          .describe('Interface to capture on that host ("any": all of them).'),
        captureCommand: z
          .enum(REMOTE_CAPTURE_COMMANDS)
          .optional()
          .meta({ default: REMOTE_DEFAULTS.captureCommand })
          .describe('What captures on that host; "sudo ..." runs it with sudo -n (no password prompt).'),
      }),
    )
    .min(1)
    .max(MAX_REMOTE_HOSTS)
    .optional()
    .meta({
      brief: 'SSH hosts to capture on instead, merged into one capture.',
    })
    .describe(
      "Capture on these hosts over SSH (Wireshark's sshdump) instead of a local interface; with several, each is captured at once and stop merges them by time into one capture whose interface per host is named after the host. Host keys are checked against the server user's ~/.ssh/known_hosts (an unknown key is refused with its fingerprint). captureFilter applies on each host, and the session's own SSH traffic (the host's SSH port) is always left out. maxPackets and maxFileMB are shared evenly among the hosts. A host that fails is reported by name while the others go on.",
    ),
});

export const startCaptureSessionTool = defineTool({
  name: 'start_capture_session',
  title: 'Start a background capture',
  brief: 'Start a background capture; returns its session ID once capture has begun.',
  description:
    'Start a background packet capture session with dumpcap and return its session ID as soon as capture has begun, so traffic made right after this call is recorded. It stops by itself at the timeout, packet or file-size limit, or with stop_capture_session, which also returns the packets. A saved configuration (configName) fills the parameters this call leaves out; explicit arguments win.',
  inputSchema,
  outputSchema: sessionViewSchema,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  handler: async (args, deps, ctx) => {
    const config =
      args.configName === undefined ? undefined : await loadNamedConfig(deps.configs, args.configName);
    const captureFilter = nonEmpty(args.captureFilter) ?? nonEmpty(config?.captureFilter);
    const iface = resolveInterfaceName(args.interface ?? config?.interface);
    if (args.remote !== undefined && args.interface !== undefined)
      throw new UserError(
        'Give either interface (a local capture) or remote (a capture on other hosts, each with its own interface), not both.',
      );
    const remote =
      args.remote === undefined
        ? undefined
        : await Promise.all(
            args.remote.map(async (h, i) => ({
              ...h,
              identityFile:
                h.identityFile === undefined
                  ? undefined
                  : await admitIdentityFile(h.identityFile, `remote[${i}].identityFile`, (f, p) =>
                      deps.sandbox.admit(f, p),
                    ),
            })),
          );
    const session = await deps.sessions.start({
      remote,
      interface: iface,
      captureFilter,
      timeout: args.timeout ?? config?.timeout ?? CAPTURE_TIMEOUT.default,
      maxPackets: args.maxPackets ?? config?.maxPackets ?? CAPTURE_MAX_PACKETS.default,
      maxFileBytes: (args.maxFileMB ?? CAPTURE_MAX_FILE_MB.default) * 1_000_000,
      snaplen: args.snaplen ?? CAPTURE_SNAPLEN.default,
      sessionName: args.sessionName,
      signal: ctx.mcpReq.signal,
    });
    const s = session.settings;
    const view = await deps.sessions.view(session);
    const lines = [
      'Capture session started successfully!',
      ...(config ? [`Using saved config: ${config.name}`] : []),
      `Session ID: ${session.id}`,
      `Interface: ${s.interface}`,
      ...hostLines(view),
      `Capture Filter: ${s.captureFilter ?? 'none'}`,
      `Timeout: ${s.timeout}s (auto-stop)`,
      `Max Packets: ${s.maxPackets} (safety limit)`,
      `Max File Size: ${formatBytes(s.maxFileBytes)}`,
      `Snapshot Length: ${s.snaplen} bytes`,
      `Process record: ${view.processRecord}`,
      '',
      `Capture is running: traffic from now on is recorded. It will auto-stop after ${s.timeout} seconds, or use 'stop_capture_session' with session ID '${session.id}' to stop it and get the packets.`,
    ];
    return textResult(lines.join('\n'), { ...view }, [
      captureLink(deps, { file: session.file, label: session.id, sessionId: session.id, live: true }),
    ]);
  },
});
