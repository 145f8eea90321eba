import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { Body, Controller, Get, HttpCode, Injectable, Post, Res, UseGuards, type CanActivate, type ExecutionContext, type Provider } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { parseSetCookie } from 'cookie';
import { sign } from 'cookie-signature';
import request from 'supertest';
import {
  CacheService, CoordinationExceptionFilter, CurrentSession, ManualClock, SessionCookies, SessionGuard, SessionService, TenantOptional,
  type CookieResponseLike, type CoordinationModuleOptions, type Session,
} from '@nest-coordination/core';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { bootApp, type BootedApp } from '../support/boot.js';
import { DRIVERS } from '../support/drivers.js';
import { SessionKeys } from '../../libs/coordination/src/sessions/session-keys.js';
import { CoordinationCore } from '../support/internals.js';
import { until } from '../support/wait.js';

const SECRET = 'new-secret-new-secret-new-secret-0';
const OLD_SECRET = 'old-secret-old-secret-old-secret-0';
const ABSOLUTE_TTL_MS = 7_200_000;

interface LoginBody { userId: string; tenant: string; ttlMs?: number }

@Controller('auth')
class AuthController {
  constructor(private readonly sessions: SessionService, private readonly cookies: SessionCookies) {}

  @TenantOptional()
  @Post('login')
  async login(@Body() body: LoginBody, @Res({ passthrough: true }) response: CookieResponseLike) {
    const session = await this.sessions.create(body.userId, { theme: 'dark' }, { tenant: body.tenant, ttlMs: body.ttlMs, companyId: body.tenant });
    this.cookies.issue(response, session);
    return { token: session.id };
  }

  @UseGuards(SessionGuard)
  @Post('logout')
  @HttpCode(204)
  async logout(@CurrentSession('id') id: string, @Res({ passthrough: true }) response: CookieResponseLike) {
    await this.sessions.destroy(id);
    this.cookies.clear(response);
  }
}

@Controller('me')
@UseGuards(SessionGuard)
class MeController {
  constructor(private readonly core: CoordinationCore, private readonly cache: CacheService) {}

  @Get()
  me(@CurrentSession() session: Session, @CurrentSession('data') data: unknown, @CurrentSession('userId') userId: string) {
    return { userId, data, sessionUser: session.userId, sessionTenant: session.tenant, runsIn: this.core.tenants.current() ?? null };
  }

  /** A tenant-scoped call without a tenant argument: it lands in the tenant the handler runs in. */
  @Post('probe')
  async probe() {
    await this.cache.set('probe', 'written', { ttlMs: 60_000 });
    return { ok: true };
  }
}

@Controller('unguarded')
class UnguardedController {
  @TenantOptional()
  @Get()
  read(@CurrentSession() session: Session) {
    return { userId: session.userId };
  }
}

const options = (driver: { options(): CoordinationModuleOptions }): CoordinationModuleOptions => ({
  ...driver.options(),
  health: { pingIntervalMs: 0 },
  tenancy: { required: true },
  sessions: { absoluteTtlMs: ABSOLUTE_TTL_MS, pruneIntervalMs: 0, cookie: { secret: [SECRET, OLD_SECRET], sameSite: 'strict' } },
});

const boot = (opts: CoordinationModuleOptions, extras: { providers?: Provider[] } = {}) =>
  bootApp(opts, {
    controllers: [AuthController, MeController, UnguardedController],
    providers: extras.providers,
    configure: (app) => app.useGlobalFilters(new CoordinationExceptionFilter()),
  });

/** The `Cookie` header a browser sends back for the session cookie a response set. */
const cookieOf = (response: request.Response): string => (response.headers['set-cookie'] as unknown as string[])[0].split(';')[0];
/** A Cookie header carrying `id` signed with `secret`. */
const signedCookie = (id: string, secret: string) => `sid=${encodeURIComponent(`s:${sign(id, secret)}`)}`;
/** A well-formed id no session has. */
const unknownId = (tenant: string) => `${tenant}.${randomBytes(16).toString('base64url')}000`;

describe.each(DRIVERS.filter((d) => d.name !== 'cluster'))('SessionGuard over HTTP ($name)', (driver) => {
  let booted: BootedApp;
  let http: ReturnType<BootedApp['app']['getHttpServer']>;
  // The memory driver runs on a clock the test moves; Redis expires on the server's clock.
  const clock = driver.name === 'memory' ? new ManualClock(Date.now()) : undefined;
  const keyOf = (id: string) => new SessionKeys(booted.core.keys).session('acme', id.slice(id.indexOf('.') + 1));
  const login = async (userId = 'ada', tenant = 'acme', ttlMs?: number) => {
    const response = await request(http).post('/auth/login').send({ userId, tenant, ttlMs }).expect(201);
    return { token: response.body.token as string, cookie: cookieOf(response), response };
  };

  beforeAll(async () => {
    booted = await boot({ ...options(driver), ...(clock ? { clock } : {}) });
    http = booted.app.getHttpServer();
  });
  afterAll(() => booted.close());

  it('accepts the signed cookie, runs the handler in the session\'s tenant and hands it the session (@CurrentSession)', async () => {
    const { cookie } = await login();
    // No tenant header, and tenancy.required: the tenant comes from the session.
    const me = await request(http).get('/me').set('Cookie', cookie).expect(200);
    expect(me.body).toEqual({ userId: 'ada', data: { theme: 'dark' }, sessionUser: 'ada', sessionTenant: 'acme', runsIn: 'acme' });
  });

  it('accepts the id as a bearer token', async () => {
    const { token } = await login('grace');
    const me = await request(http).get('/me').set('Authorization', `Bearer ${token}`).expect(200);
    expect(me.body).toMatchObject({ userId: 'grace', runsIn: 'acme' });
  });

  it('a tenant-scoped call inside the handler lands in the session\'s tenant', async () => {
    const { cookie } = await login('ada', 'globex');
    await request(http).post('/me/probe').set('Cookie', cookie).expect(201);
    const cache = booted.get(CacheService);
    expect(await cache.get('probe', { tenant: 'globex' })).toBe('written');
    expect(await cache.get('probe', { tenant: 'acme' })).toBeUndefined();
  });

  it('without an id: 401 problem+json E_SESSION_REQUIRED (a Basic header is no session credential)', async () => {
    for (const call of [request(http).get('/me'), request(http).get('/me').set('Authorization', 'Basic dXNlcjpwYXNz')]) {
      const response = await call.expect(401).expect('Content-Type', /application\/problem\+json/);
      expect(response.body).toMatchObject({ code: 'E_SESSION_REQUIRED', status: 401 });
      expect(response.body.detail).toContain('"sid" session cookie');
    }
  });

  it('tampered, unsigned, foreign-signed, malformed, unknown, other-tenant and ended ids: the same 401 E_SESSION_NOT_FOUND, echoing nothing', async () => {
    const { token, cookie } = await login('ada');
    const ended = await login('ada');
    await request(http).post('/auth/logout').set('Cookie', ended.cookie).expect(204);
    const signature = decodeURIComponent(cookie.slice('sid='.length));
    const tampered = `sid=${encodeURIComponent(signature.slice(0, -2) + (signature.endsWith('AA') ? 'BB' : 'AA'))}`;
    const malformed = ['acme.short', `acme.${'A'.repeat(21)}*000`, `ac*me.${'A'.repeat(22)}000`, `acme.${'A'.repeat(22)}{0}`, 'x'.repeat(5_000), '.', `${token}x`];
    const attempts: Array<[string, request.Test]> = [
      ['tampered signature', request(http).get('/me').set('Cookie', tampered)],
      ['unsigned cookie', request(http).get('/me').set('Cookie', `sid=${token}`)],
      ['signed with another secret', request(http).get('/me').set('Cookie', signedCookie(token, 'x'.repeat(32)))],
      ['unknown id (signed)', request(http).get('/me').set('Cookie', signedCookie(unknownId('acme'), SECRET))],
      ['unknown id (bearer)', request(http).get('/me').set('Authorization', `Bearer ${unknownId('acme')}`)],
      ['empty bearer', request(http).get('/me').set('Authorization', 'Bearer ')],
      ['another tenant (header)', request(http).get('/me').set('Cookie', cookie).set('x-tenant-id', 'globex')],
      ['another tenant (bearer)', request(http).get('/me').set('Authorization', `Bearer ${token}`).set('x-tenant-id', 'globex')],
      ['ended session', request(http).get('/me').set('Cookie', ended.cookie)],
      ...malformed.map((id): [string, request.Test] => [`malformed ${id.slice(0, 20)}`, request(http).get('/me').set('Authorization', `Bearer ${id}`)]),
    ];
    for (const [what, attempt] of attempts) {
      const response = await attempt;
      expect({ what, status: response.status, code: response.body.code }).toEqual({ what, status: 401, code: 'E_SESSION_NOT_FOUND' });
      expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
      const random = token.slice(token.indexOf('.') + 1);
      expect(response.text).not.toContain(random);
      expect(response.text).not.toContain(signature.slice(signature.lastIndexOf('.') + 1));
      expect(response.text).not.toContain('short');
    }
    // The genuine one still works: nothing above broke it.
    await request(http).get('/me').set('Cookie', cookie).expect(200);
  });

  it('an expired session is not found', async () => {
    const { cookie, token } = await login('ada', 'acme', 1_000);
    const sessions = booted.get(SessionService);
    if (clock) clock.advance(1_001);
    await until(async () => (await sessions.get(token, { touch: false })) === null, { timeoutMs: 10_000, message: 'the 1 s session to expire' });
    const response = await request(http).get('/me').set('Cookie', cookie).expect(401);
    expect(response.body.code).toBe('E_SESSION_NOT_FOUND');
  });

  it('slides the idle expiry of the session it loads', async () => {
    const { cookie, token } = await login('ada', 'acme', 60_000);
    const client = booted.core.connection?.client;
    // Most of the 60 s idle lifetime passes: on the memory clock, or by cutting the Redis TTL to 10 s.
    if (client) await client.pexpire(keyOf(token), 10_000);
    else clock!.advance(50_000);
    await request(http).get('/me').set('Cookie', cookie).expect(200);
    if (client) expect(await client.pttl(keyOf(token))).toBeGreaterThan(10_000);
    // 100 s after the login: alive only because the guarded request restarted the 60 s idle lifetime.
    else clock!.advance(50_000);
    await request(http).get('/me').set('Cookie', cookie).expect(200);
  });

  it('rotation: a cookie signed with the old secret still verifies; new cookies are signed with the first secret', async () => {
    const { token, cookie } = await login('ada');
    expect(cookie).toBe(signedCookie(token, SECRET));
    await request(http).get('/me').set('Cookie', signedCookie(token, OLD_SECRET)).expect(200);
  });

  it('sets the cookie HttpOnly, Secure, SameSite, Path and Max-Age (to the absolute expiry); logout clears it', async () => {
    const { response, cookie } = await login('ada');
    const issued = parseSetCookie((response.headers['set-cookie'] as unknown as string[])[0]);
    expect(issued).toMatchObject({ name: 'sid', httpOnly: true, secure: true, sameSite: 'strict', path: '/' });
    // Whole seconds left until the absolute expiry, counted when the response was built.
    expect(issued.maxAge).toBeLessThanOrEqual(ABSOLUTE_TTL_MS / 1000);
    expect(issued.maxAge).toBeGreaterThan(ABSOLUTE_TTL_MS / 1000 - 60);
    const logout = await request(http).post('/auth/logout').set('Cookie', cookie).expect(204);
    expect(parseSetCookie((logout.headers['set-cookie'] as unknown as string[])[0])).toMatchObject({ name: 'sid', value: '', maxAge: 0, httpOnly: true, path: '/' });
  });

  it('@CurrentSession() on a route no SessionGuard ran for refuses (401), it never hands the handler undefined', async () => {
    const { cookie } = await login('ada');
    const response = await request(http).get('/unguarded').set('Cookie', cookie).expect(401);
    expect(response.body).toMatchObject({ code: 'E_SESSION_REQUIRED' });
  });
});

/** Stands in for an auth guard that authenticates the request as a user of `x-auth-tenant`, before the SessionGuard. */
@Injectable()
class OtherAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined>; user?: unknown }>();
    if (req.headers['x-auth-tenant']) req.user = { tenantId: req.headers['x-auth-tenant'] };
    return true;
  }
}

describe('SessionGuard with the tenant from request.user (tenancy.userProperty)', () => {
  it('the session\'s tenant wins over the one request.user names', async () => {
    const booted = await boot({ ...options(DRIVERS[0]), tenancy: { userProperty: 'tenantId' } }, { providers: [{ provide: APP_GUARD, useClass: OtherAuthGuard }] });
    try {
      const http = booted.app.getHttpServer();
      const { body } = await request(http).post('/auth/login').send({ userId: 'ada', tenant: 'acme' }).expect(201);
      const me = await request(http).get('/me').set('Authorization', `Bearer ${body.token}`).set('x-auth-tenant', 'globex').expect(200);
      expect(me.body).toMatchObject({ sessionTenant: 'acme', runsIn: 'acme' });
    } finally {
      await booted.close();
    }
  });
});

describe('SessionGuard with a session of the shared namespace', () => {
  it('the handler runs in no tenant; a tenant header added to the session is refused (401), never run in', async () => {
    const booted = await boot({ ...options(DRIVERS[0]), tenancy: { required: false } });
    try {
      const http = booted.app.getHttpServer();
      const { body } = await request(http).post('/auth/login').send({ userId: 'ada' }).expect(201);
      const plain = await request(http).get('/me').set('Authorization', `Bearer ${body.token}`).expect(200);
      expect(plain.body).toMatchObject({ sessionUser: 'ada', sessionTenant: '_shared', runsIn: null });
      const foreign = await request(http).get('/me').set('Authorization', `Bearer ${body.token}`).set('x-tenant-id', 'globex').expect(401);
      expect(foreign.body.code).toBe('E_SESSION_NOT_FOUND');
      await request(http).post('/me/probe').set('Authorization', `Bearer ${body.token}`).set('x-tenant-id', 'globex').expect(401);
      expect(await booted.get(CacheService).get('probe', { tenant: 'globex' })).toBeUndefined();
    } finally {
      await booted.close();
    }
  });
});

describe('SessionGuard while Redis is unreachable', () => {
  let server: RedisServerHandle;
  let booted: BootedApp;

  beforeAll(async () => {
    server = await startRedisServer();
    booted = await boot({
      ...options({ options: () => ({ connection: { url: server.url, commandTimeoutMs: 1_000, connectTimeoutMs: 2_000 } }) }),
      reconnect: { baseDelayMs: 50, maxDelayMs: 200 },
    });
  });
  afterAll(async () => {
    await booted.close();
    await server.stop();
  });

  it('answers 503 (E_REDIS_UNAVAILABLE or E_CIRCUIT_OPEN), not a 401 that would log the user out', async () => {
    const http = booted.app.getHttpServer();
    const { body } = await request(http).post('/auth/login').send({ userId: 'ada', tenant: 'acme' }).expect(201);
    await request(http).get('/me').set('Authorization', `Bearer ${body.token}`).expect(200);
    await server.kill();
    const response = await request(http).get('/me').set('Authorization', `Bearer ${body.token}`).expect(503);
    expect(['E_REDIS_UNAVAILABLE', 'E_CIRCUIT_OPEN']).toContain(response.body.code);
    expect(response.text).not.toContain(body.token.slice(5));
  });
});
