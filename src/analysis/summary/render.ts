// The summary as text for the agent: compact lines, for tool answers and resources.
import { formatBytes } from '../../capture/sessions.js';
import { formatCount, plural } from '../../util/text.js';
import { MAX_SLOWDOWN } from '../../processes/sock-diag.js';
import type { ProcessSummary } from './processes.js';
import { SIDECAR_ORIGIN, WIRESHARK_ORIGIN } from '../process-record.js';
import type { CaptureSummary } from './types.js';

/** Characters of a command line shown on a process's line. */
const CMDLINE_SHOWN = 120;

/** A number with thousands separators; '?' where it is unknown. */
function n(x: number | undefined): string {
  return x === undefined ? '?' : formatCount(x);
}

/**
 * "(10 of 57; all: <call>)": how many a list shows of how many, and the call that shows more when
 * it is cut; `moreCall(n)` is the call with topN n (undefined where no call applies, as in a
 * resource), and says itself when n is past what topN allows.
 */
function ofTotal(shown: number, total: number, moreCall: ((n: number) => string) | undefined): string {
  if (shown >= total) return `(all ${total})`;
  return `(${shown} of ${total}; more: ${moreCall ? moreCall(total) : 'the summarize_capture tool, with a larger topN'})`;
}

/** The summary as compact text, for answers and resources. */
export function renderSummary(
  label: string,
  s: CaptureSummary,
  warnings: readonly string[],
  moreCall?: (topN: number) => string,
  /** Lines that tell which decode-as rules read what tshark did not identify (after the protocols). */
  hints: readonly string[] = [],
): string {
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
  lines.push(s.limits.line);
  for (const w of warnings) lines.push(`Warning: ${w}`);
  if (s.protocols.length > 0) {
    lines.push('', 'Protocols (frames, bytes):');
    for (const p of s.protocols)
      lines.push(`${'  '.repeat(p.depth + 1)}${p.protocol}  ${n(p.frames)}  ${n(p.bytes)}`);
  }
  if (hints.length > 0) lines.push('', ...hints);
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
    const on = convs.some((c) => c.capturedOn !== undefined)
      ? ', "on" naming the capture interfaces (hosts) that saw it'
      : '';
    const ids = k === 'tcp' || k === 'udp' ? ", each ending with the flow's Community ID" : '';
    lines.push(
      '',
      `Top ${name} conversations by bytes ${ofTotal(convs.length, total, moreCall)}${on}${ids}:`,
    );
    for (const c of convs) {
      lines.push(
        `  ${c.a} <-> ${c.b}  ${c.processes === undefined ? '' : `${c.processes}  `}${plural(c.frames, 'frame')} (${n(c.framesAToB)} →, ${n(c.framesBToA)} ←), ${formatBytes(c.bytes)}, ${c.durationSeconds.toFixed(3)} s from ${c.startSeconds.toFixed(3)} s${c.capturedOn ? `, on ${c.capturedOn.join(' + ')}` : ''}${c.communityId ? `, ${c.communityId}` : ''}`,
      );
    }
  }
  if (s.processes) lines.push('', ...renderProcesses(s.processes, moreCall));
  for (const [k, name] of kinds) {
    const eps = s.endpoints.filter((e) => e.kind === k);
    if (eps.length === 0) continue;
    const total = s.endpointCounts[k] ?? eps.length;
    lines.push('', `Top ${name} endpoints by bytes ${ofTotal(eps.length, total, moreCall)}:`);
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
  if (s.expertTop.length > 0)
    lines.push(`Most frequent expert messages ${ofTotal(s.expertTop.length, s.expertMessages, moreCall)}:`);
  for (const e of s.expertTop)
    lines.push(`  ${e.severity} ×${e.count} ${e.protocol} (${e.group}): ${e.summary}`);
  return lines.join('\n');
}

/** The per-process lines, headed by what the sampling saw, so a reader knows how far to trust them. */
function renderProcesses(p: ProcessSummary, moreCall: ((n: number) => string) | undefined): string[] {
  if (p.source === 'wireshark') return renderWiresharkProcesses(p, moreCall);
  const facts = [
    `sampled every ${p.pollMs} ms while capturing`,
    `${plural(p.socketsSeen, 'socket')} seen, ${p.socketsOwned} with their process, ${plural(p.processesSeen, 'process', 'processes')}`,
    ...(p.cpuPercent === null
      ? []
      : [
          `sampling took ${p.cpuPercent}% of one core${p.sampledSeconds === null ? '' : ` over ${p.sampledSeconds} s`}`,
        ]),
    SIDECAR_ORIGIN,
  ];
  const lines = [
    `Local processes by bytes ${ofTotal(p.rows.length, p.total, moreCall)} (process attribution on: ${facts.join('; ')}):`,
  ];
  if (p.capped)
    lines.push('  The recording stopped at its socket cap: sockets opened later have no process.');
  if (p.slowedSeconds > 0)
    lines.push(
      `  For ${p.slowedSeconds} s the sampling polled up to ${MAX_SLOWDOWN * p.pollMs} ms apart to stay within its CPU budget (the machine opened sockets faster than it could follow cheaply): connections shorter than that may have no process.`,
    );
  if (!p.complete)
    lines.push(
      '  The recording did not end properly (the server stopped while capturing): later sockets are missing.',
    );
  lines.push(...processRows(p));
  if (p.unattributedConversations > 0)
    lines.push(
      `  No local process found for ${plural(p.unattributedConversations, 'TCP/UDP conversation')} (${formatBytes(p.unattributedBytes)}): not this machine's, or opened and closed between two samples.`,
    );
  if (p.unknownLocalEnds > 0)
    lines.push(
      `  ${plural(p.unknownLocalEnds, 'conversation')} ${p.unknownLocalEnds === 1 ? 'has' : 'have'} a local end with no process ("?"): its socket opened and closed between two samples (${p.pollMs} ms apart; a connection that lives longer is caught), or its process was not ours to read.`,
    );
  return lines;
}

/** The per-process lines where Wireshark attributed each packet as dumpcap captured it. */
function renderWiresharkProcesses(
  p: ProcessSummary,
  moreCall: ((n: number) => string) | undefined,
): string[] {
  const lines = [
    `Local processes by bytes ${ofTotal(p.rows.length, p.total, moreCall)} (${WIRESHARK_ORIGIN}: each process counts the packets dumpcap attributed to it):`,
  ];
  if (!p.complete)
    lines.push('  The process information was larger than the bound read: later packets are not counted.');
  lines.push(...processRows(p));
  if (p.unattributedConversations > 0)
    lines.push(
      `  No local process for ${plural(p.unattributedConversations, 'TCP/UDP conversation')} (${formatBytes(p.unattributedBytes)}): not this machine's, or dumpcap found no socket for its packets (a very short-lived one, or another user's process without the privileges to see it).`,
    );
  return lines;
}

/** One line per process: name, pid, user, counts and command line. */
function processRows(p: ProcessSummary): string[] {
  const lines: string[] = [];
  for (const r of p.rows) {
    const cmd = r.cmdline.length > CMDLINE_SHOWN ? `${r.cmdline.slice(0, CMDLINE_SHOWN - 1)}…` : r.cmdline;
    lines.push(
      `  ${r.comm}[${r.pid}]${r.user === null ? '' : ` (${r.user})`}  ${plural(r.conversations, 'conversation')}, ${plural(r.frames, 'frame')}, ${formatBytes(r.bytes)}${cmd === '' ? '' : `: ${cmd}`}`,
    );
  }
  return lines;
}
