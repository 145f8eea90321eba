--[[
  A failed task goes back to waiting (retry, with fresh attempts): out of the dead-letter view, and
  into the waiting set again (its next start is a first start again, which takes it out).

  Input:
    KEYS[1] failed          zset of the tenant's finally failed job ids
    KEYS[2] waiting         zset of the tenant's waiting, never started job ids (same hash tag)
    ARGV[1] jobId
    ARGV[2] nowMs           its new place in the waiting set (score nowMs * 1000)

  Output:
    the size of the waiting set
]]

redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], tonumber(ARGV[2]) * 1000, ARGV[1])
return redis.call('ZCARD', KEYS[2])
