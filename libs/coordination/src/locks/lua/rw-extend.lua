--[[
  Extend a read or write hold that is still held.

  Input:
    KEYS[1] writer   KEYS[2] readers   (see rw-acquire.lua)
    ARGV[1] mode "r" | "w"    ARGV[2] token    ARGV[3] ttlMs

  Output:
    1  extended     0  not held (expired or taken over); nothing changed
]]
--! include ../../lua/server-time.lua
--! include ./expiring-set.lua
local ttl = tonumber(ARGV[3])
if ARGV[1] == 'w' then
  if redis.call('GET', KEYS[1]) ~= ARGV[2] then return 0 end
  redis.call('PEXPIRE', KEYS[1], ttl)
  return 1
end
if expiring_set_extend(KEYS[2], ARGV[2], server_time_ms(), ttl) then return 1 end
return 0
