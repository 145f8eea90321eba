--[[
  Extend a session: its idle lifetime `i` becomes idleMs (later sliding reads, updates and
  regenerations restart it for that long), its idle expiry now + idleMs (at most its absolute
  expiry), and the activity is recorded.

  Input:
    KEYS[1] session   the record (a string, see include/session-record.lua)
    ARGV[1] idleMs    whole ms > 0 (at most 11 digits)

  `l` and `e` are rewritten in place (one SETRANGE), then `i` (another); the key expires at e.

  Output:
    the record as updated (the string)    nil when the session is gone
]]
--! include ../../lua/server-time.lua
--! include ./include/session-record.lua
local session = KEYS[1]
local idle = tonumber(ARGV[1])
local digits = record_idle_digits(idle)
local now = server_time_ms()
local value, x = record_live(session, now)
if not value then return false end
return record_set_idle(session, record_touch(session, value, now, idle, x), digits)
