import { randomBytes } from 'node:crypto';
import { InvalidArgumentError, SessionNotFoundError, type Session } from '@nest-coordination/core';
import { DRIVERS } from '../support/drivers.js';
import { scanKeys } from '../support/scan-keys.js';
import { rejectionOf } from '../support/wait.js';
import { sessionApp, type SessionTestApp } from './session-test-app.js';

/**
 * A session id is a bearer secret: a forged or malformed one (wrong length, glob characters,
 * another tenant's, a well-shaped random one) finds nothing, changes nothing, and no error
 * quotes it.
 */
describe.each(DRIVERS)('forged and malformed session ids ($name)', (driver) => {
  let app: SessionTestApp;
  let real: Session;
  beforeEach(async () => {
    app = await sessionApp(driver);
    real = await app.sessions.create('ada', { secret: 'data' }, { tenant: 'acme' });
  });
  afterEach(() => app.close());

  const member = () => real.id.slice('acme.'.length);
  const forgeries = (): Record<string, string> => ({
    empty: '',
    'no tenant': member(),
    'tenant only': 'acme.',
    'one character short': real.id.slice(0, -1),
    'one character long': `${real.id}A`,
    'a dot in the member': `acme.${member().slice(0, 10)}.${member().slice(11)}`,
    'glob in the member': `acme.${'*'.repeat(22)}${member().slice(-3)}`,
    'glob characters in the member': `acme.${'?[]{}*'.repeat(3)}abcd${member().slice(-3)}`,
    'glob in the tenant': `*.${member()}`,
    'glob characters in the tenant': `ac[m]e{x}?.${member()}`,
    'a key segment in the tenant': `acme:session:{${member().slice(-3)}}.${member()}`,
    "another tenant's prefix on a real member": `globex.${member()}`,
    'a well-shaped random id in the same slot': `acme.${randomBytes(16).toString('base64url')}${member().slice(-3)}`,
    'a well-shaped random id': `acme.${randomBytes(16).toString('base64url')}Q2f`,
    'a huge id': `acme.${'A'.repeat(100_000)}`,
  });

  it('finds nothing, writes nothing and echoes nothing for each forgery', async () => {
    const keysBefore = await scanKeys(app.core, `${app.prefix}:*`);
    for (const [what, id] of Object.entries(forgeries())) {
      expect([what, await app.sessions.get(id)]).toEqual([what, null]);
      expect([what, await app.sessions.destroy(id)]).toEqual([what, false]);
      const errors = [
        await rejectionOf(app.sessions.update(id, { secret: 'overwritten' })),
        await rejectionOf(app.sessions.extend(id, { ttlMs: 60_000 })),
        await rejectionOf(app.sessions.regenerate(id)),
      ];
      for (const error of errors) {
        expect([what, error]).toEqual([what, expect.any(SessionNotFoundError)]);
        const text = `${(error as Error).message} ${JSON.stringify(error)}`;
        if (id.length > 0) expect(text).not.toContain(id);
        expect(text).not.toContain(member());
      }
      expect(await app.sessions.destroyAllForUser('bob', { tenant: 'acme', except: id })).toBe(0);
    }
    expect(await app.sessions.get(real.id)).toMatchObject({ data: { secret: 'data' }, version: 1 });
    expect(await scanKeys(app.core, `${app.prefix}:*`)).toEqual(keysBefore);
  });

  it("an `except` that is a forgery or another user's id keeps nothing extra", async () => {
    const mine = await app.sessions.create('bob', {}, { tenant: 'acme' });
    expect(await app.sessions.destroyAllForUser('bob', { tenant: 'acme', except: `acme.${member()}`.replace(/.$/, '0') })).toBe(1);
    expect(await app.sessions.get(mine.id)).toBeNull();
    expect(await app.sessions.destroyAllForUser('ada', { tenant: 'acme', except: forgeries()['glob in the tenant'] })).toBe(1);
    expect(await app.sessions.get(real.id)).toBeNull();
  });

  it('a non-string id is InvalidArgumentError naming the argument', async () => {
    const sessions = app.sessions as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    for (const method of ['get', 'update', 'extend', 'destroy', 'regenerate']) {
      for (const id of [undefined, null, 42, { id: real.id }, [real.id]]) {
        const error = await rejectionOf(sessions[method].call(app.sessions, id, method === 'update' ? {} : undefined));
        expect([method, error]).toEqual([method, expect.any(InvalidArgumentError)]);
        expect((error as InvalidArgumentError).argument).toBe('id');
        expect((error as Error).message).not.toContain(member());
      }
    }
    const except = await rejectionOf(app.sessions.destroyAllForUser('ada', { except: 7 as unknown as string }));
    expect(except).toMatchObject({ argument: 'options.except' });
  });
});
