--[[
  Fence check at a protected resource: refuse a write only from a fencing token OLDER than the
  newest seen (the Redis form of `UPDATE ... WHERE fence <= $token`). Tokens are unique per
  acquisition, so an equal token is the same holder's next write.

  The guard expires `retentionMs` after the last check (accepted or refused), so resources no
  longer written do not keep a key forever. A missing guard accepts any token, so the retention
  must outlast the longest time a stale holder may still write (locks.fenceGuardRetentionMs,
  at least locks.maxTtlMs; a writer paused longer than the retention, with no check of the
  resource in between, is accepted).

  Input:
    KEYS[1] guard     highest fencing token accepted so far for the resource
    ARGV[1] fencingToken
    ARGV[2] retentionMs

  Output:
    1  accepted (guard raised to the token if higher)     0  rejected: a newer token already wrote
]]
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local token = tonumber(ARGV[1])
if token > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if token < current then return 0 end
return 1
