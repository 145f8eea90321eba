--[[
  Extend a permit that is still held.

  Input:
    KEYS[1] holders (see semaphore-acquire.lua)
    ARGV[1] token     ARGV[2] ttlMs

  Output:
    1  extended     0  not held (expired); nothing changed
]]
--! include ../../lua/server-time.lua
--! include ./expiring-set.lua
if expiring_set_extend(KEYS[1], ARGV[1], server_time_ms(), tonumber(ARGV[2])) then return 1 end
return 0
