import { CACHE_SCRIPTS } from '../cache/cache.scripts.js';
import { LOCK_SCRIPTS } from '../locks/lock.scripts.js';
import { SESSION_SCRIPTS } from '../sessions/session.scripts.js';
import { STREAM_SCRIPTS } from '../streams/stream.scripts.js';
import { TASK_SCRIPTS } from '../tasks/task.scripts.js';
import { IDEMPOTENCY_SCRIPTS } from '../idempotency/idempotency.scripts.js';
import { LEADER_SCRIPTS } from '../leader/leader.scripts.js';
import { FLEET_HEARTBEAT_SCRIPT, RATE_LIMIT_MIXED_SCRIPT, RATE_LIMIT_SCRIPTS, RECORD_VIOLATIONS_SCRIPT } from '../rate-limit/rate-limit.scripts.js';
import { luaScript } from './lua-script.js';
import { hasPublicOperation, operationOfScript } from './script-operations.js';

describe('operationOfScript', () => {
  const scripts = [
    ...Object.values(LOCK_SCRIPTS), ...Object.values(RATE_LIMIT_SCRIPTS), RATE_LIMIT_MIXED_SCRIPT, RECORD_VIOLATIONS_SCRIPT, FLEET_HEARTBEAT_SCRIPT,
    ...Object.values(CACHE_SCRIPTS), ...Object.values(SESSION_SCRIPTS), ...Object.values(STREAM_SCRIPTS), ...Object.values(TASK_SCRIPTS),
    ...Object.values(IDEMPOTENCY_SCRIPTS), ...Object.values(LEADER_SCRIPTS),
  ];

  it.each(scripts.map((s) => [s.name, s]))('%s has a public operation (capability.method), never its script name', (_name, script) => {
    expect(hasPublicOperation(script)).toBe(true);
    expect(operationOfScript(script)).toMatch(/^(locks|rateLimit|cache|sessions|streams|tasks|idempotency|leader|jobs)\.[a-zA-Z]+/);
  });

  it('names a script it does not know by its own name', () => {
    expect(operationOfScript(luaScript('somethingNew', 'return 1'))).toBe('somethingNew');
  });

  it('names the operation a caller used: an acquisition, whichever script it ran', () => {
    expect([LOCK_SCRIPTS.tryAcquire, LOCK_SCRIPTS.acquire, LOCK_SCRIPTS.leaveQueue].map(operationOfScript)).toEqual(['locks.acquire', 'locks.acquire', 'locks.acquire']);
  });

  it('names a read by the service method that made it', () => {
    expect(operationOfScript(LOCK_SCRIPTS.inspect)).toBe('locks.inspect');
  });
});
