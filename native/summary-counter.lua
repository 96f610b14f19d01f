-- Loads SharkMCP's summary counter (summary-counter.c) into this tshark run.
-- Arguments: the library's path, then the warm-up (packets to see but not count).
local library, warmup = ...
local register = assert(package.loadlib(library, "sharkmcp_summary_register"))
register(tonumber(warmup) or 0)
