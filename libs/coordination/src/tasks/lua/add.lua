--[[
  Fairness tags for tasks about to be added to BullMQ, and their place in the tenant's index: one
  step before `Queue.addBulk`.

  Input:
    KEYS[1] fair            hash of the (task name, tenant): `tag` (last tag given), `n` (tasks waiting, never started)
    KEYS[2] index           zset of the tenant's job ids by enqueue time (same hash tag)
    ARGV[1] jobKeyPrefix    BullMQ's key of a job without the job id: `<bullPrefix>:{name}:<tenant>~`
    ARGV[2] nowMs           enqueue time: index scores are nowMs * 1000, or one more than the
                            newest score (unique, increasing: equal times keep the enqueue order)
    ARGV[3] indexCap        newest entries the index keeps
    ARGV[4] ttlMs           TTL of the fair hash
    ARGV[5] tagLimit        highest tag
    ARGV[6..] jobIds        the tasks' job ids, in order

  A job id whose BullMQ job exists (or that came earlier in this call) gets no tag: it is not
  added again. The others get the next tags of the tenant, restarting at 1 when no task of the
  tenant is waiting (n == 0), count as waiting, and take the newest places in the index (a job
  id BullMQ dropped after it finished is a new task).

  Output:
    one integer per job id: its tag (>= 1), or 0 when it exists already
]]
--! include include/waiting.lua

local fair, index = KEYS[1], KEYS[2]
local prefix, now_ms, index_cap, ttl_ms, tag_limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local tag = 0
if tonumber(redis.call('HGET', fair, 'n') or '0') > 0 then tag = tonumber(redis.call('HGET', fair, 'tag') or '0') end
local newest = redis.call('ZREVRANGE', index, 0, 0, 'WITHSCORES')[2]
local score = now_ms * 1000
if newest and tonumber(newest) >= score then score = tonumber(newest) + 1 end
local tags, seen, added, entries = {}, {}, 0, {}
for i = 6, #ARGV do
  local id = ARGV[i]
  if seen[id] or redis.call('EXISTS', prefix .. id) == 1 then
    tags[#tags + 1] = 0
  else
    seen[id] = true
    if tag < tag_limit then tag = tag + 1 end
    tags[#tags + 1] = tag
    added = added + 1
    entries[#entries + 1] = score
    entries[#entries + 1] = id
    score = score + 1
  end
end
-- One ZADD per 4000 entries (unpack stays far below Lua's stack limit).
for from = 1, #entries, 8000 do
  redis.call('ZADD', index, unpack(entries, from, math.min(from + 7999, #entries)))
end
if added > 0 then
  redis.call('HSET', fair, 'tag', tag)
  adjust_waiting(fair, added, ttl_ms)
  redis.call('ZREMRANGEBYRANK', index, 0, -(index_cap + 1))
end
return tags
