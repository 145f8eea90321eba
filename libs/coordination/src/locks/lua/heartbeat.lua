--[[
  A waiter refreshes its queue lease, so that it is not taken for crashed; then drops the
  waiters whose lease ran out (crashed or stalled ones), telling a new head (see queue.lua), so
  that a dead head does not hold up the queue until someone polls.

  Input:
    KEYS[1] lock   KEYS[2] queue   KEYS[3] queue-exp   KEYS[4] queue-seq   (see acquire.lua)
    ARGV[1] token   ARGV[2] ttlMs   ARGV[3] owner   (the waiter's queue entry, see queue.lua)
    ARGV[4] leaseMs

  Output:
    1  still queued, lease refreshed     0  not in the queue (granted, or dropped as expired)
]]
--! include ../../lua/server-time.lua
--! include ./queue.lua
local lockKey, queueKey, qexpKey, seqKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local entry = queue_entry(ARGV[1], ARGV[2], ARGV[3])
if not redis.call('ZSCORE', queueKey, entry) then return 0 end
local q = queue_read(queueKey, qexpKey, seqKey, server_time_ms())
-- The entry stays, refreshed: dropping the dead ones after it never empties the queue (see queue.lua).
queue_refresh(queueKey, qexpKey, seqKey, entry, q.now, tonumber(ARGV[4]))
queue_drop(q, nil, entry, false)
local head = redis.call('ZRANGE', queueKey, 0, 0)[1]
if head ~= q.first then queue_announce(lockKey, head) end
return 1
