import 'reflect-metadata';
import { InvalidOptionsError, SessionCookies, type CoordinationModuleOptions, type SessionCookieModuleOptions } from '@nest-coordination/core';
import { bootModule } from '../support/boot.js';

// Startup validation of the options the HTTP layer of sessions reads (review findings 3 and 10).

const SECRET = 'options-secret-options-secret-000';

/** The InvalidOptionsError a module of `options` (memory driver) fails to boot with. */
async function bootError(options: CoordinationModuleOptions): Promise<InvalidOptionsError> {
  const error = await bootModule({ driver: 'memory', health: { pingIntervalMs: 0 }, ...options }).then(
    async (booted) => {
      await booted.close();
      throw new Error('the module booted');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidOptionsError);
  return error as InvalidOptionsError;
}

const cookieError = (cookie: SessionCookieModuleOptions) => bootError({ sessions: { pruneIntervalMs: 0, cookie } });
/** The options an error names. */
const named = (error: InvalidOptionsError) => error.problems.map((p) => p.option);

describe('secret options never appear in startup errors (finding 3)', () => {
  it('a too-short sessions.cookie.secret is named and described by its length, never printed', async () => {
    const error = await cookieError({ secret: 'hunter2-hunter2' });
    expect(named(error)).toEqual(['sessions.cookie.secret']);
    expect(error.message).toContain('sessions.cookie.secret');
    expect(error.message).toContain('a string of 15 characters');
    expect(error.message).not.toContain('hunter2');
    expect(JSON.stringify(error.problems)).not.toContain('hunter2');
  });

  it('neither is one short secret among several, nor a connection.password of the wrong type', async () => {
    const several = await cookieError({ secret: [SECRET, 'hunter2-hunter2'] });
    expect(named(several)).toEqual(['sessions.cookie.secret']);
    expect(several.message).not.toContain('hunter2');
    const password = await bootError({ connection: { password: 987654321 as never } });
    expect(named(password)).toEqual(['connection.password']);
    expect(password.message).not.toContain('987654321');
    const url = await bootError({ connection: { url: 'http://admin:s3cr3t-pw@cache.internal:6379' } });
    expect(named(url)).toEqual(['connection.url']);
    expect(url.message).toContain('cache.internal:6379');
    expect(url.message).not.toContain('s3cr3t-pw');
  });

  it('connection.url hides everything up to the last `@` before the host, with or without a scheme (second review, finding 14)', async () => {
    const cases: Array<[string, string, string]> = [
      ['http://admin:p@ss-word@cache:6379', 'p@ss-word', '"http://***@cache:6379"'],
      ['admin:hunter2@cache:6379', 'hunter2', '"***@cache:6379"'],
      ['http://admin:p/ss@cache:6379', 'p/ss', '"http://***@cache:6379"'],
      ['admin:p@ss@cache:6379', 'p@ss', '"***@cache:6379"'],
    ];
    for (const [url, secret, shown] of cases) {
      const error = await bootError({ connection: { url } });
      expect(named(error)).toEqual(['connection.url']);
      expect(error.message).toContain(shown);
      expect(error.message).not.toContain(secret);
      expect(JSON.stringify(error.problems)).not.toContain(secret);
    }
  });

  it('other options still show the value they were given', async () => {
    const error = await cookieError({ secret: SECRET, sameSite: 'loose' as never });
    expect(error.message).toContain('"loose"');
  });
});

describe('cookie attribute combinations (finding 10)', () => {
  it('sameSite "none" needs secure: an error naming sessions.cookie.sameSite', async () => {
    const error = await cookieError({ secret: SECRET, sameSite: 'none', secure: false });
    expect(named(error)).toEqual(['sessions.cookie.sameSite']);
    expect(error.message).toMatch(/sessions\.cookie\.sameSite: .*secure/);
  });

  it('a __Host- name needs secure, path "/" and no domain: an error naming each offending option', async () => {
    expect(named(await cookieError({ secret: SECRET, name: '__Host-sid', domain: 'example.com' }))).toEqual(['sessions.cookie.domain']);
    expect(named(await cookieError({ secret: SECRET, name: '__Host-sid', secure: false }))).toEqual(['sessions.cookie.secure']);
    expect(named(await cookieError({ secret: SECRET, name: '__Host-sid', path: '/app' }))).toEqual(['sessions.cookie.path']);
    const all = await cookieError({ secret: SECRET, name: '__Host-sid', domain: 'example.com', secure: false, path: '/app' });
    expect(named(all).sort()).toEqual(['sessions.cookie.domain', 'sessions.cookie.path', 'sessions.cookie.secure']);
    expect(all.message).toContain('__Host-');
  });

  it('a __Secure- name needs secure', async () => {
    expect(named(await cookieError({ secret: SECRET, name: '__Secure-sid', secure: false }))).toEqual(['sessions.cookie.secure']);
  });

  it('boots with sameSite "none" over secure cookies, and with a __Host- name on the defaults', async () => {
    for (const cookie of [{ sameSite: 'none' as const }, { name: '__Host-sid' }, { name: '__Host-sid', path: '/', secure: true }, { name: '__Secure-sid', domain: 'example.com' }]) {
      const booted = await bootModule({ driver: 'memory', health: { pingIntervalMs: 0 }, sessions: { pruneIntervalMs: 0, cookie: { secret: SECRET, ...cookie } } });
      try {
        expect(booted.get(SessionCookies).name).toBe(cookie.name ?? 'sid');
      } finally {
        await booted.close();
      }
    }
  });
});
