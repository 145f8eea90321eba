--[[
  Take one permit of a counting semaphore. Every permit has its own expiry, so a crashed
  holder's permit comes back by itself.

  Input:
    KEYS[1] holders   expiring set (see expiring-set.lua): member = permit token
    KEYS[2] fence     counter (see fence.lua)
    ARGV[1] token     ARGV[2] permits (the limit)     ARGV[3] ttlMs

  Output:
    { 1, fencingToken, ttlMs }      permit taken (or refreshed, when this token holds one)
    { 0, msUntilFirstExpiry }       all permits held
]]
--! include ../../lua/server-time.lua
--! include ./expiring-set.lua
--! include ./fence.lua
local holders, fenceKey = KEYS[1], KEYS[2]
local token, limit, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now = server_time_ms()
-- Reads first (see queue.lua: cluster slot migrations): a refusal writes nothing.
if not expiring_set_live(holders, token, now) and expiring_set_count(holders, now) >= limit then
  return { 0, expiring_set_first_expiry(holders, now) }
end
expiring_set_put(holders, token, now, ttl)
return { 1, fence_next(fenceKey), ttl }
