// Reading a digest the way the inspect_protocol tests do: every row in one page, with the
// aggregate line and the answer's text, and a failure that shows the answer when it is an error.
import assert from 'node:assert/strict';
import type { Session } from './mcp-client.js';

export type Rows = Record<string, string | number | null>[];

export async function inspectRows(
  mcp: Session,
  args: Record<string, unknown>,
): Promise<{ rows: Rows; aggregate: string; text: string }> {
  const answer = await mcp.call('inspect_protocol', { limit: 10_000, maxChars: 200_000, ...args });
  assert.equal(answer.isError, false, answer.text);
  return {
    rows: answer.structured?.['rows'] as Rows,
    aggregate: String(answer.structured?.['aggregate']),
    text: answer.text,
  };
}
