--[[
  Move a session to a new member (regeneration): the same record and lifetimes under the new
  key, the activity recorded, the old key gone, the index updated; all or nothing.

  Input:
    KEYS[1] index     the user's index
    KEYS[2] from      the session's record (`prefix .. from`)
    KEYS[3] to        the new record (`prefix .. to`, same slot)
    ARGV[1] from      the old member   ARGV[2] to   the new member

  RENAME keeps the key's expiry (its `e`); the new member takes the old one's score (its
  creation time, or `t` when the index lost it).

  Output:
    the record under its new key (HGETALL; l = now)    {} when the old session was gone (nothing written)
]]
--! include ../../lua/server-time.lua
--! include ./include/session-index.lua
--! include ./include/session-record.lua
local index, from, to = KEYS[1], KEYS[2], KEYS[3]
local now = server_time_ms()
local x = record_deadline(from, now)
if not x then return {} end
local score = redis.call('ZSCORE', index, ARGV[1]) or redis.call('HGET', from, 't')
redis.call('RENAME', from, to)
redis.call('HSET', to, 'l', now)
redis.call('ZREM', index, ARGV[1])
redis.call('ZADD', index, score, ARGV[2])
index_keep_until(index, now, x)
return redis.call('HGETALL', to)
