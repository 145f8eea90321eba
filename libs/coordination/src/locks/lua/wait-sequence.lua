--[[
  Next number of a tenant's wait-order counter (deadlock detection orders waits by it). The
  counter expires `retentionMs` after its last increment, longer than any wait lasts, so no
  waiter still holding a number sees the counter start again below it.

  Input:
    KEYS[1] counter
    ARGV[1] retentionMs

  Output:
    the incremented value
]]
local seq = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return seq
