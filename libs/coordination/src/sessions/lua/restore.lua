--[[
  Write a dumped session back (import), with its own expiries, and add it to its user's index.
  Idempotent: the record is replaced as a whole, the member scored by its creation time.

  Input:
    KEYS[1] index     the user's index
    KEYS[2] session   the record (`prefix .. member`, same slot)
    ARGV[1] member    the session's member
    ARGV[2] e         its idle expiry    ARGV[3] x   its absolute expiry    ARGV[4] t   its creation (epoch ms)
    ARGV[5..] the record's `field, value` pairs, as dumped (e, x and t among them)

  Output:
    1  restored, the key expiring at min(e, x)
    0  its idle or absolute expiry has passed: nothing written
]]
--! include ../../lua/server-time.lua
--! include ./include/session-index.lua
--! include ./include/session-record.lua
local index, session = KEYS[1], KEYS[2]
local e, x, t = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local now = server_time_ms()
if e <= now or x <= now then return 0 end
redis.call('DEL', session)
record_set_pairs(session, ARGV, 5, #ARGV)
redis.call('PEXPIREAT', session, math.min(e, x))
redis.call('ZADD', index, t, ARGV[1])
index_keep_until(index, now, x)
return 1
