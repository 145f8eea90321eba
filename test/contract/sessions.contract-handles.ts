import { jest } from '@jest/globals';
import { InvalidArgumentError, type SessionService } from '@nest-coordination/core';
import { sessionApp, type SessionTestApp } from '../sessions/session-test-app.js';
import type { DriverCase } from '../support/drivers.js';
import { rejectionOf } from '../support/wait.js';

/**
 * Handles, the non-secret names of sessions: computed only when read, and enough to end one
 * listed session of a user ("sign out that device"), never another user's or tenant's.
 */
export function describeSessionHandleContract(driver: DriverCase): void {
  let app: SessionTestApp;
  let sessions: SessionService;
  beforeEach(async () => {
    app = await sessionApp(driver, { sessions: { ttlMs: 600_000, absoluteTtlMs: 3_600_000 } });
    sessions = app.sessions;
  });
  afterEach(() => app.close());

  it('destroyByHandle ends exactly the listed session it names, announced as destroyed', async () => {
    const log = await app.watch('acme');
    const a = await sessions.create('ada', { n: 1 }, { tenant: 'acme' });
    const b = await sessions.create('ada', { n: 2 }, { tenant: 'acme' });
    const c = await sessions.create('ada', { n: 3 }, { tenant: 'acme' });
    const listed = await sessions.listForUser('ada', { tenant: 'acme' });
    const device = listed.find((s) => s.data.n === 2)!;
    expect(await sessions.destroyByHandle('ada', device.handle, { tenant: 'acme' })).toBe(true);
    expect(await Promise.all([a, b, c].map((s) => sessions.get(s.id).then((x) => x !== null)))).toEqual([true, false, true]);
    expect((await sessions.listForUser('ada', { tenant: 'acme' })).map((s) => s.handle).sort()).toEqual([a.handle, c.handle].sort());
    expect(await sessions.destroyByHandle('ada', device.handle, { tenant: 'acme' })).toBe(false); // already ended
    const [destroyed] = await log.received('session.destroyed', 1);
    expect(destroyed).toMatchObject({ tenant: 'acme', payload: { handle: b.handle, userId: 'ada', reason: 'destroy' } });
    expect(JSON.stringify(log.events)).not.toContain(b.id.slice('acme.'.length));
    expect(app.core.metrics.counter('sessions_destroyed_total', { reason: 'destroy' })).toBe(1);
    log.stop();
  });

  it("destroyByHandle: an unknown handle, another user's or another tenant's is false and ends nothing", async () => {
    const mine = await sessions.create('ada', {}, { tenant: 'acme' });
    const bobs = await sessions.create('bob', {}, { tenant: 'acme' });
    const elsewhere = await sessions.create('ada', {}, { tenant: 'globex' });
    const shared = await sessions.create('ada', {});
    expect(await sessions.destroyByHandle('ada', 'AAAAAAAAAAAAAAAA', { tenant: 'acme' })).toBe(false);
    expect(await sessions.destroyByHandle('ada', '', { tenant: 'acme' })).toBe(false);
    expect(await sessions.destroyByHandle('ada', mine.id, { tenant: 'acme' })).toBe(false); // an id is not a handle
    expect(await sessions.destroyByHandle('ada', bobs.handle, { tenant: 'acme' })).toBe(false);
    expect(await sessions.destroyByHandle('bob', mine.handle, { tenant: 'acme' })).toBe(false);
    expect(await sessions.destroyByHandle('ada', elsewhere.handle, { tenant: 'acme' })).toBe(false);
    expect(await app.core.tenants.run('globex', () => sessions.destroyByHandle('ada', mine.handle))).toBe(false);
    expect(await sessions.destroyByHandle('ada', mine.handle)).toBe(false); // no tenant: the shared namespace
    expect(await Promise.all([mine, bobs, elsewhere, shared].map((s) => sessions.get(s.id).then((x) => x !== null)))).toEqual([true, true, true, true]);
    expect(await app.core.tenants.run('globex', () => sessions.destroyByHandle('ada', elsewhere.handle))).toBe(true);
    expect(await sessions.destroyByHandle('ada', shared.handle)).toBe(true);
    expect(await rejectionOf(sessions.destroyByHandle('ada', 7 as unknown as string))).toBeInstanceOf(InvalidArgumentError);
  });

  it("a session's handle is computed when first read, once, and kept by spreading and JSON", async () => {
    const s = await sessions.create('ada', { n: 1 }, { tenant: 'acme' });
    const expected = s.handle;
    const hashing = jest.spyOn(app.keys, 'handle');
    try {
      const read = (await sessions.get(s.id))!;
      const [listed] = await sessions.listForUser('ada', { tenant: 'acme' });
      expect(hashing).not.toHaveBeenCalled();
      expect([read.handle, read.handle, listed.handle]).toEqual([expected, expected, expected]);
      expect(hashing).toHaveBeenCalledTimes(2);
      expect(Object.keys(read)).toContain('handle');
      expect({ ...read }.handle).toBe(expected);
      expect(JSON.parse(JSON.stringify(listed))).toMatchObject({ handle: expected, userId: 'ada', data: { n: 1 } });
      expect(hashing).toHaveBeenCalledTimes(2);
    } finally {
      hashing.mockRestore();
    }
  });

  it("a frozen or sealed session's handle can be read (it is computed, not kept)", async () => {
    const s = await sessions.create('ada', { n: 1 }, { tenant: 'acme' });
    const expected = s.handle;
    const frozen = Object.freeze((await sessions.get(s.id))!);
    const sealed = Object.seal((await sessions.get(s.id))!);
    const [listed] = await sessions.listForUser('ada', { tenant: 'acme' });
    Object.freeze(listed);
    expect([frozen.handle, frozen.handle, sealed.handle, listed.handle]).toEqual([expected, expected, expected, expected]);
    expect({ ...frozen }.handle).toBe(expected);
    expect(() => {
      (frozen as { handle: string }).handle = 'other';
    }).toThrow(TypeError);
    expect(frozen.handle).toBe(expected);
  });
}
