--[[
  Extend a mutex held by this token.

  Input:
    KEYS[1] lock      hash { t = owner token, ... }
    ARGV[1] token     ARGV[2] ttlMs (the new remaining time)

  Reentrant holds share one token but each handle renews with its own TTL: while the lock is
  held more than once, an extension only lengthens it, so a short inner hold cannot cut the
  outer one's time short.

  Output:
    1  extended (or already held at least that long)     0  not the holder (lost); nothing changed
]]
local held = redis.call('HMGET', KEYS[1], 't', 'n')
if held[1] ~= ARGV[1] then return 0 end
local ttl = tonumber(ARGV[2])
if tonumber(held[2]) > 1 and redis.call('PTTL', KEYS[1]) >= ttl then return 1 end
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
