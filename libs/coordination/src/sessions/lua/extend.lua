--[[
  Extend a session: its idle expiry becomes now + idleMs (at most its absolute expiry), and
  the activity is recorded. The idle lifetime `i` that later reads slide by is unchanged.

  Input:
    KEYS[1] session   the record (a string, see include/session-record.lua)
    ARGV[1] idleMs    whole ms > 0

  Output:
    the record as updated (the string)    nil when the session is gone
]]
--! include ../../lua/server-time.lua
--! include ./include/session-record.lua
local session = KEYS[1]
local now = server_time_ms()
local value, x = record_live(session, now)
if not value then return false end
return record_touch(session, value, now, tonumber(ARGV[1]), x)
