--[[
  Move a session to a new member (regeneration): the same record and lifetimes under the new
  key, the activity recorded and the idle lifetime restarted (as read.lua), the old key gone,
  the index updated; all or nothing.

  Input:
    KEYS[1] index     the user's index
    KEYS[2] from      the session's record (`prefix .. from`)
    KEYS[3] to        the new record (`prefix .. to`, same slot)
    ARGV[1] from      the old member   ARGV[2] to   the new member
    ARGV[3] graceMs   how long the index outlives the session's absolute expiry

  After the RENAME, `l` and `e` are rewritten in place (SETRANGE: l = now, e = now + i, at most
  x) and the new key expires at e; the new member takes the old one's score (its creation time,
  or `t` when the index lost it).

  Output:
    the record under its new key (the string; l = now, e restarted)    nil when the old session was gone (nothing written)
]]
--! include ../../lua/server-time.lua
--! include ./include/session-index.lua
--! include ./include/session-record.lua
local index, from, to = KEYS[1], KEYS[2], KEYS[3]
local now = server_time_ms()
local value, x = record_live(from, now)
if not value then return false end
local score = redis.call('ZSCORE', index, ARGV[1]) or record_created(value)
redis.call('RENAME', from, to)
local record = record_touch(to, value, now, record_idle(value), x)
redis.call('ZREM', index, ARGV[1])
redis.call('ZADD', index, score, ARGV[2])
index_keep_until(index, now, x + tonumber(ARGV[3]))
return record
