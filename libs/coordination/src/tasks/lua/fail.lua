--[[
  A task's last attempt failed: it enters the tenant's dead-letter view, which keeps the newest
  `cap` entries. Written just before BullMQ moves the job to failed; an entry whose job is not
  failed when read (the worker died in between, and the task ran again) is skipped and removed.

  Input:
    KEYS[1] failed          zset of the tenant's finally failed job ids by failure time
    ARGV[1] jobId
    ARGV[2] nowMs           failure time (the score)
    ARGV[3] cap             entries kept (0: none)

  Output:
    1 when added, 0 when the cap is 0
]]

local cap = tonumber(ARGV[3])
if cap <= 0 then return 0 end
redis.call('ZADD', KEYS[1], tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(cap + 1))
return 1
