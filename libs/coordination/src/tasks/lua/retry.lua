--[[
  A failed task went back to waiting (retry, with fresh attempts): out of the dead-letter view, and
  waiting again (its next start is a first start again, which takes it out).

  Input:
    KEYS[1] failed          zset of the tenant's finally failed job ids
    KEYS[2] fair            hash of the (task name, tenant): `tag`, `n` (same hash tag)
    ARGV[1] jobId
    ARGV[2] ttlMs           TTL of the fair hash

  Output:
    the waiting count after the increment
]]
--! include include/waiting.lua

redis.call('ZREM', KEYS[1], ARGV[1])
return adjust_waiting(KEYS[2], 1, tonumber(ARGV[2]))
