--[[
  Read a session and record the activity (sliding): one round trip.

  Input:
    KEYS[1] session   the record (a string, see include/session-record.lua)

  The idle lifetime restarts: e = now + i, at most x; l = now (one SETRANGE in place); the key
  expires at e. A record past its absolute expiry is never returned (Redis drops it at e <= x anyway).

  Output:
    the record as updated (the string)    nil when the session is gone
]]
--! include ../../lua/server-time.lua
--! include ./include/session-record.lua
local session = KEYS[1]
local now = server_time_ms()
local value, x = record_live(session, now)
if not value then return false end
return record_touch(session, value, now, record_idle(value), x)
