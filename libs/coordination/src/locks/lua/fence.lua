--[[
  Shared include: fencing tokens, from one counter per lock (KEYS "fence" of the mutex,
  semaphore and read-write scripts, of leader terms and singleton-job runs). A token follows the
  server clock: it is the larger of the counter + 1 and the server's TIME in microseconds, and
  the counter is set to it. Following the clock is what keeps tokens increasing when the counter
  is not the latest one written:
    - missing: a new lock, or Redis lost it (a restart without persistence, FLUSHALL, eviction
      under an allkeys-* policy, its retention ran out);
    - older than the tokens already issued: a failover to a replica that had not yet received
      the latest writes (replication is asynchronous), a restart from an older RDB snapshot or
      from an AOF that lost its last second.
  Either way the next token is the clock, above every token issued before as long as that
  server's clock is ahead of the clock that issued them: the same server's clock did not go
  back, and a promoted replica's clock is not behind the old master's by more than the failover
  took (seconds: Sentinel's down-after-milliseconds at least). The counter + 1 alone decides only
  when tokens come faster than one per microsecond, or the clock went back; then tokens stay
  strictly increasing from the counter.

  The counter expires FENCE_RETENTION_MS (7 days, fence-retention.lua) after its seed (the
  write that found it missing), so each distinct lock name (a lock per invoice id) does not
  leave a key behind forever. Later tokens write it with SET KEEPTTL, which keeps that expiry
  (it is not renewed per token), so a lock in use is seeded again at most once per retention,
  from the clock as above: the token then is the clock, as it would have been anyway.

  Tokens stay integers below 2^53, exact as Lua and JavaScript numbers: 2^53 microseconds
  after 1970 is the year 2255.

  Functions:
    fence_next(fenceKey) -> fencingToken (a Lua number): the next token, written to the counter.
      The uncontended mutex path (mutex-fast-path.lua) computes it the same way, written out
      there because it runs before any function is built
    fence_string(fencingToken) -> its decimal digits, for messages and hash fields (Lua's own
      number-to-string conversion keeps only 14 significant digits)
]]
--! include ./fence-retention.lua
local function fence_string(fence)
  return string.format('%.0f', fence)
end

local function fence_next(fenceKey)
  local t = redis.call('TIME')
  local fence = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local last = redis.call('GET', fenceKey)
  if not last then
    redis.call('SET', fenceKey, fence_string(fence), 'PX', FENCE_RETENTION_MS)
    return fence
  end
  last = tonumber(last)
  if last >= fence then fence = last + 1 end
  redis.call('SET', fenceKey, fence_string(fence), 'KEEPTTL')
  return fence
end
