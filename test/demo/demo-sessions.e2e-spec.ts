import type { INestApplication } from '@nestjs/common';
import { unsign } from 'cookie-signature';
import request from 'supertest';
import { COMPANY_HEADER, DEV_SESSION_SECRET, SESSION_ABSOLUTE_TTL_MS, SESSION_COOKIE, USER_HEADER, demoConfigFromEnv } from '../../apps/demo/src/demo.config.js';
import { attributes, clearsSessionCookie, sessionSetCookie } from './demo-login-support.js';
import { DEMO_BACKENDS, as, bootDemo } from './demo-test-app.js';

/** A login (`?token=true`): the body's bearer token and handle, and the `Cookie` header that carries the session. */
interface Login {
  token: string;
  handle: string;
  cookie: string;
  /** The `Set-Cookie` line of the session cookie, attributes included. */
  setCookie: string;
}

describe.each(DEMO_BACKENDS)('demo app: login, sessions and logout ($name)', (driver) => {
  let app: INestApplication;

  beforeAll(async () => {
    ({ app } = await bootDemo(driver));
  });

  afterAll(async () => {
    await app?.close();
  });

  const http = () => request(app.getHttpServer());

  async function login(userId: string, companyId: string, userAgent = 'jest'): Promise<Login> {
    const res = await http().post('/auth/login?token=true').set('user-agent', userAgent).send({ userId, companyId }).expect(201);
    const setCookie = sessionSetCookie(res);
    if (!setCookie) throw new Error(`login of ${userId} set no ${SESSION_COOKIE} cookie`);
    return { token: res.body.token, handle: res.body.handle, cookie: setCookie.split(';')[0], setCookie };
  }

  /** Ends every session of a user through the `x-user-id` stand-in, so a test counts only its own. */
  async function signedOutEverywhere(userId: string, companyId: string): Promise<void> {
    await http().post('/auth/logout-everywhere').set(as(userId, companyId)).expect(200);
  }

  const crewIds = (res: request.Response) => res.body.map((c: { id: string }) => c.id).sort();

  it('POST /auth/login?token=true sets a signed, httpOnly, SameSite=Lax cookie holding the bearer token it answers', async () => {
    const res = await http().post('/auth/login?token=true').send({ userId: 'u-ada', companyId: 'acme' }).expect(201);
    expect(res.body).toEqual({
      token: expect.any(String), handle: expect.any(String), userId: 'u-ada', companyId: 'acme',
      expiresAt: expect.any(String), absoluteExpiresAt: expect.any(String),
    });
    expect(res.headers['cache-control']).toBe('no-store');
    // Rate-limited per client IP, like a login form should be.
    expect(res.headers['ratelimit-policy']).toContain('"login-ip"');
    expect(new Date(res.body.expiresAt).getTime()).toBeLessThanOrEqual(new Date(res.body.absoluteExpiresAt).getTime());

    const setCookie = sessionSetCookie(res)!;
    expect(setCookie).toBeDefined();
    expect(attributes(setCookie)).toEqual(expect.arrayContaining(['httponly', 'samesite=lax', 'path=/']));
    // Until the session's absolute end (whole seconds, counted from a moment after the login began).
    const maxAge = Number(attributes(setCookie).find((a) => a.startsWith('max-age='))?.slice('max-age='.length));
    expect(maxAge).toBeGreaterThan(SESSION_ABSOLUTE_TTL_MS / 1000 - 60);
    expect(maxAge).toBeLessThanOrEqual(SESSION_ABSOLUTE_TTL_MS / 1000);
    // The demo serves plain HTTP outside production: a Secure cookie would never come back.
    expect(attributes(setCookie)).not.toContain('secure');
    // The value is the token signed with the secret (cookie-signature's `s:<value>.<signature>`), not the bare token.
    const value = decodeURIComponent(setCookie.split(';')[0].slice(SESSION_COOKIE.length + 1));
    expect(value.startsWith(`s:${res.body.token}.`)).toBe(true);
    expect(unsign(value.slice(2), DEV_SESSION_SECRET)).toBe(res.body.token);
    expect(unsign(value.slice(2), 'another-secret-of-at-least-32-characters')).toBe(false);
  });

  it('refuses a login of an unknown user (401) or into another company (403), and a malformed body (400)', async () => {
    const unknown = await http().post('/auth/login').send({ userId: 'u-nobody', companyId: 'acme' }).expect(401);
    expect(sessionSetCookie(unknown)).toBeUndefined();
    const other = await http().post('/auth/login').send({ userId: 'u-ada', companyId: 'globex' }).expect(403);
    expect(sessionSetCookie(other)).toBeUndefined();
    await http().post('/auth/login').send({ userId: 'u-ada', companyId: 'umbrella' }).expect(403);
    await http().post('/auth/login').send({ userId: 'u-ada' }).expect(400);
    await http().post('/auth/login').send({ userId: 'u-ada', companyId: 'acme', password: 'x' }).expect(400);
  });

  it('the crew routes accept the session cookie and the bearer token, with no x-user-id or x-company-id', async () => {
    const ada = await login('u-ada', 'acme');
    const byCookie = await http().get('/crews').set('cookie', ada.cookie).expect(200);
    expect(crewIds(byCookie)).toEqual(['market-research', 'support-triage']);
    const byBearer = await http().get('/crews').set('authorization', `Bearer ${ada.token}`).expect(200);
    expect(crewIds(byBearer)).toEqual(['market-research', 'support-triage']);

    // A write, a run (its lock and quotas in the session's company) and the company profile, as Ada.
    await http().post('/crews/market-research/events').set('cookie', ada.cookie).send({ type: 'progress' }).expect(202);
    const run = await http().post('/crews/support-triage/runs?durationMs=0').set('authorization', `Bearer ${ada.token}`).expect(201);
    expect(run.body).toMatchObject({ crewId: 'support-triage', status: 'succeeded', triggeredBy: 'u-ada' });
    expect(run.headers['ratelimit-policy']).toContain('"crew-run-user"');
    const company = await http().get('/company').set('cookie', ada.cookie).expect(200);
    expect(company.body.id).toBe('acme');
  });

  it('a forged, tampered or unknown session is a 401 problem+json, never a fall-back to x-user-id', async () => {
    const ada = await login('u-ada', 'acme');
    const [name, value] = ada.cookie.split('=');
    const tampered = `${name}=${value.slice(0, -3)}${value.endsWith('AAA') ? 'BBB' : 'AAA'}`;
    const unsigned = `${name}=${encodeURIComponent(ada.token)}`;
    for (const cookie of [tampered, unsigned]) {
      const res = await http().get('/crews').set('cookie', cookie).set(as('u-ada', 'acme')).expect(401);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.body.code).toBe('E_SESSION_NOT_FOUND');
    }
    const unknown = `${ada.token.slice(0, -5)}${ada.token.endsWith('xxxxx') ? 'yyyyy' : 'xxxxx'}`;
    for (const bearer of [unknown, 'not-a-session', `globex.${ada.token.slice('acme.'.length)}`]) {
      const res = await http().get('/crews').set('authorization', `Bearer ${bearer}`).expect(401);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.body.code).toBe('E_SESSION_NOT_FOUND');
      expect(JSON.stringify(res.body)).not.toContain(ada.token);
    }
  });

  it('POST /auth/logout ends the session: 204, the cookie cleared, and 401 for the cookie and the token after', async () => {
    const ada = await login('u-ada', 'acme');
    const other = await login('u-ada', 'acme');
    const res = await http().post('/auth/logout').set('cookie', ada.cookie).expect(204);
    expect(res.text).toBe('');
    const cleared = sessionSetCookie(res)!;
    expect(cleared.split(';')[0]).toBe(`${SESSION_COOKIE}=`);
    expect(attributes(cleared)).toContain('max-age=0');

    await http().get('/crews').set('cookie', ada.cookie).expect(401);
    await http().get('/crews').set('authorization', `Bearer ${ada.token}`).expect(401);
    // Logging out again (a stale cookie) is no error: 204, and the cookie cleared again.
    const again = await http().post('/auth/logout').set('cookie', ada.cookie).expect(204);
    expect(clearsSessionCookie(sessionSetCookie(again))).toBe(true);
    // Only that session: Ada's other login still works.
    await http().get('/crews').set('cookie', other.cookie).expect(200);
  });

  it('POST /auth/logout-everywhere ends every session of the user, the current one included, and no one else\'s', async () => {
    await signedOutEverywhere('u-bob', 'acme');
    const laptop = await login('u-bob', 'acme');
    const phone = await login('u-bob', 'acme');
    const cleo = await login('u-cleo', 'acme');

    const res = await http().post('/auth/logout-everywhere').set('cookie', phone.cookie).expect(200);
    expect(res.body).toEqual({ ended: 2 });
    expect(attributes(sessionSetCookie(res)!)).toContain('max-age=0');

    for (const bob of [laptop, phone]) {
      await http().get('/crews').set('cookie', bob.cookie).expect(401);
      await http().get('/crews').set('authorization', `Bearer ${bob.token}`).expect(401);
    }
    await http().get('/crews').set('cookie', cleo.cookie).expect(200);
    const left = await http().get('/sessions').set(as('u-bob', 'acme')).expect(200);
    expect(left.body).toEqual([]);
  });

  it('GET /sessions lists the user\'s sessions, oldest first, the caller\'s own marked current, without their ids', async () => {
    await signedOutEverywhere('u-cleo', 'acme');
    const laptop = await login('u-cleo', 'acme', 'laptop');
    const phone = await login('u-cleo', 'acme', 'phone');
    await login('u-bob', 'acme'); // someone else's: not listed

    const res = await http().get('/sessions').set('cookie', phone.cookie).expect(200);
    expect(res.headers['cache-control']).toBe('private, no-store');
    // Oldest first; two logins within one millisecond may come in either order, so found by handle.
    const entries = new Map<string, unknown>(res.body.map((s: { handle: string }) => [s.handle, s]));
    expect(res.body).toHaveLength(2);
    expect(entries.get(laptop.handle)).toMatchObject({ current: false, userAgent: 'laptop' });
    expect(entries.get(phone.handle)).toMatchObject({ current: true, userAgent: 'phone' });
    const created = res.body.map((s: { createdAt: string }) => Date.parse(s.createdAt));
    expect(created[0]).toBeLessThanOrEqual(created[1]);
    for (const entry of res.body) {
      expect(Object.keys(entry).sort()).toEqual(['absoluteExpiresAt', 'createdAt', 'current', 'expiresAt', 'handle', 'lastActivity', 'userAgent']);
    }
    const text = JSON.stringify(res.body);
    for (const secret of [laptop.token, phone.token]) expect(text).not.toContain(secret.slice(secret.indexOf('.') + 1));

    // By bearer token, the other one is current.
    const byBearer = await http().get('/sessions').set('authorization', `Bearer ${laptop.token}`).expect(200);
    const current = byBearer.body.filter((s: { current: boolean }) => s.current).map((s: { handle: string }) => s.handle);
    expect(byBearer.body).toHaveLength(2);
    expect(current).toEqual([laptop.handle]);
  });

  it('the x-user-id header still works for scripts, with no session current', async () => {
    await http().get('/crews').set(as('u-ada', 'acme')).expect(200);
    const hank = await http().get('/crews').set(as('u-hank', 'globex')).expect(200);
    expect(crewIds(hank)).toEqual(['market-research', 'release-notes']);
    await http().get('/crews').set(as('u-hank', 'acme')).expect(403);
    await http().get('/crews').set(COMPANY_HEADER, 'acme').expect(401);

    await signedOutEverywhere('u-cleo', 'acme');
    await login('u-cleo', 'acme');
    const sessions = await http().get('/sessions').set(as('u-cleo', 'acme')).expect(200);
    expect(sessions.body).toHaveLength(1);
    expect(sessions.body[0].current).toBe(false);
  });

  it('a session of company A cannot act in company B: under B\'s x-company-id it is not found, and B\'s crews are not found', async () => {
    const ada = await login('u-ada', 'acme');
    const hank = await login('u-hank', 'globex');

    // The request runs in Globex (TenantMiddleware), where Acme's session does not exist: the same 401 as a forged one.
    for (const credential of [{ cookie: ada.cookie }, { authorization: `Bearer ${ada.token}` }]) {
      const res = await http().get('/crews').set(credential).set(COMPANY_HEADER, 'globex').expect(401);
      expect(res.body.code).toBe('E_SESSION_NOT_FOUND');
    }
    await http().post('/crews/release-notes/runs?durationMs=0').set('cookie', ada.cookie).set(COMPANY_HEADER, 'globex').expect(401);
    // Without the header, Ada acts in Acme: Globex's crew is not there, and its run is refused.
    await http().get('/crews/release-notes').set('cookie', ada.cookie).expect(404);
    await http().post('/crews/release-notes/runs?durationMs=0').set('cookie', ada.cookie).expect(404);
    // x-user-id does not override the session's user.
    const run = await http().post('/crews/market-research/runs?durationMs=0').set('cookie', hank.cookie).set(USER_HEADER, 'u-ada').expect(201);
    expect(run.body).toMatchObject({ triggeredBy: 'u-hank' });
    const globex = await http().get('/crews').set('cookie', hank.cookie).set(COMPANY_HEADER, 'globex').expect(200);
    expect(crewIds(globex)).toEqual(['market-research', 'release-notes']);

    // Ada ending her sessions does not touch Hank's, and Hank's list never shows Ada's.
    await http().post('/auth/logout-everywhere').set('cookie', ada.cookie).expect(200);
    const list = await http().get('/sessions').set('cookie', hank.cookie).expect(200);
    expect(list.body.map((s: { handle: string }) => s.handle)).toContain(hank.handle);
    expect(list.body.map((s: { handle: string }) => s.handle)).not.toContain(ada.handle);
  });
});

describe('demo config: the sessions section', () => {
  const cookieOf = (env: NodeJS.ProcessEnv) => demoConfigFromEnv(env).coordination.sessions?.cookie;

  it('signs with SESSION_SECRET (comma-separated to rotate), else the development default, refused in production', () => {
    const secret = 'a-real-secret-of-at-least-32-characters';
    expect(cookieOf({ SESSION_SECRET: secret })?.secret).toEqual([secret]);
    expect(cookieOf({ SESSION_SECRET: ` ${secret}, old-${secret} ` })?.secret).toEqual([secret, `old-${secret}`]);
    expect(cookieOf({})?.secret).toEqual([DEV_SESSION_SECRET]);
    expect(() => demoConfigFromEnv({ NODE_ENV: 'production' })).toThrow(/SESSION_SECRET must be set/);
    expect(cookieOf({ NODE_ENV: 'production', SESSION_SECRET: secret })?.secret).toEqual([secret]);
  });

  it('makes the cookie HTTPS-only in production or with SESSION_COOKIE_SECURE=true, not over the plain HTTP of development', () => {
    expect(cookieOf({})?.secure).toBe(false);
    expect(cookieOf({ NODE_ENV: 'production', SESSION_SECRET: 'x'.repeat(32) })?.secure).toBe(true);
    expect(cookieOf({ SESSION_COOKIE_SECURE: 'true' })?.secure).toBe(true);
    expect(cookieOf({ NODE_ENV: 'production', SESSION_SECRET: 'x'.repeat(32), SESSION_COOKIE_SECURE: 'false' })?.secure).toBe(false);
    expect(() => demoConfigFromEnv({ SESSION_COOKIE_SECURE: 'yes' })).toThrow(/SESSION_COOKIE_SECURE/);
  });
});
