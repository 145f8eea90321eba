import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { jest } from '@jest/globals';
import { Body, Controller, Get, Logger, Post, Res, UseGuards } from '@nestjs/common';
import { parseSetCookie } from 'cookie';
import { sign } from 'cookie-signature';
import request from 'supertest';
import {
  CoordinationExceptionFilter, CurrentSession, SessionCookies, SessionGuard, SessionService,
  type CookieResponseLike, type CoordinationModuleOptions,
} from '@nest-coordination/core';
import { bootApp, type BootedApp } from '../support/boot.js';
import { DRIVERS } from '../support/drivers.js';
import { CoordinationCore } from '../support/internals.js';

// How the SessionGuard refuses over HTTP, with and without CoordinationExceptionFilter, and
// which credential it uses when a request carries several (review findings 1, 2, 8 and 9; second
// review: findings 1, 2, 12, 15 and 16).

const SECRET = 'refusal-secret-refusal-secret-000';

@Controller('auth')
class AuthController {
  constructor(private readonly sessions: SessionService, private readonly cookies: SessionCookies) {}

  /** A session in the tenant of the body, or outside any tenant (the shared namespace) without one. */
  @Post('login')
  async login(@Body() body: { userId: string; tenant?: string }, @Res({ passthrough: true }) response: CookieResponseLike) {
    const session = await this.sessions.create(body.userId, {}, body.tenant === undefined ? {} : { tenant: body.tenant });
    this.cookies.issue(response, session);
    return { token: session.id };
  }
}

@Controller('me')
@UseGuards(SessionGuard)
class MeController {
  constructor(private readonly core: CoordinationCore) {}

  @Get()
  me(@CurrentSession('userId') userId: string) {
    return { userId, runsIn: this.core.tenants.current() ?? null };
  }
}

const options = (extra: CoordinationModuleOptions = {}, bearer = true): CoordinationModuleOptions => ({
  ...DRIVERS[0].options(),
  health: { pingIntervalMs: 0 },
  ...extra,
  sessions: { pruneIntervalMs: 0, bearer, cookie: { secret: SECRET } },
});

const boot = (filter: boolean, extra?: CoordinationModuleOptions, bearer?: boolean) =>
  bootApp(options(extra, bearer), {
    controllers: [AuthController, MeController],
    configure: (app) => (filter ? app.useGlobalFilters(new CoordinationExceptionFilter()) : undefined),
  });

/** The `Cookie` header a browser sends back for the session cookie a response set. */
const cookieOf = (response: request.Response): string => (response.headers['set-cookie'] as unknown as string[])[0].split(';')[0];
const signedCookie = (id: string) => `sid=${encodeURIComponent(`s:${sign(id, SECRET)}`)}`;
const unknownId = (tenant: string) => `${tenant}.${randomBytes(16).toString('base64url')}000`;
const setCookies = (response: request.Response) => ((response.headers['set-cookie'] as unknown as string[] | undefined) ?? []).map((c) => parseSetCookie(c));

describe('SessionGuard without tenancy configured (finding 1)', () => {
  let booted: BootedApp;
  beforeAll(async () => {
    booted = await boot(true);
  });
  afterAll(() => booted.close());

  it('a session created outside any tenant (`_shared.<member>`) lets the request in; the handler runs without a tenant', async () => {
    const http = booted.app.getHttpServer();
    const login = await request(http).post('/auth/login').send({ userId: 'ada' }).expect(201);
    expect(login.body.token).toMatch(/^_shared\./);
    const byCookie = await request(http).get('/me').set('Cookie', cookieOf(login)).expect(200);
    expect(byCookie.body).toEqual({ userId: 'ada', runsIn: null });
    const byBearer = await request(http).get('/me').set('Authorization', `Bearer ${login.body.token}`).expect(200);
    expect(byBearer.body).toEqual({ userId: 'ada', runsIn: null });
  });

  it('a tenant session still runs its handler in its tenant', async () => {
    const http = booted.app.getHttpServer();
    const login = await request(http).post('/auth/login').send({ userId: 'ada', tenant: 'acme' }).expect(201);
    expect((await request(http).get('/me').set('Cookie', cookieOf(login)).expect(200)).body).toEqual({ userId: 'ada', runsIn: 'acme' });
  });
});

describe.each([
  { filter: true, name: 'with CoordinationExceptionFilter' },
  { filter: false, name: 'without any filter' },
])('SessionGuard refusals $name (findings 2 and 8)', ({ filter }) => {
  let booted: BootedApp;
  beforeAll(async () => {
    booted = await boot(filter);
  });
  afterAll(() => booted.close());

  it('no credential: 401 with the problem body, E_SESSION_REQUIRED and `WWW-Authenticate: Bearer`; nothing logged', async () => {
    const error = jest.spyOn(Logger.prototype, 'error');
    try {
      const response = await request(booted.app.getHttpServer()).get('/me').expect(401);
      expect(response.body).toMatchObject({ type: 'urn:coordination:error:E_SESSION_REQUIRED', status: 401, code: 'E_SESSION_REQUIRED' });
      expect(response.body.detail).toContain('"sid" session cookie');
      expect(response.headers['www-authenticate']).toBe('Bearer');
      if (filter) expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(error).not.toHaveBeenCalled();
    } finally {
      error.mockRestore();
    }
  });

  it('an unknown id: 401 E_SESSION_NOT_FOUND with `WWW-Authenticate: Bearer error="invalid_token"`', async () => {
    const response = await request(booted.app.getHttpServer()).get('/me').set('Authorization', `Bearer ${unknownId('acme')}`).expect(401);
    expect(response.body).toMatchObject({ type: 'urn:coordination:error:E_SESSION_NOT_FOUND', status: 401, code: 'E_SESSION_NOT_FOUND' });
    expect(response.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
  });

  it('a refused cookie without a bearer token: `WWW-Authenticate: Bearer`, no invalid_token (second review, finding 12)', async () => {
    const response = await request(booted.app.getHttpServer()).get('/me').set('Cookie', signedCookie(unknownId('acme'))).expect(401);
    expect(response.body.code).toBe('E_SESSION_NOT_FOUND');
    expect(response.headers['www-authenticate']).toBe('Bearer');
  });
});

describe.each([
  { filter: true, name: 'with CoordinationExceptionFilter' },
  { filter: false, name: 'without any filter' },
])('SessionGuard with bearer tokens off $name: no Bearer challenge (second review, finding 12)', ({ filter }) => {
  let booted: BootedApp;
  beforeAll(async () => {
    booted = await boot(filter, {}, false);
  });
  afterAll(() => booted.close());

  it('a 401 for no credential, a refused cookie or an ignored Authorization header carries no WWW-Authenticate', async () => {
    const http = booted.app.getHttpServer();
    const attempts = [
      request(http).get('/me'),
      request(http).get('/me').set('Cookie', signedCookie(unknownId('acme'))),
      request(http).get('/me').set('Authorization', `Bearer ${unknownId('acme')}`),
    ];
    for (const attempt of attempts) {
      const response = await attempt.expect(401);
      expect(response.body.code).toMatch(/^E_SESSION_(REQUIRED|NOT_FOUND)$/);
      expect(response.headers['www-authenticate']).toBeUndefined();
    }
  });
});

describe('SessionGuard with several credentials (finding 9)', () => {
  let booted: BootedApp;
  let http: ReturnType<BootedApp['app']['getHttpServer']>;
  const login = async (userId: string) => {
    const response = await request(http).post('/auth/login').send({ userId, tenant: 'acme' }).expect(201);
    return { token: response.body.token as string, cookie: cookieOf(response) };
  };

  beforeAll(async () => {
    booted = await boot(true);
    http = booted.app.getHttpServer();
  });
  afterAll(() => booted.close());

  it('a cookie of an ended session does not block a valid bearer token', async () => {
    const ended = await login('ada');
    await booted.get(SessionService).destroy(ended.token);
    const live = await login('grace');
    const me = await request(http).get('/me').set('Cookie', ended.cookie).set('Authorization', `Bearer ${live.token}`).expect(200);
    expect(me.body.userId).toBe('grace');
  });

  it('a cookie no secret verifies does not block a valid bearer token', async () => {
    const live = await login('grace');
    const me = await request(http).get('/me').set('Cookie', 'sid=s%3Aforged.signature').set('Authorization', `Bearer ${live.token}`).expect(200);
    expect(me.body.userId).toBe('grace');
  });

  it('a valid cookie still wins over a bearer token of another session', async () => {
    const ada = await login('ada');
    const grace = await login('grace');
    const me = await request(http).get('/me').set('Cookie', ada.cookie).set('Authorization', `Bearer ${grace.token}`).expect(200);
    expect(me.body.userId).toBe('ada');
  });

  it('a cookie no secret verifies is cleared by the 401; a verified one of no live session is not; a bearer-only refusal sets no cookie', async () => {
    const ended = await login('ada');
    await booted.get(SessionService).destroy(ended.token);
    for (const cookie of ['sid=s%3Aforged.signature', 'sid=junk']) {
      const response = await request(http).get('/me').set('Cookie', cookie).expect(401);
      expect(response.body.code).toBe('E_SESSION_NOT_FOUND');
      expect(setCookies(response)).toEqual([expect.objectContaining({ name: 'sid', value: '', maxAge: 0, path: '/', httpOnly: true })]);
    }
    // Verified, but its session is gone (ended, or never existed): refused, and left alone (a request in flight
    // with an old cookie must not delete the one a login has just set: it expires with its session).
    for (const cookie of [ended.cookie, signedCookie(unknownId('acme'))]) {
      const response = await request(http).get('/me').set('Cookie', cookie).expect(401);
      expect(response.body.code).toBe('E_SESSION_NOT_FOUND');
      expect(setCookies(response)).toEqual([]);
    }
    const both = await request(http).get('/me').set('Cookie', 'sid=junk').set('Authorization', `Bearer ${unknownId('acme')}`).expect(401);
    expect(setCookies(both)).toEqual([expect.objectContaining({ name: 'sid', value: '' })]);
    const bearerOnly = await request(http).get('/me').set('Authorization', `Bearer ${unknownId('acme')}`).expect(401);
    expect(setCookies(bearerOnly)).toEqual([]);
    const anonymous = await request(http).get('/me').expect(401);
    expect(setCookies(anonymous)).toEqual([]);
  });

  it('duplicate session cookies (one tossed from a sibling subdomain first): the first that verifies is used', async () => {
    const live = await login('grace');
    for (const junk of ['sid=junk', 'sid=s%3Aforged.signature', 'sid=']) {
      const me = await request(http).get('/me').set('Cookie', `${junk}; theme=dark; ${live.cookie}`).expect(200);
      expect(me.body.userId).toBe('grace');
    }
  });
});

describe('SessionGuard across tenants and with several credentials (second review, findings 1, 2, 12, 15)', () => {
  let booted: BootedApp;
  let http: ReturnType<BootedApp['app']['getHttpServer']>;
  /** A session of `userId` in `tenant`, or outside any tenant (`_shared`) with null. */
  const login = async (userId: string, tenant: string | null = 'acme') => {
    const response = await request(http).post('/auth/login').send({ userId, tenant: tenant ?? undefined }).expect(201);
    return { token: response.body.token as string, cookie: cookieOf(response) };
  };
  const ended = async (userId: string, tenant = 'acme') => {
    const session = await login(userId, tenant);
    await booted.get(SessionService).destroy(session.token);
    return session;
  };
  const clearing = [expect.objectContaining({ name: 'sid', value: '', maxAge: 0 })];

  beforeAll(async () => {
    booted = await boot(true, { tenancy: { header: 'x-tenant-id' } });
    http = booted.app.getHttpServer();
  });
  afterAll(() => booted.close());

  it('a live cookie of another tenant than the request\'s: 401 that keeps the cookie; it still works in its own tenant (finding 1)', async () => {
    const acme = await login('ada');
    const shared = await login('ada', null);
    for (const cookie of [acme.cookie, shared.cookie]) {
      const refused = await request(http).get('/me').set('Cookie', cookie).set('x-tenant-id', 'globex').expect(401);
      expect(refused.body.code).toBe('E_SESSION_NOT_FOUND');
      expect(setCookies(refused)).toEqual([]);
    }
    expect((await request(http).get('/me').set('Cookie', acme.cookie).set('x-tenant-id', 'acme').expect(200)).body).toEqual({ userId: 'ada', runsIn: 'acme' });
    expect((await request(http).get('/me').set('Cookie', acme.cookie).expect(200)).body).toEqual({ userId: 'ada', runsIn: 'acme' });
  });

  it('a verified cookie is never cleared, whatever the tenant; one no secret verifies always is (finding 1)', async () => {
    const gone = await ended('ada');
    expect(setCookies(await request(http).get('/me').set('Cookie', gone.cookie).set('x-tenant-id', 'globex').expect(401))).toEqual([]);
    expect(setCookies(await request(http).get('/me').set('Cookie', gone.cookie).set('x-tenant-id', 'acme').expect(401))).toEqual([]);
    expect(setCookies(await request(http).get('/me').set('Cookie', gone.cookie).expect(401))).toEqual([]);
    // A signature no secret verifies is cleared whatever the tenant.
    expect(setCookies(await request(http).get('/me').set('Cookie', 'sid=s%3Aforged.signature').set('x-tenant-id', 'globex').expect(401))).toEqual(clearing);
  });

  it('a tossed, validly signed cookie of an ended session before the live one: 200 as the live user, nothing cleared (finding 2)', async () => {
    const attacker = await ended('mallory');
    const victim = await login('grace');
    const me = await request(http).get('/me').set('Cookie', `${attacker.cookie}; theme=dark; ${victim.cookie}`).expect(200);
    expect(me.body).toEqual({ userId: 'grace', runsIn: 'acme' });
    expect(setCookies(me)).toEqual([]);
    expect(me.headers['www-authenticate']).toBeUndefined();
  });

  it('two live cookies: the first live one wins (a tossed one can: `__Host-` names prevent tossing) (finding 2)', async () => {
    const first = await login('mallory');
    const second = await login('grace');
    const me = await request(http).get('/me').set('Cookie', `${first.cookie}; ${second.cookie}`).expect(200);
    expect(me.body.userId).toBe('mallory');
    expect(setCookies(me)).toEqual([]);
  });

  it('every duplicate refused: 401; cleared only when none of them verifies', async () => {
    const one = await ended('ada');
    const two = await ended('grace');
    expect(setCookies(await request(http).get('/me').set('Cookie', `${one.cookie}; ${two.cookie}`).expect(401))).toEqual([]);
    expect(setCookies(await request(http).get('/me').set('Cookie', 'sid=junk; sid=s%3Aforged.signature').expect(401))).toEqual(clearing);
  });

  it('a request still in flight with the cookie a regenerate replaced does not delete the new one (no Set-Cookie)', async () => {
    const before = await login('ada');
    const fresh = await booted.get(SessionService).regenerate(before.token);
    const late = await request(http).get('/me').set('Cookie', before.cookie).expect(401);
    expect(setCookies(late)).toEqual([]);
    await request(http).get('/me').set('Cookie', signedCookie(fresh.id)).expect(200);
  });

  it('a dead cookie next to a valid bearer token: 200, no challenge; an unverifiable cookie is cleared, a verified one kept (findings 12 and 15)', async () => {
    const gone = await ended('ada');
    const live = await login('grace');
    for (const [cookie, cleared] of [[gone.cookie, []], ['sid=s%3Aforged.signature', clearing]] as const) {
      const me = await request(http).get('/me').set('Cookie', cookie).set('Authorization', `Bearer ${live.token}`).expect(200);
      expect(me.body.userId).toBe('grace');
      expect(setCookies(me)).toEqual(cleared);
      expect(me.headers['www-authenticate']).toBeUndefined();
    }
  });

  it('a live cookie of another tenant next to a valid bearer token of the request\'s tenant: 200, the cookie kept (finding 15)', async () => {
    const acme = await login('ada');
    const globex = await login('grace', 'globex');
    const me = await request(http).get('/me').set('Cookie', acme.cookie).set('Authorization', `Bearer ${globex.token}`).set('x-tenant-id', 'globex').expect(200);
    expect(me.body).toEqual({ userId: 'grace', runsIn: 'globex' });
    expect(setCookies(me)).toEqual([]);
    await request(http).get('/me').set('Cookie', acme.cookie).expect(200);
  });
});
