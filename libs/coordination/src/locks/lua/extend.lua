--[[
  Extend a mutex held by this token.

  Input:
    KEYS[1] lock      hash { t = owner token, ... }
    ARGV[1] token     ARGV[2] ttlMs (the new remaining time)

  Output:
    1  extended     0  not the holder (lost); nothing changed
]]
if redis.call('HGET', KEYS[1], 't') ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
