import { MAX_SESSIONS_PER_USER, SessionLimitError, type Session } from '@nest-coordination/core';
// The limit the service passes to the store (library-internal).
import { userLimit } from '../../libs/coordination/src/sessions/session-validation.js';
import { DRIVERS } from '../support/drivers.js';
import { rejectionOf } from '../support/wait.js';
import { sessionApp } from './session-test-app.js';

const memory = DRIVERS.find((d) => d.name === 'memory')!;

/**
 * A user's index never grows past MAX_SESSIONS_PER_USER, even without `maxPerUser` (each
 * create, list and revoke is one script over the whole index: an unbounded one blocks Redis).
 */
describe('the per-user ceiling of sessions', () => {
  it('userLimit: the ceiling when maxPerUser is 0 or above it, else maxPerUser; onMaxPerUser as configured', () => {
    expect(MAX_SESSIONS_PER_USER).toBe(1_000);
    expect(userLimit({ maxPerUser: 0, onMaxPerUser: 'evict-oldest' })).toEqual({ maxPerUser: 1_000, onLimit: 'evict-oldest' });
    expect(userLimit({ maxPerUser: 0, onMaxPerUser: 'reject' })).toEqual({ maxPerUser: 1_000, onLimit: 'reject' });
    expect(userLimit({ maxPerUser: 5, onMaxPerUser: 'reject' })).toEqual({ maxPerUser: 5, onLimit: 'reject' });
    expect(userLimit({ maxPerUser: 1_000, onMaxPerUser: 'evict-oldest' })).toEqual({ maxPerUser: 1_000, onLimit: 'evict-oldest' });
    expect(userLimit({ maxPerUser: 100_000, onMaxPerUser: 'evict-oldest' })).toEqual({ maxPerUser: 1_000, onLimit: 'evict-oldest' });
  });

  it('with maxPerUser 0, the session past the ceiling evicts the oldest (session.destroyed, reason evicted)', async () => {
    const app = await sessionApp(memory, { sessions: { maxPerUser: 0 } });
    try {
      const log = await app.watch('acme');
      const made: Session[] = [];
      for (let n = 0; n <= MAX_SESSIONS_PER_USER; n++) {
        made.push(await app.sessions.create('ada', {}, { tenant: 'acme' }));
        app.clock.advance(1); // creation time orders the index
      }
      expect(await app.sessions.get(made[0].id)).toBeNull();
      expect(await app.sessions.get(made[1].id)).not.toBeNull();
      const listed = await app.sessions.listForUser('ada', { tenant: 'acme' });
      expect(listed).toHaveLength(MAX_SESSIONS_PER_USER);
      expect(listed.at(-1)!.handle).toBe(made.at(-1)!.handle);
      const [evicted] = await log.received('session.destroyed', 1);
      expect(evicted.payload).toEqual({ handle: made[0].handle, userId: 'ada', reason: 'evicted' });
      expect(app.core.metrics.counter('sessions_destroyed_total', { reason: 'evicted' })).toBe(1);
      log.stop();
    } finally {
      await app.close();
    }
  });

  it("with maxPerUser 0 and onMaxPerUser 'reject', the session past the ceiling is SessionLimitError naming the ceiling", async () => {
    const app = await sessionApp(memory, { sessions: { maxPerUser: 0, onMaxPerUser: 'reject' } });
    try {
      for (let n = 0; n < MAX_SESSIONS_PER_USER; n++) await app.sessions.create('ada', {});
      const refused = await rejectionOf(app.sessions.create('ada', {}));
      expect(refused).toBeInstanceOf(SessionLimitError);
      expect(refused).toMatchObject({ limit: MAX_SESSIONS_PER_USER });
      expect(await app.sessions.listForUser('ada')).toHaveLength(MAX_SESSIONS_PER_USER);
    } finally {
      await app.close();
    }
  });
});
