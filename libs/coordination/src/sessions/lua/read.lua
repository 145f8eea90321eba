--[[
  Read a session and record the activity (sliding): one round trip.

  Input:
    KEYS[1] session   the record

  The idle lifetime restarts: e = now + i, at most x; l = now; the key expires at e.
  A record past its absolute expiry is never returned (Redis drops it at e <= x anyway).

  Output:
    the record as updated (HGETALL)    {} when the session is gone
]]
--! include ../../lua/server-time.lua
--! include ./include/session-record.lua
local session = KEYS[1]
local now = server_time_ms()
-- The hot path (every request of a sliding session): both time fields in one HMGET.
local times = redis.call('HMGET', session, 'x', 'i')
local x = tonumber(times[1])
if x == nil or x <= now then return {} end
record_touch(session, now, tonumber(times[2]), x)
return redis.call('HGETALL', session)
