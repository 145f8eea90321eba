--[[
  Extend a session: its idle expiry becomes now + idleMs (at most its absolute expiry), and
  the activity is recorded. The idle lifetime `i` that later reads slide by is unchanged.

  Input:
    KEYS[1] session   the record
    ARGV[1] idleMs    whole ms > 0

  Output:
    the record as updated (HGETALL)    {} when the session is gone
]]
--! include ../../lua/server-time.lua
--! include ./include/session-record.lua
local session = KEYS[1]
local now = server_time_ms()
local x = record_deadline(session, now)
if not x then return {} end
record_touch(session, now, tonumber(ARGV[1]), x)
return redis.call('HGETALL', session)
