--[[
  Who leads a role, and for how long more (one consistent read of the hash and its TTL).

  Input:
    KEYS[1] lease   the role's hash (see campaign.lua)
    (no ARGV)

  Output:
    { candidate, instance, fencingToken, since, pttlMs }   the current term
    false (nil)                                            no leader
]]
local held = redis.call('HMGET', KEYS[1], 'candidate', 'instance', 'token', 'since')
if not held[1] then return false end
return { held[1], held[2], held[3], held[4], redis.call('PTTL', KEYS[1]) }
