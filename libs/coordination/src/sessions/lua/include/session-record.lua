--[[
  Include: one session record, a hash of the service's fields (`u c w m d:*`) and the store's
  time fields: t created, l last activity, e idle expiry, x absolute expiry (epoch ms),
  i idle lifetime (ms), v version. Its key expires at `e` (PEXPIREAT), and `e` <= `x`.
]]

-- HSET of the `field, value` pairs args[from .. to], in chunks of 100 pairs (unpack's stack is bounded).
local function record_set_pairs(key, args, from, to)
  local at = from
  while at < to do
    local last = math.min(at + 199, to)
    redis.call('HSET', key, unpack(args, at, last))
    at = last + 1
  end
end

-- Records activity at `now`: l = now, e = now + idle_ms but at most x, the key expiring at e.
local function record_touch(key, now, idle_ms, x)
  local e = math.min(now + idle_ms, x)
  redis.call('HSET', key, 'l', now, 'e', e)
  redis.call('PEXPIREAT', key, e)
end

-- The absolute expiry of a live record, or nil when the key is gone or past it (never returned).
local function record_deadline(key, now)
  local x = tonumber(redis.call('HGET', key, 'x'))
  if x == nil or x <= now then return nil end
  return x
end
