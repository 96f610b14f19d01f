-- Loads SharkMCP's summary counter (summary-counter.c) into this tshark run.
-- Arguments: the library's path, the warm-up (packets to see but not count), the file the
-- frames' streams are written to (none: not asked for), and the packets the decode-as hints'
-- scan reads (none or 0: no scan).
local library, warmup, streams, hints = ...
local register = assert(package.loadlib(library, "sharkmcp_summary_register"))
register(tonumber(warmup) or 0, streams or "", tonumber(hints) or 0)
