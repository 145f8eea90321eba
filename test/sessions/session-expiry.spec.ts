import { jest } from '@jest/globals';
import { SessionNotFoundError, type Session } from '@nest-coordination/core';
import { DRIVERS, REDIS_DRIVERS } from '../support/drivers.js';
import { rejectionOf, until } from '../support/wait.js';
import { ARRIVAL_MS, sessionApp, type SessionTestApp } from './session-test-app.js';

const memory = DRIVERS.find((d) => d.name === 'memory')!;
/** The idle lifetime a session was given at its last use. */
const idleOf = (s: Session) => s.expiresAt.getTime() - s.lastActivity.getTime();

/**
 * Sessions end at their idle expiry (sliding) and at their absolute expiry whatever the use;
 * expired sessions leave their user's index when it is read and in the background pass, each
 * announced once in `session.expired` under its tenant.
 */
describe('session expiry (memory, ManualClock)', () => {
  let app: SessionTestApp;
  beforeEach(async () => {
    app = await sessionApp(memory);
  });
  afterEach(() => app.close());

  it('ends a session ttlMs after its last use', async () => {
    const s = await app.sessions.create('ada', {}, { ttlMs: 60_000 });
    app.clock.advance(59_999);
    expect(await app.sessions.get(s.id, { touch: false })).not.toBeNull();
    app.clock.advance(1);
    expect(await app.sessions.get(s.id)).toBeNull();
    expect(await rejectionOf(app.sessions.update(s.id, { a: 1 }))).toBeInstanceOf(SessionNotFoundError);
    expect(await rejectionOf(app.sessions.extend(s.id))).toBeInstanceOf(SessionNotFoundError);
  });

  it('sliding keeps a used session alive, never past its absolute expiry', async () => {
    const s = await app.sessions.create('ada', {}, { ttlMs: 60_000, absoluteTtlMs: 150_000 });
    for (const step of [50_000, 50_000, 40_000]) {
      app.clock.advance(step);
      expect(await app.sessions.get(s.id)).not.toBeNull();
    }
    expect((await app.sessions.update(s.id, { a: 1 })).expiresAt).toEqual(s.absoluteExpiresAt);
    app.clock.advance(10_000);
    expect(await app.sessions.get(s.id)).toBeNull();
  });

  it('extend with ttlMs makes it the idle lifetime of the session: later slides keep it', async () => {
    const s = await app.sessions.create('ada', {}, { ttlMs: 1_000, absoluteTtlMs: 3_600_000 });
    expect(idleOf(await app.sessions.extend(s.id, { ttlMs: 60_000 }))).toBe(60_000);
    app.clock.advance(30_000);
    expect(idleOf((await app.sessions.get(s.id))!)).toBe(60_000); // a sliding read: not back to 1 s
    app.clock.advance(59_999);
    expect(idleOf(await app.sessions.update(s.id, { a: 1 }))).toBe(60_000);
    app.clock.advance(59_999);
    expect(idleOf(await app.sessions.extend(s.id))).toBe(60_000); // the session's own idle lifetime is now 60 s
    app.clock.advance(60_000);
    expect(await app.sessions.get(s.id)).toBeNull();
  });

  it('regenerate restarts the idle lifetime, as any use does', async () => {
    const s = await app.sessions.create('ada', { a: 1 }, { ttlMs: 60_000 });
    app.clock.advance(50_000);
    const fresh = await app.sessions.regenerate(s.id);
    expect(fresh.lastActivity.getTime()).toBe(app.clock.now());
    expect(idleOf(fresh)).toBe(60_000);
    app.clock.advance(59_999); // 109 999 ms after creation: alive only because regenerate restarted the idle lifetime
    expect(await app.sessions.get(fresh.id, { touch: false })).toMatchObject({ data: { a: 1 } });
  });

  it('reads of the index prune expired sessions and announce each once', async () => {
    const log = await app.watch('acme');
    const short = await app.sessions.create('ada', {}, { tenant: 'acme', ttlMs: 10_000 });
    const long = await app.sessions.create('ada', {}, { tenant: 'acme', ttlMs: 60_000 });
    app.clock.advance(10_000);
    expect((await app.sessions.listForUser('ada', { tenant: 'acme' })).map((s) => s.handle)).toEqual([long.handle]);
    const [expired] = await log.received('session.expired', 1);
    expect(expired).toMatchObject({ tenant: 'acme', payload: { handle: short.handle, userId: 'ada' } });
    await app.sessions.listForUser('ada', { tenant: 'acme' });
    const again = await app.sessions.create('ada', {}, { tenant: 'acme', ttlMs: 10_000 });
    app.clock.advance(10_000);
    await app.sessions.create('ada', {}, { tenant: 'acme' }); // create prunes the index too
    const all = await log.received('session.expired', 2);
    expect(all.map((e) => e.payload.handle)).toEqual([short.handle, again.handle]);
    expect(app.core.metrics.counter('sessions_expired_total')).toBe(2);
    expect(await app.sessions.destroyAllForUser('ada', { tenant: 'acme' })).toBe(2); // long and the last one
    log.stop();
  });

  it('the background pass prunes every tenant\'s indexes and announces each expired session under its tenant', async () => {
    const acme = await app.watch('acme');
    const globex = await app.watch('globex');
    const a = await app.sessions.create('ada', {}, { tenant: 'acme', ttlMs: 10_000 });
    const b = await app.sessions.create('bob', {}, { tenant: 'globex', ttlMs: 10_000 });
    await app.sessions.create('bob', {}, { tenant: 'globex', ttlMs: 60_000 });
    expect(await app.pruner.runOnce()).toBe(0);
    app.clock.advance(10_000);
    expect(await app.pruner.runOnce()).toBe(2);
    expect((await acme.received('session.expired', 1))[0].payload).toEqual({ handle: a.handle, userId: 'ada' });
    expect((await globex.received('session.expired', 1))[0].payload).toEqual({ handle: b.handle, userId: 'bob' });
    expect(await app.pruner.runOnce()).toBe(0);
    await app.sessions.listForUser('bob', { tenant: 'globex' });
    expect(app.core.metrics.counter('sessions_expired_total')).toBe(2);
    acme.stop();
    globex.stop();
  });

  it('runs the pass every pruneIntervalMs, without any read', async () => {
    const timed = await sessionApp(memory, { sessions: { pruneIntervalMs: 20 } });
    try {
      const log = await timed.watch('acme');
      const s = await timed.sessions.create('ada', {}, { tenant: 'acme', ttlMs: 10_000 });
      timed.clock.advance(10_000);
      const [expired] = await log.received('session.expired', 1);
      expect(expired.payload.handle).toBe(s.handle);
      log.stop();
    } finally {
      await timed.close();
    }
  });
});

describe.each(REDIS_DRIVERS)('session expiry ($name, short lifetimes)', (driver) => {
  let app: SessionTestApp;
  beforeEach(async () => {
    app = await sessionApp(driver);
  });
  afterEach(() => app.close());
  const client = () => app.core.connection!.client;
  const gone = (id: string) => until(async () => (await app.sessions.get(id, { touch: false })) === null, { timeoutMs: ARRIVAL_MS, message: 'the session to expire' });

  it('Redis drops a session at its idle expiry, and a used one at its absolute expiry', async () => {
    const idle = await app.sessions.create('ada', {}, { ttlMs: 200 });
    await gone(idle.id);
    expect(await client().exists(app.keys.session('_shared', idle.id.slice('_shared.'.length)))).toBe(0);
    const used = await app.sessions.create('ada', {}, { ttlMs: 60_000, absoluteTtlMs: 300 });
    // Every read slides it; it still ends at its absolute expiry.
    await until(async () => (await app.sessions.get(used.id)) === null, { timeoutMs: ARRIVAL_MS, message: 'the absolute expiry' });
  });

  it('reading the index prunes expired sessions and announces them; the background pass prunes the rest', async () => {
    const log = await app.watch('acme');
    const short = await app.sessions.create('ada', {}, { tenant: 'acme', ttlMs: 200 });
    const long = await app.sessions.create('ada', {}, { tenant: 'acme' });
    const other = await app.sessions.create('bob', {}, { tenant: 'acme', ttlMs: 200 });
    await gone(short.id);
    await gone(other.id);
    const index = app.keys.user('acme', 'ada').index;
    expect(await client().zcard(index)).toBe(2); // Redis dropped the session, not its index entry
    expect((await app.sessions.listForUser('ada', { tenant: 'acme' })).map((s) => s.handle)).toEqual([long.handle]);
    expect(await client().zcard(index)).toBe(1);
    expect((await log.received('session.expired', 1))[0].payload).toEqual({ handle: short.handle, userId: 'ada' });
    expect(await app.pruner.runOnce()).toBe(1);
    expect(await client().exists(app.keys.user('acme', 'bob').index)).toBe(0);
    const expired = await log.received('session.expired', 2);
    expect(expired[1].payload).toEqual({ handle: other.handle, userId: 'bob' });
    log.stop();
  });

  it('the timer runs the pass by itself', async () => {
    const timed = await sessionApp(driver, { sessions: { pruneIntervalMs: 50 } });
    try {
      const log = await timed.watch('acme');
      const s = await timed.sessions.create('ada', {}, { tenant: 'acme', ttlMs: 200 });
      const [expired] = await log.received('session.expired', 1);
      expect(expired.payload).toEqual({ handle: s.handle, userId: 'ada' });
      log.stop();
    } finally {
      await timed.close();
    }
  });
});

/**
 * A session whose key expires between `destroy`'s read of its owner and its delete: the delete
 * finds the member in the index without its record, takes it out and reports it, and the
 * service announces it in `session.expired` (nobody else will: the index no longer names it).
 */
describe.each(DRIVERS)('destroy racing an expiry ($name)', (driver) => {
  let app: SessionTestApp;
  beforeEach(async () => {
    app = await sessionApp(driver);
  });
  afterEach(() => app.close());

  /** Lets the session's key expire right after the next read of the store (destroy's owner read) returns. */
  const expireAfterOwnerRead = (key: string, ttlMs: number) => {
    const read = app.store.read.bind(app.store);
    jest.spyOn(app.store, 'read').mockImplementationOnce(async (k, touch) => {
      const fields = await read(k, touch);
      if (!app.core.connection) {
        app.clock.advance(ttlMs);
      } else {
        // Redis expires the key itself (a 1 ms lifetime), as if its idle expiry came now.
        await app.core.connection.client.pexpire(key, 1);
        await until(async () => (await app.core.connection!.client.exists(key)) === 0, { timeoutMs: ARRIVAL_MS, message: 'the key to expire' });
      }
      return fields;
    });
  };

  it('announces the session as expired, once, and not as destroyed', async () => {
    const log = await app.watch('acme');
    const s = await app.sessions.create('ada', {}, { tenant: 'acme', ttlMs: 60_000 });
    const key = app.keys.session('acme', s.id.slice('acme.'.length));
    expireAfterOwnerRead(key, 60_000);
    expect(await app.sessions.destroy(s.id)).toBe(false);
    expect(app.core.metrics.counter('sessions_expired_total')).toBe(1);
    expect(app.core.metrics.counter('sessions_destroyed_total', { reason: 'destroy' })).toBe(0);
    const [expired] = await log.received('session.expired', 1);
    expect(expired).toMatchObject({ tenant: 'acme', payload: { handle: s.handle, userId: 'ada' } });
    // The index no longer names it: no later read or pass announces it again.
    expect(await app.sessions.listForUser('ada', { tenant: 'acme' })).toEqual([]);
    expect(await app.pruner.runOnce()).toBe(0);
    expect(await app.sessions.destroy(s.id)).toBe(false);
    expect(app.core.metrics.counter('sessions_expired_total')).toBe(1);
    expect(log.events.filter((e) => e.channel !== 'session.created').map((e) => e.channel)).toEqual(['session.expired']);
    log.stop();
  });
});
