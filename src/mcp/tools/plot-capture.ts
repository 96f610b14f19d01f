// plot_capture: a picture of a capture (I/O graph, TCP stream graph, RTT, throughput, flow) as an
// MCP image, with the numbers it was drawn from beside it.
import * as z from 'zod';
import { PLOT_KINDS, PLOT_LIMITS, plotFactsSchema } from '../../analysis/plot/index.js';
import { MAX_FILTER_LENGTH, MAX_FLOW_PACKETS, PLOT_DEFAULTS } from '../../limits.js';
import { captureLink } from '../resources.js';
import { defineTool } from '../tool.js';
import { intervalParam } from './interval-param.js';
import { dissectionParams, keylogParam, sourceAndKeylog, sourceParam } from './analysis-params.js';

const inputSchema = z.object({
  source: sourceParam,
  kind: z
    .enum(PLOT_KINDS)
    .meta({ brief: '' })
    .describe(
      "io: packets and bytes per second over time (tshark's I/O graph), one line per filter in series. tcp_stream: sequence number over time for one stream, retransmissions and zero windows marked. rtt: round-trip time of each acked segment over time, for one stream. throughput: payload bytes/s per direction, for one stream. flow: a sequence diagram of the first packets between hosts (also as Mermaid text).",
    ),
  stream: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31)
    .optional()
    .meta({ brief: 'For tcp_stream, rtt, throughput.' })
    .describe(
      'The TCP stream index (tcp.stream): needed by tcp_stream, rtt and throughput; narrows flow to it.',
    ),
  interval: intervalParam(0.001)
    .meta({ default: PLOT_DEFAULTS.interval, brief: '' })
    .describe('Seconds per bucket for io and throughput; "auto" cuts the time into about 100 buckets.'),
  series: z
    .array(z.string().min(1).max(MAX_FILTER_LENGTH))
    .max(PLOT_LIMITS.series)
    .optional()
    .meta({ brief: 'For io: a line per display filter.' })
    .describe(
      'For io: display filters, one line each (e.g. ["tcp", "udp", "tcp.analysis.retransmission"]); without it, one line of all packets. No commas inside a filter (tshark\'s I/O statistics split at them).',
    ),
  displayFilter: z
    .string()
    .max(MAX_FILTER_LENGTH)
    .optional()
    .meta({ brief: '' })
    .describe('Only packets that match this Wireshark display filter, e.g. "ip.addr == 10.0.0.5".'),
  limit: z
    .number()
    .int()
    .min(1)
    .max(MAX_FLOW_PACKETS)
    .optional()
    .meta({ default: PLOT_DEFAULTS.flowPackets, brief: 'For flow: packets to draw.' })
    .describe('For flow: how many packets to draw, from the first that match.'),
  sslKeylogFile: keylogParam,
  ...dissectionParams,
});

export const plotCaptureTool = defineTool({
  name: 'plot_capture',
  title: 'Plot a capture',
  brief:
    "A PNG with its numbers: I/O graph, a TCP stream's sequence, RTT or throughput, or a flow diagram (also Mermaid).",
  description:
    'A picture of a capture as a PNG image, with the numbers it was drawn from as text and structuredContent (at most 200 rows, evenly spaced, and the count of all; the picture of a long stream is thinned to its outline while its counts stay exact): the I/O graph, a TCP stream graph (retransmissions and zero windows marked), round-trip times, throughput, or a flow (sequence) diagram that also comes as Mermaid sequenceDiagram text. Decrypts TLS with sslKeylogFile.',
  inputSchema,
  outputSchema: plotFactsSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  handler: async (args, deps, ctx) => {
    const { source, keylog } = await sourceAndKeylog(deps, args, ctx.mcpReq.signal);
    const { png, text, facts } = await deps.plotter.plot({ ...args, source, keylog }, ctx.mcpReq.signal);
    return {
      content: [
        { type: 'image', mimeType: 'image/png', data: png.toString('base64') },
        { type: 'text', text },
        captureLink(deps, source),
      ],
      structuredContent: facts,
    };
  },
});
