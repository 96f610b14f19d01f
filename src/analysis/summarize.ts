// The "what is in here?" answer: capinfos facts plus one tshark pass that prints several
// statistics at once (protocol hierarchy, conversations, endpoints, expert info), reduced to the
// top entries.
import { abortError } from '../errors.js';
import { captureFacts } from '../wireshark/capinfos.js';
import type { CaptureFacts } from '../wireshark/capinfos.js';
import type { WiresharkTools } from '../wireshark/locate.js';
import type { ProcessGroup } from '../wireshark/process.js';
import { LIVE_NOTE, readProblem } from './analyze-capture.js';
import { watchRead } from './progress.js';
import type { ProgressSink } from './progress.js';
import { formatBytes } from '../capture/sessions.js';
import { LineSplitter, plural } from '../util/text.js';
import { ConversationAggregator, CONVERSATION_FIELDS } from './conversations.js';
import { parseStatistics, SUMMARY_STATISTICS } from './stats.js';
import type { Conversation, Endpoint, ExpertEntry, ProtocolNode, Severity } from './stats.js';

export interface CaptureSummary {
  readonly facts: CaptureFacts;
  readonly protocols: readonly ProtocolNode[];
  /** The topN conversations of each kind, by bytes. */
  readonly conversations: readonly Conversation[];
  readonly conversationCounts: Readonly<Record<string, number>>;
  /** The topN endpoints of each kind, by bytes. */
  readonly endpoints: readonly Endpoint[];
  readonly expertCounts: Readonly<Record<Severity, number>>;
  /** The topN most frequent expert messages, errors and warnings first. */
  readonly expertTop: readonly ExpertEntry[];
  readonly warnings: readonly string[];
}

const MAX_STATS_OUTPUT = 64 * 1024 * 1024;
const SEVERITY_ORDER: Severity[] = ['error', 'warning', 'note', 'chat', 'comment'];

export async function summarizeCapture(
  group: ProcessGroup,
  tools: WiresharkTools,
  request: {
    file: string;
    topN: number;
    keylogFile?: string | undefined;
    timeoutMs: number;
    live?: boolean | undefined;
  },
  signal?: AbortSignal,
  progress?: ProgressSink,
): Promise<CaptureSummary> {
  const tshark = tools.require('tshark');
  const capinfos = tools.require('capinfos');
  // One pass: a fields line per packet (for exact conversations), then the -z statistics.
  const args = ['-r', request.file];
  if (request.keylogFile) args.push('-o', `tls.keylog_file:${request.keylogFile}`);
  args.push('-T', 'fields');
  for (const f of CONVERSATION_FIELDS) args.push('-e', f);
  for (const z of SUMMARY_STATISTICS) args.push('-z', z);
  const lines = new LineSplitter(64 * 1024);
  const aggregator = new ConversationAggregator();
  const statsText: string[] = [];
  let statsSize = 0;
  let inStats = false;
  const take = (line: string): 'continue' | 'stop' => {
    if (!inStats && (line === '' || line.startsWith('='))) inStats = true;
    if (!inStats) {
      aggregator.add(line.split('\t'));
      return 'continue';
    }
    statsText.push(line);
    statsSize += line.length + 1;
    return statsSize > MAX_STATS_OUTPUT ? 'stop' : 'continue';
  };
  const factsRun = captureFacts(group, capinfos, request.file, signal);
  let stopWatching: Promise<() => void> | undefined;
  const [facts, result] = await Promise.all([
    factsRun,
    group.run({
      onStart: progress
        ? (pid) => {
            const total = factsRun.then(
              (f) => f.packets,
              () => undefined,
            );
            stopWatching = watchRead(pid, request.file, total, progress).catch(() => () => undefined);
          }
        : undefined,
      command: tshark,
      args,
      timeoutMs: request.timeoutMs,
      signal,
      onStdout: (chunk) => {
        for (const line of lines.push(chunk)) if (take(line.text) === 'stop') return 'stop';
        return 'continue';
      },
    }),
  ]);
  for (const line of lines.end()) take(line.text);
  if (stopWatching) (await stopWatching)();
  if (result.aborted) throw abortError();
  const warnings: string[] = [];
  const read = readProblem(result.stderr, request.file, request.live === true);
  warnings.push(...read.warnings);
  if (read.other !== undefined) warnings.push(`tshark said: ${read.other}`);
  if (request.live) warnings.push(LIVE_NOTE);
  if (result.timedOut)
    warnings.push(
      `tshark was stopped after ${Math.round(request.timeoutMs / 1000)} s; the statistics are incomplete.`,
    );
  if (result.stoppedEarly)
    warnings.push('The statistics were larger than 64 MB of text; the summary covers what was read.');

  const stats = parseStatistics(statsText.join('\n'));
  const conversations = aggregator.conversations();
  const topByBytes = <T extends { kind: string; bytes: number }>(items: readonly T[]): T[] => {
    const byKind = new Map<string, T[]>();
    for (const item of items) byKind.set(item.kind, [...(byKind.get(item.kind) ?? []), item]);
    return [...byKind.values()].flatMap((list) =>
      [...list].sort((x, y) => y.bytes - x.bytes).slice(0, request.topN),
    );
  };
  const conversationCounts: Record<string, number> = {};
  for (const c of conversations) conversationCounts[c.kind] = (conversationCounts[c.kind] ?? 0) + 1;
  const expertCounts = Object.fromEntries(SEVERITY_ORDER.map((s) => [s, 0])) as Record<Severity, number>;
  for (const e of stats.expert) expertCounts[e.severity] += e.count;
  const expertTop = [...stats.expert]
    .sort(
      (x, y) => SEVERITY_ORDER.indexOf(x.severity) - SEVERITY_ORDER.indexOf(y.severity) || y.count - x.count,
    )
    .slice(0, request.topN);
  return {
    facts,
    // With per-packet fields printed, io,phs roots its tree at "frame"; without, it does not.
    protocols: stats.protocols
      .filter((p) => p.path !== 'frame')
      .map((p) => (p.path.startsWith('frame:') ? { ...p, path: p.path.slice(6), depth: p.depth - 1 } : p)),
    conversations: topByBytes(conversations),
    conversationCounts,
    endpoints: topByBytes(stats.endpoints),
    expertCounts,
    expertTop,
    warnings,
  };
}

/** The summary as compact text, for answers and resources. */
function n(x: number | undefined): string {
  return x === undefined ? '?' : x.toLocaleString('en-US');
}

export function renderSummary(label: string, s: CaptureSummary, warnings: readonly string[]): string {
  const f = s.facts;
  const lines = [`Summary of ${label}`];
  lines.push(
    `File: ${f.fileType ?? 'unknown type'}, ${plural(f.packets ?? 0, 'packet')}, ${n(f.fileBytes)} bytes on disk (${n(f.dataBytes)} of packet data), ${f.durationSeconds === undefined ? 'no duration' : `${f.durationSeconds.toFixed(3)} s`}${f.firstPacketTime ? ` from ${f.firstPacketTime} to ${f.lastPacketTime ?? '?'}` : ''}.`,
  );
  if (f.interfaces.length > 0) {
    lines.push(
      `Interfaces: ${f.interfaces
        .map(
          (i) =>
            `${i.name ?? i.description ?? 'unnamed'}${i.encapsulation ? ` (${i.encapsulation})` : ''}${i.packets !== undefined ? `, ${plural(i.packets, 'packet')}` : ''}`,
        )
        .join('; ')}`,
    );
  }
  for (const w of warnings) lines.push(`Warning: ${w}`);
  if (s.protocols.length > 0) {
    lines.push('', 'Protocols (frames, bytes):');
    for (const p of s.protocols)
      lines.push(`${'  '.repeat(p.depth + 1)}${p.protocol}  ${n(p.frames)}  ${n(p.bytes)}`);
  }
  const kinds: [string, string][] = [
    ['tcp', 'TCP'],
    ['udp', 'UDP'],
    ['ipv4', 'IPv4'],
    ['ipv6', 'IPv6'],
  ];
  for (const [k, name] of kinds) {
    const convs = s.conversations.filter((c) => c.kind === k);
    if (convs.length === 0) continue;
    const total = s.conversationCounts[k] ?? convs.length;
    lines.push('', `Top ${name} conversations by bytes (${convs.length} of ${total}):`);
    for (const c of convs) {
      lines.push(
        `  ${c.a} <-> ${c.b}  ${plural(c.frames, 'frame')} (${c.framesAToB} →, ${c.framesBToA} ←), ${formatBytes(c.bytes)}, ${c.durationSeconds.toFixed(3)} s from ${c.startSeconds.toFixed(3)} s`,
      );
    }
  }
  for (const [k, name] of kinds) {
    const eps = s.endpoints.filter((e) => e.kind === k);
    if (eps.length === 0) continue;
    lines.push('', `Top ${name} endpoints by bytes:`);
    for (const e of eps) {
      lines.push(
        `  ${e.address}  ${plural(e.packets, 'packet')}, ${formatBytes(e.bytes)} (sent ${formatBytes(e.txBytes)}, received ${formatBytes(e.rxBytes)})`,
      );
    }
  }
  const c = s.expertCounts;
  lines.push(
    '',
    `Expert info: ${plural(c.error, 'error')}, ${plural(c.warning, 'warning')}, ${plural(c.note, 'note')}, ${plural(c.chat, 'chat')}`,
  );
  for (const e of s.expertTop)
    lines.push(`  ${e.severity} ×${e.count} ${e.protocol} (${e.group}): ${e.summary}`);
  return lines.join('\n');
}
