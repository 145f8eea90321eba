--[[
  Write the value a getOrSet lease holder loaded, and drop its lease, if it still holds it.

  Input:
    KEYS[1] entry   the cache entry (`<prefix>:<tenant>:cache:{<key>}`)
    KEYS[2] lease   its lease (the same key with the `:lease` suffix: one hash tag, one slot)
    ARGV[1] value   the entry to write
    ARGV[2] ttlMs   its lifetime, whole ms > 0
    ARGV[3] token   the holder's lease token

  A lease that is gone or held by another token means the value must not be written: the lease
  expired, another caller took it over, or a write / deletion of the entry dropped it after the
  holder's loader read its data (what it loaded may predate that write).

  Output:
    1  the lease was held by token: the value is written and the lease dropped
    0  the lease was gone or held by another token: nothing is written, the lease is left alone
]]
if redis.call('GET', KEYS[2]) ~= ARGV[3] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('DEL', KEYS[2])
return 1
