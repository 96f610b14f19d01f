-- Loads SharkMCP's conversation counter (conversations.c) into this tshark run.
-- Arguments: the library's path, then the warm-up (packets to see but not count).
local library, warmup = ...
local register = assert(package.loadlib(library, "sharkmcp_conversations_register"))
register(tonumber(warmup) or 0)
