import {
  SessionLimitError, SessionNotFoundError, SessionVersionConflictError, type Session, type SessionService,
} from '@nest-coordination/core';
import { sessionApp, type SessionTestApp } from '../sessions/session-test-app.js';
import type { DriverCase } from '../support/drivers.js';
import { rejectionOf } from '../support/wait.js';

const ID = /^acme\.[A-Za-z0-9_-]{22}[A-Za-z0-9]{3}$/;
const idleOf = (s: Session) => s.expiresAt.getTime() - s.lastActivity.getTime();

/** Every string of an async iterable. */
export async function collect(lines: AsyncIterable<string>): Promise<string[]> {
  const all: string[] = [];
  for await (const line of lines) all.push(line);
  return all;
}

/**
 * What SessionService promises on every backend, through the Nest module: memory, standalone
 * Redis and Redis Cluster run these same assertions. Time passes with `app.elapse` (the
 * ManualClock on memory, the server clock on Redis); lifetimes are long, so nothing expires
 * here (expiry: test/sessions/session-expiry.spec.ts).
 */
export function describeSessionServiceContract(driver: DriverCase): void {
  let app: SessionTestApp;
  let sessions: SessionService;
  const extra: SessionTestApp[] = [];
  beforeEach(async () => {
    app = await sessionApp(driver, { sessions: { ttlMs: 600_000, absoluteTtlMs: 3_600_000 } });
    sessions = app.sessions;
  });
  afterEach(async () => {
    await Promise.all([app, ...extra.splice(0)].map((a) => a.close()));
  });
  const another = async (options: Parameters<typeof sessionApp>[1]) => {
    const booted = await sessionApp(driver, options);
    extra.push(booted);
    return booted;
  };

  it('creates a session with a URL-safe id bound to its tenant, its data through the serializer, and reads it back', async () => {
    const data = { theme: 'dark', at: new Date(5), seen: new Set([1, 2]), total: 10n, nested: { list: [1, { deep: null }] } };
    const s = await sessions.create('ada', data, { tenant: 'acme', companyId: 'acme', crewId: 'crew-7', metadata: { userAgent: 'jest' } });
    expect(s.id).toMatch(ID);
    expect(s).toMatchObject({ tenant: 'acme', userId: 'ada', companyId: 'acme', crewId: 'crew-7', metadata: { userAgent: 'jest' }, version: 1, data });
    expect(s.lastActivity).toBeInstanceOf(Date);
    expect(s.lastActivity).toEqual(s.createdAt);
    expect(s.expiresAt.getTime() - s.createdAt.getTime()).toBe(600_000);
    expect(s.absoluteExpiresAt.getTime() - s.createdAt.getTime()).toBe(3_600_000);
    expect(s.handle).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(s.id).not.toContain(s.handle);
    const read = await sessions.get(s.id, { touch: false });
    expect(read).toEqual(s);
    expect(read!.data.at).toBeInstanceOf(Date);
    const plain = await sessions.create('bob', JSON.parse('{"__proto__":"a field like any other"}') as Record<string, unknown>);
    expect(plain.id.startsWith('_shared.')).toBe(true);
    expect(plain.companyId).toBeUndefined();
    expect(plain.metadata).toEqual({});
    const own = (await sessions.get(plain.id))!.data;
    expect(Object.keys(own)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(own)).toBe(Object.prototype);
    const ids = new Set(await Promise.all(Array.from({ length: 20 }, () => sessions.create('ada', {}).then((x) => x.id))));
    expect(ids.size).toBe(20);
  });

  it('slides the idle expiry on get, never past the absolute expiry; touch: false and sliding: false do not slide', async () => {
    const s = await sessions.create('ada', {}, { ttlMs: 60_000, absoluteTtlMs: 600_000 });
    await app.elapse(20);
    const slid = (await sessions.get(s.id))!;
    expect(slid.lastActivity.getTime()).toBeGreaterThan(s.lastActivity.getTime());
    expect(idleOf(slid)).toBe(60_000);
    await app.elapse(20);
    const peeked = (await sessions.get(s.id, { touch: false }))!;
    expect(peeked.lastActivity).toEqual(slid.lastActivity);
    expect(peeked.expiresAt).toEqual(slid.expiresAt);
    // 10 ms of absolute lifetime beyond the idle one: once 20 ms (or more, on a busy machine) passed, a slide is capped.
    const near = await sessions.create('ada', {}, { ttlMs: 60_000, absoluteTtlMs: 60_010 });
    await app.elapse(20);
    expect((await sessions.get(near.id))!.expiresAt).toEqual(near.absoluteExpiresAt);
    const capped = await sessions.create('ada', {}, { ttlMs: 120_000, absoluteTtlMs: 60_000 });
    expect(capped.expiresAt).toEqual(capped.absoluteExpiresAt);

    const fixed = await another({ sessions: { sliding: false } });
    const f = await fixed.sessions.create('ada', {});
    await fixed.elapse(20);
    expect((await fixed.sessions.get(f.id))!.lastActivity).toEqual(f.lastActivity);
    expect((await fixed.sessions.get(f.id, { touch: true }))!.lastActivity.getTime()).toBeGreaterThan(f.lastActivity.getTime());
  });

  it('update merges the patch field by field, removes undefined fields, bumps the version and slides', async () => {
    const s = await sessions.create('ada', { a: 1, b: 2, c: 3 });
    await app.elapse(5);
    const u = await sessions.update(s.id, { b: 20, c: undefined, d: new Date(7) });
    expect(u.data).toEqual({ a: 1, b: 20, d: new Date(7) });
    expect(u.version).toBe(2);
    expect(u.lastActivity.getTime()).toBeGreaterThan(s.lastActivity.getTime());
    expect((await sessions.get(s.id))!.data).toEqual(u.data);
    expect((await sessions.update(s.id, {})).version).toBe(3);
  });

  it('update with ifVersion is a compare-and-set; an unknown session is SessionNotFoundError', async () => {
    const s = await sessions.create('ada', { step: 1 });
    expect((await sessions.update(s.id, { step: 2 }, { ifVersion: 1 })).version).toBe(2);
    const conflict = await rejectionOf(sessions.update(s.id, { step: 3 }, { ifVersion: 1 }));
    expect(conflict).toBeInstanceOf(SessionVersionConflictError);
    expect(conflict).toMatchObject({ expected: 1, actual: 2 });
    expect((await sessions.get(s.id))!.data).toEqual({ step: 2 });
    expect(app.core.metrics.counter('sessions_version_conflicts_total')).toBe(1);
    await sessions.destroy(s.id);
    expect(await rejectionOf(sessions.update(s.id, { step: 4 }))).toBeInstanceOf(SessionNotFoundError);
  });

  it('extend restarts the idle lifetime for the session\'s own or for ttlMs (its own from then on), never past the absolute expiry', async () => {
    const s = await sessions.create('ada', {}, { ttlMs: 60_000 });
    expect(idleOf(await sessions.extend(s.id))).toBe(60_000);
    expect(idleOf(await sessions.extend(s.id, { ttlMs: 120_000 }))).toBe(120_000);
    expect(idleOf(await sessions.extend(s.id))).toBe(120_000);
    expect(idleOf(await sessions.extend(s.id, { ttlMs: 60_000 }))).toBe(60_000);
    const far = await sessions.extend(s.id, { ttlMs: 7_200_000 });
    expect(far.expiresAt).toEqual(s.absoluteExpiresAt);
    await sessions.destroy(s.id);
    expect(await rejectionOf(sessions.extend(s.id))).toBeInstanceOf(SessionNotFoundError);
  });

  it('destroy ends a session once and announces it by its handle, never its id', async () => {
    const log = await app.watch('acme');
    const s = await sessions.create('ada', {}, { tenant: 'acme', companyId: 'acme' });
    expect(await sessions.destroy(s.id)).toBe(true);
    expect(await sessions.get(s.id)).toBeNull();
    expect(await sessions.destroy(s.id)).toBe(false);
    expect(await sessions.listForUser('ada', { tenant: 'acme' })).toEqual([]);
    const [created] = await log.received('session.created', 1);
    const [destroyed] = await log.received('session.destroyed', 1);
    expect(created).toMatchObject({ tenant: 'acme', payload: { handle: s.handle, userId: 'ada', companyId: 'acme' } });
    expect(destroyed).toMatchObject({ tenant: 'acme', payload: { handle: s.handle, userId: 'ada', reason: 'destroy' } });
    expect(JSON.stringify(log.events)).not.toContain(s.id.slice(5));
    expect(app.core.metrics.counter('sessions_destroyed_total', { reason: 'destroy' })).toBe(1);
    log.stop();
  });

  it('lists a user\'s sessions oldest first, without their ids, in the tenant of the call', async () => {
    const made: Session[] = [];
    for (const n of [1, 2, 3]) {
      made.push(await sessions.create('ada', { n }, { tenant: 'acme' }));
      await app.elapse(2); // creation time orders the index
    }
    await sessions.create('bob', {}, { tenant: 'acme' });
    const elsewhere = await sessions.create('ada', { n: 9 }, { tenant: 'globex' });
    const listed = await sessions.listForUser('ada', { tenant: 'acme' });
    expect(listed.map((s) => s.handle)).toEqual(made.map((s) => s.handle));
    expect(listed.map((s) => s.data)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    for (const summary of listed) expect(summary).not.toHaveProperty('id');
    expect(listed[0]).toEqual(Object.fromEntries(Object.entries(made[0]).filter(([k]) => k !== 'id')));
    expect((await app.core.tenants.run('globex', () => sessions.listForUser('ada'))).map((s) => s.handle)).toEqual([elsewhere.handle]);
  });

  it('destroyAllForUser ends every session of the user but `except`, in its tenant, each announced as revoked', async () => {
    const [a, b, c] = [await sessions.create('ada', {}, { tenant: 'acme' }), await sessions.create('ada', {}, { tenant: 'acme' }), await sessions.create('ada', {}, { tenant: 'acme' })];
    const d = await sessions.create('bob', {}, { tenant: 'acme' });
    const e = await sessions.create('ada', {}, { tenant: 'globex' });
    const log = await app.watch('acme');
    expect(await sessions.destroyAllForUser('ada', { tenant: 'acme', except: b.id })).toBe(2);
    expect(await Promise.all([a, b, c, d, e].map((s) => sessions.get(s.id).then((x) => x !== null)))).toEqual([false, true, false, true, true]);
    const revoked = await log.received('session.revoked', 2);
    expect(revoked.map((r) => r.payload.handle).sort()).toEqual([a.handle, c.handle].sort());
    expect(revoked[0].payload).toEqual({ handle: expect.any(String), userId: 'ada' });
    // An `except` of another user or tenant keeps nothing extra.
    expect(await sessions.destroyAllForUser('bob', { tenant: 'acme', except: b.id })).toBe(1);
    expect(await sessions.destroyAllForUser('ada', { tenant: 'globex', except: b.id })).toBe(1);
    expect(await Promise.all([b, d, e].map((s) => sessions.get(s.id).then((x) => x !== null)))).toEqual([true, false, false]);
    expect(await sessions.destroyAllForUser('nobody', { tenant: 'acme' })).toBe(0);
    log.stop();
  });

  it('regenerate moves the session to a new id with the same data; the old id is dead', async () => {
    const log = await app.watch('acme');
    const s = await sessions.create('ada', { cart: ['sku-1'] }, { tenant: 'acme', crewId: 'crew-7', metadata: { ip: '10.0.0.1' } });
    const updated = await sessions.update(s.id, { step: 2 });
    const fresh = await sessions.regenerate(s.id);
    expect(fresh.id).toMatch(ID);
    expect(fresh.id).not.toBe(s.id);
    expect(fresh.handle).not.toBe(s.handle);
    expect(fresh).toMatchObject({ data: updated.data, metadata: s.metadata, crewId: 'crew-7', version: updated.version, createdAt: s.createdAt, absoluteExpiresAt: s.absoluteExpiresAt });
    expect(await sessions.get(s.id)).toBeNull();
    expect((await sessions.get(fresh.id))!.data).toEqual({ cart: ['sku-1'], step: 2 });
    expect((await sessions.listForUser('ada', { tenant: 'acme' })).map((x) => x.handle)).toEqual([fresh.handle]);
    expect(await rejectionOf(sessions.update(s.id, { x: 1 }))).toBeInstanceOf(SessionNotFoundError);
    expect(await rejectionOf(sessions.regenerate(s.id))).toBeInstanceOf(SessionNotFoundError);
    const [destroyed] = await log.received('session.destroyed', 1);
    expect(destroyed.payload).toEqual({ handle: s.handle, userId: 'ada', reason: 'regenerated' });
    expect((await log.received('session.created', 2))[1].payload).toEqual({ handle: fresh.handle, userId: 'ada', crewId: 'crew-7' });
    log.stop();
  });

  it('countForTenant counts the live sessions of one tenant', async () => {
    const [a] = [await sessions.create('ada', {}, { tenant: 'acme' }), await sessions.create('bob', {}, { tenant: 'acme' })];
    await sessions.create('ada', {}, { tenant: 'globex' });
    await sessions.create('ada', {});
    expect(await sessions.countForTenant({ tenant: 'acme' })).toBe(2);
    expect(await app.core.tenants.run('globex', () => sessions.countForTenant())).toBe(1);
    expect(await sessions.countForTenant()).toBe(1);
    await sessions.destroy(a.id);
    expect(await sessions.countForTenant({ tenant: 'acme' })).toBe(1);
  });

  it('maxPerUser: evict-oldest ends the oldest sessions and announces them; reject throws SessionLimitError', async () => {
    const evicting = await another({ sessions: { maxPerUser: 2 } });
    const log = await evicting.watch('acme');
    const made: Session[] = [];
    for (const n of [1, 2, 3]) {
      made.push(await evicting.sessions.create('ada', { n }, { tenant: 'acme' }));
      await evicting.elapse(2);
    }
    expect(await evicting.sessions.get(made[0].id)).toBeNull();
    expect((await evicting.sessions.listForUser('ada', { tenant: 'acme' })).map((s) => s.handle)).toEqual([made[1].handle, made[2].handle]);
    const [evicted] = await log.received('session.destroyed', 1);
    expect(evicted.payload).toEqual({ handle: made[0].handle, userId: 'ada', reason: 'evicted' });
    log.stop();

    const strict = await another({ sessions: { maxPerUser: 2, onMaxPerUser: 'reject' } });
    const first = await strict.sessions.create('ada', {});
    await strict.sessions.create('ada', {});
    const refused = await rejectionOf(strict.sessions.create('ada', {}));
    expect(refused).toBeInstanceOf(SessionLimitError);
    expect(refused).toMatchObject({ limit: 2 });
    expect(await strict.sessions.create('bob', {})).toMatchObject({ userId: 'bob' });
    await strict.sessions.destroy(first.id);
    expect(await strict.sessions.create('ada', {})).toMatchObject({ userId: 'ada' });
  });

  it('an id is bound to its tenant: under another tenant, given or in context, it is not found', async () => {
    const s = await sessions.create('ada', { a: 1 }, { tenant: 'acme' });
    const globex = { tenant: 'globex' };
    expect(await sessions.get(s.id, globex)).toBeNull();
    expect(await app.core.tenants.run('globex', () => sessions.get(s.id))).toBeNull();
    expect(await app.core.tenants.run('acme', () => sessions.get(s.id))).toMatchObject({ id: s.id });
    for (const call of [sessions.update(s.id, { a: 2 }, globex), sessions.extend(s.id, globex), sessions.regenerate(s.id, globex)]) {
      expect(await rejectionOf(call)).toBeInstanceOf(SessionNotFoundError);
    }
    expect(await sessions.destroy(s.id, globex)).toBe(false);
    expect(await sessions.get(s.id, { tenant: 'acme' })).toMatchObject({ data: { a: 1 }, version: 1 });
  });

  it('exports sessions as JSON lines and imports them back idempotently, with their remaining lifetimes', async () => {
    const made = [await sessions.create('ada', { n: 1 }, { tenant: 'acme' }), await sessions.create('bob', { at: new Date(3) }, { tenant: 'acme', ttlMs: 60_000 })];
    const other = await sessions.create('ada', { n: 2 }, { tenant: 'globex' });
    const lines = await collect(sessions.exportSessions({ tenant: 'acme' }));
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line.endsWith('\n')).toBe(true);
      expect(JSON.parse(line)).toMatchObject({ v: 1, tenant: 'acme', id: expect.stringMatching(ID), fields: { u: expect.any(String) } });
    }
    const everything = await collect(sessions.exportSessions({ tenant: '*' }));
    expect(everything).toHaveLength(3);
    await sessions.destroyAllForUser('ada', { tenant: 'acme' });
    await sessions.destroyAllForUser('bob', { tenant: 'acme' });
    await sessions.destroy(other.id);

    expect(await sessions.importSessions(lines, { tenant: 'acme' })).toEqual({ restored: 2, kept: 0, expired: 0, skipped: 0 });
    // Again: each stored record is as new as its line (same version and activity), so it is kept.
    expect(await app.core.tenants.run('acme', () => sessions.importSessions(lines))).toEqual({ restored: 0, kept: 2, expired: 0, skipped: 0 });
    for (const s of made) {
      const restored = await sessions.get(s.id, { touch: false });
      expect(restored).toMatchObject({ data: s.data, expiresAt: s.expiresAt, absoluteExpiresAt: s.absoluteExpiresAt, createdAt: s.createdAt });
    }
    expect((await sessions.listForUser('ada', { tenant: 'acme' })).map((s) => s.handle)).toEqual([made[0].handle]);
    expect(await sessions.countForTenant({ tenant: 'acme' })).toBe(2);
    // A session updated since the export is kept as it is: an import never undoes an update.
    await sessions.update(made[0].id, { n: 5 });
    expect(await sessions.importSessions(lines, { tenant: 'acme' })).toEqual({ restored: 0, kept: 2, expired: 0, skipped: 0 });
    expect((await sessions.get(made[0].id))!.data).toEqual({ n: 5 });
    expect(await sessions.importSessions(everything, { tenant: 'globex' })).toEqual({ restored: 1, kept: 0, expired: 0, skipped: 2 });
    expect((await sessions.get(other.id))!.data).toEqual({ n: 2 });
  });

  it('imports only the tenant of the call: another tenant\'s lines are skipped unless tenant: \'*\'', async () => {
    const other = await sessions.create('ada', { n: 2 }, { tenant: 'globex' });
    const shared = await sessions.create('ada', { n: 3 });
    const everything = await collect(sessions.exportSessions({ tenant: '*' }));
    const [globexLine] = await collect(sessions.exportSessions({ tenant: 'globex' }));
    await sessions.destroy(other.id);
    await sessions.destroy(shared.id);
    // A crafted line of globex imported inside acme's context is not restored.
    expect(await app.core.tenants.run('acme', () => sessions.importSessions([globexLine]))).toEqual({ restored: 0, kept: 0, expired: 0, skipped: 1 });
    expect(await sessions.get(other.id)).toBeNull();
    // Without a tenant (none in context): the shared namespace only, as exportSessions.
    expect(await sessions.importSessions(everything)).toEqual({ restored: 1, kept: 0, expired: 0, skipped: 1 });
    expect(await sessions.get(other.id)).toBeNull();
    expect((await sessions.get(shared.id))!.data).toEqual({ n: 3 });
    // Every line with '*': the shared session, stored and used since, is kept.
    expect(await app.core.tenants.run('acme', () => sessions.importSessions(everything, { tenant: '*' }))).toEqual({ restored: 1, kept: 1, expired: 0, skipped: 0 });
    expect((await sessions.get(other.id))!.data).toEqual({ n: 2 });
  });
}
