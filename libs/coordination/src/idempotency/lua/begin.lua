--[[
  Begin an attempt under an idempotency key: check-and-lock in one step.

  Input:
    KEYS[1] record    hash { state = 'running' | 'done', fp = fingerprint, owner, outcome (done only) }
    ARGV[1] fp        the request's fingerprint (opaque string)
    ARGV[2] owner     the attempt's owner id
    ARGV[3] leaseMs   the in-flight record's lifetime, whole ms > 0

  A missing key is a free one (an expired record is gone: Redis expires it). A record of another
  fingerprint is a mismatch whatever its state, so a key reused for another request never
  replays nor waits for the first one.

  Output:
    {'acquired'}                 no record: an in-flight record owned by `owner` written, PEXPIRE leaseMs
    {'mismatch'}                 a record of another fingerprint (running or done); nothing changed
    {'in-flight', pttl}          the same fingerprint in flight: its remaining lease, ms
    {'completed', outcome}       the same fingerprint finished: its stored outcome
]]
local record = KEYS[1]
local held = redis.call('HMGET', record, 'state', 'fp', 'outcome')
if not held[1] then
  redis.call('HSET', record, 'state', 'running', 'fp', ARGV[1], 'owner', ARGV[2])
  redis.call('PEXPIRE', record, ARGV[3])
  return {'acquired'}
end
if held[2] ~= ARGV[1] then return {'mismatch'} end
if held[1] == 'running' then
  local pttl = redis.call('PTTL', record)
  if pttl < 0 then pttl = 0 end
  return {'in-flight', pttl}
end
return {'completed', held[3] or ''}
