--[[
  Cancel, atomically: takes a task's job out of BullMQ's wait list, prioritized zset or delayed
  zset if it is in one of them (then `Job.remove` deletes the rest), and out of the tenant's index
  and waiting set. A job in none of them (active, finished, gone) is left as it is.

  Input:
    KEYS[1] bullWait        BullMQ's wait list of the task name
    KEYS[2] bullPrioritized BullMQ's prioritized zset
    KEYS[3] bullDelayed     BullMQ's delayed zset
    KEYS[4] waiting         zset of the tenant's waiting, never started job ids (same hash tag)
    KEYS[5] index           zset of the tenant's job ids
    ARGV[1] bullId          `<tenant>~<jobId>`
    ARGV[2] jobId

  Output:
    1 when the job was waiting or delayed (now taken out), else 0
]]

local bull_id = ARGV[1]
local taken = redis.call('ZREM', KEYS[2], bull_id) + redis.call('ZREM', KEYS[3], bull_id)
if taken == 0 then taken = redis.call('LREM', KEYS[1], 0, bull_id) end
if taken == 0 then return 0 end
redis.call('ZREM', KEYS[4], ARGV[2])
redis.call('ZREM', KEYS[5], ARGV[2])
return 1
