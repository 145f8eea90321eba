--[[
  Write the value a getOrSet lease holder loaded, and drop its lease if it still holds it.

  Input:
    KEYS[1] entry   the cache entry (`<prefix>:<tenant>:cache:{<key>}`)
    KEYS[2] lease   its lease (the same key with the `:lease` suffix: one hash tag, one slot)
    ARGV[1] value   the entry to write
    ARGV[2] ttlMs   its lifetime, whole ms > 0
    ARGV[3] token   the holder's lease token

  The value is written either way: a holder whose lease ran out (or was taken by another) still
  has a freshly loaded value.

  Output:
    1  the lease was held by token and is dropped
    0  the lease was gone or held by another token; it is left alone
]]
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then
  redis.call('DEL', KEYS[2])
  return 1
end
return 0
