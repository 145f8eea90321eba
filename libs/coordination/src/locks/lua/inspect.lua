--[[
  Read a mutex as every instance sees it (LockService.inspect): its holder and its live waiters.
  Only reads: waiters whose lease ran out are left out of the count but stay queued for the
  next acquisition or heartbeat to drop (and to tell the new head, see queue.lua).

  Input:
    KEYS[1] lock   KEYS[2] queue-exp   (see acquire.lua)

  Output:
    { holderOwner, fencingToken, pttlMs, waiters }
      holderOwner ''  and fencingToken '' when the lock is free (pttlMs then -2);
      fencingToken as its decimal digits (see fence.lua); waiters: queue entries whose lease
      has not run out
]]
--! include ../../lua/server-time.lua
local holder = redis.call('HMGET', KEYS[1], 'o', 'f')
local pttl = -2
if holder[1] then pttl = redis.call('PTTL', KEYS[1]) end
local waiters = 0
if redis.call('EXISTS', KEYS[2]) == 1 then
  -- Entries with an expiry <= now are dead (see queue_read): the live ones are after it.
  waiters = redis.call('ZCOUNT', KEYS[2], string.format('(%.0f', server_time_ms()), '+inf')
end
return { holder[1] or '', holder[2] or '', pttl, waiters }
