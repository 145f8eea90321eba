--[[
  Move a session to a new member (regeneration): the same record and lifetimes under the new
  key, the activity recorded, the old key gone, the index updated; all or nothing.

  Input:
    KEYS[1] index     the user's index
    KEYS[2] from      the session's record (`prefix .. from`)
    KEYS[3] to        the new record (`prefix .. to`, same slot)
    ARGV[1] from      the old member   ARGV[2] to   the new member
    ARGV[3] graceMs   how long the index outlives the session's absolute expiry

  RENAME keeps the key's expiry (its `e`); `l` is rewritten in place (SETRANGE); the new member
  takes the old one's score (its creation time, or `t` when the index lost it).

  Output:
    the record under its new key (the string; l = now)    nil when the old session was gone (nothing written)
]]
--! include ../../lua/server-time.lua
--! include ./include/session-index.lua
--! include ./include/session-record.lua
local index, from, to = KEYS[1], KEYS[2], KEYS[3]
local now = server_time_ms()
local value, x = record_live(from, now)
if not value then return false end
local score = redis.call('ZSCORE', index, ARGV[1]) or record_created(value)
local l = string.format('%013d', now)
redis.call('RENAME', from, to)
redis.call('SETRANGE', to, 1, l)
redis.call('ZREM', index, ARGV[1])
redis.call('ZADD', index, score, ARGV[2])
index_keep_until(index, now, x + tonumber(ARGV[3]))
return RECORD_FORMAT .. l .. string.sub(value, 15)
