--[[
  Complete an in-flight idempotency record held by this owner: store its outcome for replay.

  Input:
    KEYS[1] record    hash { state = 'running' | 'done', fp, owner, outcome }
    ARGV[1] owner     ARGV[2] outcome (any string, binary-safe)     ARGV[3] ttlMs (whole ms > 0)

  The fingerprint stays, so a later request with the key and another fingerprint is a mismatch.

  Output:
    1  completed: state = 'done', outcome stored, PEXPIRE ttlMs
    0  not held by `owner` (its lease expired, maybe another attempt took the key); nothing written
]]
local held = redis.call('HMGET', KEYS[1], 'state', 'owner')
if held[1] ~= 'running' or held[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'done', 'outcome', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
