// The flow kind's diagram as Mermaid text (a `sequenceDiagram`), which many chat clients draw.
// Pure.

export interface FlowMessage {
  readonly frame: number;
  readonly time: number;
  readonly from: string;
  readonly to: string;
  readonly protocol: string;
  readonly info: string;
}

/** The endpoints in the order they first appear, as the picture's lanes and Mermaid's participants. */
export function participantsOf(messages: readonly FlowMessage[]): string[] {
  const seen = new Set<string>();
  for (const m of messages) {
    seen.add(m.from);
    seen.add(m.to);
  }
  return [...seen];
}

/**
 * Mermaid breaks a message at ';' and '#' starts an entity, so both are written as entities;
 * a line break would end the statement.
 */
function mermaidText(s: string): string {
  return s.replace(/[#;]/g, (c) => (c === '#' ? '#35;' : '#59;')).replace(/[\r\n]+/g, ' ');
}

/** The messages as a Mermaid sequence diagram: participants P1.. aliased to their addresses. */
export function mermaidSequence(messages: readonly FlowMessage[]): string {
  const participants = participantsOf(messages);
  const id = new Map(participants.map((p, i) => [p, `P${i + 1}`]));
  const lines = ['sequenceDiagram'];
  for (const p of participants) lines.push(`  participant ${id.get(p) ?? ''} as ${mermaidText(p)}`);
  for (const m of messages)
    lines.push(
      `  ${id.get(m.from) ?? ''}->>${id.get(m.to) ?? ''}: ${mermaidText(`${m.frame} ${m.protocol} ${m.info}`)}`,
    );
  return lines.join('\n');
}
