// Errors the model can act on. The MCP layer turns a UserError into an `isError` tool result whose
// text is the message; anything else is unexpected and is left to the SDK.

/** Something about the request is wrong; the message says what and what to do next. */
export class UserError extends Error {
  override name = 'UserError';
}

/**
 * A Wireshark tool the call needs is not installed, or an override points nowhere. The message
 * says which and how to install it; a tool's answer is an error result like any UserError.
 */
export class ToolMissingError extends UserError {
  override name = 'ToolMissingError';
  constructor(
    readonly tool: string,
    reason: string,
  ) {
    super(reason);
  }
}

export function abortError(): Error {
  return new DOMException('The request was cancelled.', 'AbortError');
}
