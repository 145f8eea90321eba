--[[
  A waiting writer gave up (timeout, abort, error): drop its "writer waiting" flag at once, so
  readers are not turned away for the rest of its lease, and wake the waiters.

  Input:
    KEYS[1] wwait   (see rw-acquire.lua)
    ARGV[1] token   of the writer that gave up     ARGV[2] channel of the lock

  Output:
    1  flag dropped     0  the flag was not this writer's (another writer waits, or none); nothing changed
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], 'f')
return 1
