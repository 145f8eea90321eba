import { uniquePrefix, REDIS_DRIVERS } from '../support/drivers.js';
import { sessionApp, type SessionTestApp } from './session-test-app.js';

/**
 * Two instances on one Redis share their sessions: what one ends, the other no longer finds,
 * and the other receives the events, under the session's tenant.
 */
describe.each(REDIS_DRIVERS)('revoking sessions across instances ($name)', (driver) => {
  let a: SessionTestApp;
  let b: SessionTestApp;
  beforeEach(async () => {
    const prefix = uniquePrefix('revoke');
    [a, b] = await Promise.all([sessionApp(driver, { prefix }), sessionApp(driver, { prefix })]);
  });
  afterEach(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  it('destroyAllForUser on one instance: the other finds none of them and receives each session.revoked with its tenant', async () => {
    const watched = await b.watch('acme');
    const fromA = [await a.sessions.create('ada', { n: 1 }, { tenant: 'acme' }), await a.sessions.create('ada', { n: 2 }, { tenant: 'acme' })];
    const fromB = await b.sessions.create('ada', { n: 3 }, { tenant: 'acme' });
    const kept = await b.sessions.create('ada', { n: 4 }, { tenant: 'acme' });
    const bob = await a.sessions.create('bob', {}, { tenant: 'acme' });
    const elsewhere = await a.sessions.create('ada', {}, { tenant: 'globex' });
    for (const s of [...fromA, fromB, kept]) expect(await b.sessions.get(s.id)).toMatchObject({ userId: 'ada', tenant: 'acme' });

    expect(await a.sessions.destroyAllForUser('ada', { tenant: 'acme', except: kept.id })).toBe(3);
    for (const s of [...fromA, fromB]) expect(await b.sessions.get(s.id)).toBeNull();
    expect(await b.sessions.get(kept.id)).toMatchObject({ data: { n: 4 } });
    expect(await b.sessions.get(bob.id)).not.toBeNull();
    expect(await b.sessions.get(elsewhere.id)).not.toBeNull();
    expect((await b.sessions.listForUser('ada', { tenant: 'acme' })).map((s) => s.handle)).toEqual([kept.handle]);

    const revoked = await watched.received('session.revoked', 3);
    expect(revoked.map((e) => e.tenant)).toEqual(['acme', 'acme', 'acme']);
    expect(revoked.map((e) => e.payload.handle).sort()).toEqual([...fromA, fromB].map((s) => s.handle).sort());
    expect(revoked.every((e) => e.payload.userId === 'ada' && e.source === a.core.instanceId)).toBe(true);
    watched.stop();
  });

  it('a destroy, an update and a regenerate on one instance are what the other sees next', async () => {
    const watched = await a.watch('acme');
    const s = await a.sessions.create('ada', { theme: 'dark' }, { tenant: 'acme' });
    await b.sessions.update(s.id, { theme: 'light' });
    expect((await a.sessions.get(s.id))!.data).toEqual({ theme: 'light' });
    const fresh = await b.sessions.regenerate(s.id);
    expect(await a.sessions.get(s.id)).toBeNull();
    expect((await a.sessions.get(fresh.id))!.data).toEqual({ theme: 'light' });
    expect(await b.sessions.destroy(fresh.id)).toBe(true);
    expect(await a.sessions.get(fresh.id)).toBeNull();
    const destroyed = await watched.received('session.destroyed', 2);
    // Both, exactly; in either order: on a cluster each PUBLISH may go through another node, and events promise no order between them.
    const ended = destroyed.map((e) => [e.payload.handle, e.payload.reason]).sort((x, y) => String(x[1]).localeCompare(String(y[1])));
    expect(ended).toEqual([[fresh.handle, 'destroy'], [s.handle, 'regenerated']]);
    watched.stop();
  });
});
