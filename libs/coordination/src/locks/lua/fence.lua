--[[
  Shared include: fencing tokens, from one counter per lock (KEYS "fence" of the mutex,
  semaphore and read-write scripts). When it is missing (a new lock, or Redis lost it: a
  restart without persistence, FLUSHALL, eviction under an allkeys-* policy, or its retention
  ran out) it is seeded from the server's TIME in microseconds instead of starting at 1 again,
  so tokens issued after the loss exceed every token issued before it, as long as the server
  clock did not go back and the lock issued fewer than one token per microsecond on average
  since its counter was last seeded. A counter restored from an older snapshot, or by a replica
  that missed the latest writes, is not missing: see the README (Persistence and failover).

  The counter expires FENCE_RETENTION_MS (7 days, fence-retention.lua) after its seed, so each
  distinct lock name (a lock per invoice id) does not leave a key behind forever. INCR keeps
  that expiry (it is not renewed per token), so a lock in use is seeded again at most once per
  retention, through the recovery above: by then the server clock is 6.048 * 10^11 microseconds
  past the previous seed, more than the tokens issued since unless the lock took more than one
  token per microsecond on average (the same condition as above).

  Tokens stay integers below 2^53, exact as Lua and JavaScript numbers: 2^53 microseconds
  after 1970 is the year 2255.

  Functions:
    fence_next(fenceKey) -> fencingToken (a Lua number): the next token, seeding a missing counter
    fence_seed(fenceKey) -> fencingToken: starts a counter known to be missing (one write, where
      fence_next would write twice), expiring FENCE_RETENTION_MS later. The uncontended mutex
      path (mutex-fast-path.lua) seeds the same way, written out there because it runs before
      any function is built
    fence_string(fencingToken) -> its decimal digits, for messages and hash fields (Lua's own
      number-to-string conversion keeps only 14 significant digits)
]]
--! include ./fence-retention.lua
local function fence_string(fence)
  return string.format('%.0f', fence)
end

local function fence_seed(fenceKey)
  local t = redis.call('TIME')
  local fence = tonumber(t[1]) * 1000000 + tonumber(t[2])
  redis.call('SET', fenceKey, fence_string(fence), 'PX', FENCE_RETENTION_MS)
  return fence
end

local function fence_next(fenceKey)
  local fence = redis.call('INCR', fenceKey)
  if fence ~= 1 then return fence end
  -- INCR has just created the counter (the common case above costs nothing more).
  return fence_seed(fenceKey)
end
