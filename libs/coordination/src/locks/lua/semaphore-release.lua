--[[
  Return a permit and wake the waiters of the semaphore.

  Input:
    KEYS[1] holders (see semaphore-acquire.lua)
    ARGV[1] token     ARGV[2] channel

  Output:
    1  released     0  this permit was not held (expired); nothing changed
]]
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('PUBLISH', ARGV[2], 'f')
return 1
