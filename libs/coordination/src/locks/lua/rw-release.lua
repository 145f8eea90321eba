--[[
  Release a read or write hold and wake the waiters of the lock.

  Input:
    KEYS[1] writer   KEYS[2] readers   (see rw-acquire.lua)
    ARGV[1] mode "r" | "w"    ARGV[2] token    ARGV[3] channel

  Output:
    1  released     0  not held by this token (expired or taken over); nothing changed
]]
if ARGV[1] == 'r' then
  -- Counted before the ZREM, which may remove the key: nothing may touch it after (see queue.lua).
  local readers = redis.call('ZCARD', KEYS[2])
  if redis.call('ZREM', KEYS[2], ARGV[2]) == 0 then return 0 end
  if readers == 1 then redis.call('PUBLISH', ARGV[3], 'f') end
  return 1
end
if redis.call('GET', KEYS[1]) ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[3], 'f')
return 1
