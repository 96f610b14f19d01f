// Prompts for the common workflows: each a short plan that names the tools to call.
import type { McpServer } from '@modelcontextprotocol/server';
import * as z from 'zod';

interface PromptSpec {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly args: z.ZodObject<Record<string, z.ZodOptional<z.ZodString>>>;
  readonly plan: (args: Record<string, string | undefined>) => string;
}

const opt = (d: string): z.ZodOptional<z.ZodString> => z.string().max(256).optional().describe(d);

/** Where a capture prompt captures: an interface, or a saved configuration's settings. */
const captureArgs = {
  interface: opt('The interface to capture on (default loopback; list_interfaces shows them).'),
  config: opt('A saved configuration (manage_config) to start the capture with.'),
};

/** The start_capture_session words for a prompt's interface or saved configuration. */
function captureFrom(a: Record<string, string | undefined>): string {
  if (a['config'])
    return ` (the settings of saved configuration "${a['config']}": manage_config action "load" gives them)`;
  return a['interface'] ? ` on interface "${a['interface']}"` : '';
}

export const PROMPTS: readonly PromptSpec[] = [
  {
    name: 'debug_http_client',
    title: 'Debug an HTTP client',
    description:
      'Capture what an HTTP client sends and receives, then read the requests, statuses and timing.',
    args: z.object({
      port: opt('The server port the client talks to, e.g. 8080.'),
      command: opt('How the client is run.'),
      ...captureArgs,
    }),
    plan: (a) =>
      [
        `Debug an HTTP client${a['command'] ? ` run with: ${a['command']}` : ''}.`,
        `1. start_capture_session${captureFrom(a)} with captureFilter "tcp port ${a['port'] ?? '<the server port>'}"${a['interface'] || a['config'] ? '' : ' (loopback is the default interface; list_interfaces shows others)'}.`,
        '2. Run the client now, while the capture runs.',
        '3. stop_capture_session with that sessionId and displayFilter "http" to see the exchange.',
        '4. inspect_protocol kind "http" on the session for method, URI, status and response time per request; kind "tcp_health" for resets and retransmissions.',
        '5. follow_stream protocol "http" on a suspicious connection to read its headers and bodies; get_packet_details for one packet\'s whole tree.',
      ].join('\n'),
  },
  {
    name: 'tls_handshake_failure',
    title: 'Diagnose a TLS handshake failure',
    description: 'Find why a TLS connection fails: versions, ciphers, SNI, ALPN and alerts.',
    args: z.object({
      host: opt('The server name (SNI) the client asks for.'),
      port: opt('The server port, e.g. 443.'),
      keylog: opt('A TLS keylog file (SSLKEYLOGFILE) to decrypt with, if there is one.'),
      ...captureArgs,
    }),
    plan: (a) =>
      [
        `Diagnose a failing TLS handshake${a['host'] ? ` to ${a['host']}` : ''}.`,
        `1. start_capture_session${captureFrom(a)} with captureFilter "tcp port ${a['port'] ?? '443'}", reproduce the failure, then stop_capture_session.`,
        `2. inspect_protocol kind "tls" on the session: per handshake the SNI, offered and chosen versions, cipher, ALPN, alerts and outcome${a['keylog'] ? `; pass sslKeylogFile "${a['keylog']}"` : ''}.`,
        '3. If a working client exists, capture it too and compare_captures baseline (works) with candidate (fails).',
        '4. get_packet_details on the ClientHello and the alert frames (protocols ["tls"]) for every extension.',
      ].join('\n'),
  },
  {
    name: 'slow_connection',
    title: 'Investigate a slow connection',
    description: 'Find where time goes on a TCP connection: round trips, retransmissions, zero windows.',
    args: z.object({ port: opt('The server port of the slow service.'), ...captureArgs }),
    plan: (a) =>
      [
        'Investigate a slow connection.',
        `1. start_capture_session${captureFrom(a)} with captureFilter "tcp port ${a['port'] ?? '<the service port>'}", make the slow request, then stop_capture_session.`,
        '2. summarize_capture on the session: duration, conversations and expert warnings.',
        '3. inspect_protocol kind "tcp_health": retransmissions, duplicate ACKs, zero windows, resets and RTT per conversation.',
        '4. inspect_protocol kind "http" (or "dns") for response times of each request; follow_stream the slowest one.',
      ].join('\n'),
  },
  {
    name: 'dns_problems',
    title: 'Debug DNS resolution',
    description: 'See which names are asked, what the answers are, and which fail.',
    args: z.object({ name: opt('The name that does not resolve as expected.'), ...captureArgs }),
    plan: (a) =>
      [
        `Debug DNS resolution${a['name'] ? ` of ${a['name']}` : ''}.`,
        `1. start_capture_session${captureFrom(a) || ' on the interface the resolver uses'} with captureFilter "port 53", resolve the name, then stop_capture_session.`,
        `2. inspect_protocol kind "dns"${a['name'] ? ` with displayFilter "dns.qry.name == \\"${a['name']}\\""` : ''}: query, type, rcode (NXDOMAIN, SERVFAIL...), answers and response time.`,
        '3. Queries with "no response" point at the network or the server; compare_captures with a machine where it works shows the different answers.',
      ].join('\n'),
  },
  {
    name: 'triage_capture',
    title: 'Triage a capture',
    description:
      'Read a capture session or file from the top down: what is in it, what failed, then one stream.',
    args: z.object({
      source: opt('A capture session id or a capture file inside the roots.'),
      kind: opt('A protocol digest to read (an inspect_protocol kind, e.g. "http", "dns", "tls").'),
    }),
    plan: (a: Record<string, string | undefined>): string => {
      const source = a['source'] ? `"${a['source']}"` : '<the session id or capture file>';
      return [
        `Triage the capture ${source}.`,
        `1. summarize_capture source ${source}: protocols, top conversations, the Capture limits line and expert messages.`,
        `2. inspect_protocol source ${source} kind "${a['kind'] ?? '<the main protocol: http, dns, tls...>'}": one row per request or handshake, with the failures counted.`,
        `3. inspect_protocol kind "tcp_health" for resets, retransmissions and zero windows.`,
        '4. follow_stream on the stream of a failing row, and get_packet_details on its first bad packet.',
      ].join('\n');
    },
  },
];

/** The argument names of prompt `name`, or undefined when there is no such prompt. */
export function promptArguments(name: string): readonly string[] | undefined {
  const prompt = PROMPTS.find((p) => p.name === name);
  return prompt && Object.keys(prompt.args.shape);
}

export function registerPrompts(server: McpServer): void {
  for (const p of PROMPTS) {
    server.registerPrompt(
      p.name,
      { title: p.title, description: p.description, argsSchema: p.args },
      (args) => ({
        description: p.description,
        messages: [
          {
            role: 'user',
            content: { type: 'text', text: p.plan(args as Record<string, string | undefined>) },
          },
        ],
      }),
    );
  }
}
