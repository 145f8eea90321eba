--[[
  ALGO[4]: token bucket. Capacity `burst`; refills `limit` tokens per `window`, continuously.
  Key: HASH { t = tokens (fractional), ts = time of the last update (us) }. A missing key is
  a full bucket; the key expires once the bucket would be full again.
]]
local function tb_tokens(key, now, rate, burst)
  local v = redis.call('HMGET', key, 't', 'ts')
  local tokens = tonumber(v[1])
  if tokens == nil then return burst end
  local elapsed = now - tonumber(v[2])
  if elapsed > 0 then tokens = tokens + elapsed * rate end
  if tokens > burst then tokens = burst end
  return tokens
end

ALGO[4] = {
  check = function(key, now, limit, window, burst, cost)
    local rate = limit / window
    local tokens = tb_tokens(key, now, rate, burst)
    if tokens >= cost then
      local left = tokens - cost
      return 1, math.floor(left), (burst - left) / rate, 0, left
    end
    return 0, math.floor(tokens), (burst - tokens) / rate, (cost - tokens) / rate, tokens
  end,
  commit = function(key, now, window, cost, member, left, s2, s3, limit, burst)
    redis.call('HSET', key, 't', left, 'ts', now)
    redis.call('PEXPIRE', key, math.ceil((burst - left) / (limit / window) / 1000) + 1)
  end,
}
