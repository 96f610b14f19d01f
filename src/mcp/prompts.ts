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

export const PROMPTS: readonly PromptSpec[] = [
  {
    name: 'debug_http_client',
    title: 'Debug an HTTP client',
    description:
      'Capture what an HTTP client sends and receives, then read the requests, statuses and timing.',
    args: z.object({
      port: opt('The server port the client talks to, e.g. 8080.'),
      command: opt('How the client is run.'),
    }),
    plan: (a) =>
      [
        `Debug an HTTP client${a['command'] ? ` run with: ${a['command']}` : ''}.`,
        `1. start_capture_session with captureFilter "tcp port ${a['port'] ?? '<the server port>'}" (loopback is the default interface; list_interfaces shows others).`,
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
    }),
    plan: (a) =>
      [
        `Diagnose a failing TLS handshake${a['host'] ? ` to ${a['host']}` : ''}.`,
        `1. start_capture_session with captureFilter "tcp port ${a['port'] ?? '443'}", reproduce the failure, then stop_capture_session.`,
        `2. inspect_protocol kind "tls" on the session: per handshake the SNI, offered and chosen versions, cipher, ALPN, alerts and outcome${a['keylog'] ? `; pass sslKeylogFile "${a['keylog']}"` : ''}.`,
        '3. If a working client exists, capture it too and compare_captures baseline (works) with candidate (fails).',
        '4. get_packet_details on the ClientHello and the alert frames (protocols ["tls"]) for every extension.',
      ].join('\n'),
  },
  {
    name: 'slow_connection',
    title: 'Investigate a slow connection',
    description: 'Find where time goes on a TCP connection: round trips, retransmissions, zero windows.',
    args: z.object({ port: opt('The server port of the slow service.') }),
    plan: (a) =>
      [
        'Investigate a slow connection.',
        `1. start_capture_session with captureFilter "tcp port ${a['port'] ?? '<the service port>'}", make the slow request, then stop_capture_session.`,
        '2. summarize_capture on the session: duration, conversations and expert warnings.',
        '3. inspect_protocol kind "tcp_health": retransmissions, duplicate ACKs, zero windows, resets and RTT per conversation.',
        '4. inspect_protocol kind "http" (or "dns") for response times of each request; follow_stream the slowest one.',
      ].join('\n'),
  },
  {
    name: 'dns_problems',
    title: 'Debug DNS resolution',
    description: 'See which names are asked, what the answers are, and which fail.',
    args: z.object({ name: opt('The name that does not resolve as expected.') }),
    plan: (a) =>
      [
        `Debug DNS resolution${a['name'] ? ` of ${a['name']}` : ''}.`,
        '1. start_capture_session with captureFilter "port 53" (on the interface the resolver uses), resolve the name, then stop_capture_session.',
        `2. inspect_protocol kind "dns"${a['name'] ? ` with displayFilter "dns.qry.name == \\"${a['name']}\\""` : ''}: query, type, rcode (NXDOMAIN, SERVFAIL...), answers and response time.`,
        '3. Queries with "no response" point at the network or the server; compare_captures with a machine where it works shows the different answers.',
      ].join('\n'),
  },
];

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
