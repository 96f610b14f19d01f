-- Loads SharkMCP's summary counter (summary-counter.c) into this tshark run.
-- Arguments: the library's path, the warm-up (packets to see but not count), and the file the
-- frames' streams are written to (none: not asked for).
local library, warmup, streams = ...
local register = assert(package.loadlib(library, "sharkmcp_summary_register"))
register(tonumber(warmup) or 0, streams or "")
