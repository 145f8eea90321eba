import { SessionNotFoundError } from '@nest-coordination/core';
import { DRIVERS, REDIS_DRIVERS } from '../support/drivers.js';
import { rejectionOf, until } from '../support/wait.js';
import { ARRIVAL_MS, sessionApp, type SessionTestApp } from './session-test-app.js';

const memory = DRIVERS.find((d) => d.name === 'memory')!;

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
