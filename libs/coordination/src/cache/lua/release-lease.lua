--[[
  Drop a getOrSet lease if this token holds it (compare-and-delete).

  Input:
    KEYS[1] lease   the lease key (`<prefix>:<tenant>:cache:{<key>}:lease`)
    ARGV[1] token   the holder's lease token

  Output:
    1  the lease was held by token and is dropped
    0  the lease was gone or held by another token; it is left alone
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
