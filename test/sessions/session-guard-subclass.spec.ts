import 'reflect-metadata';
import { Controller, Get, Injectable, UseGuards } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { sign } from 'cookie-signature';
import request from 'supertest';
import {
  CoordinationExceptionFilter, CurrentSession, SessionGuard, SessionService, type Session,
} from '@nest-coordination/core';
import { bootApp, type BootedApp } from '../support/boot.js';
import { DRIVERS } from '../support/drivers.js';

// A subclass of SessionGuard narrowing who gets in, on a route that the global SessionGuard
// already let the request through: the subclass still decides, and a refusal of a live session
// does not log its user out of the whole application (no cookie cleared).

const SECRET = 'subclass-secret-subclass-secret-00';

/** Admits admins only: a live session of anyone else is refused (401), as a narrower guard would. */
@Injectable()
class AdminGuard extends SessionGuard {
  protected override async load(id: string): Promise<Session | null> {
    const session = await super.load(id);
    return session?.data.role === 'admin' ? session : null;
  }
}

@Controller()
class RoutesController {
  @Get('me')
  me(@CurrentSession('userId') userId: string) {
    return { userId };
  }

  @Get('admin')
  @UseGuards(AdminGuard)
  admin(@CurrentSession('userId') userId: string) {
    return { admin: userId };
  }
}

describe('a SessionGuard subclass behind the global SessionGuard', () => {
  let booted: BootedApp;
  let http: ReturnType<BootedApp['app']['getHttpServer']>;
  /** A session of ada with `role`: its id, and the signed cookie a browser would send (every route is guarded). */
  const login = async (role: string) => {
    const session = await booted.get(SessionService).create('ada', { role });
    return { token: session.id, cookie: `sid=${encodeURIComponent(`s:${sign(session.id, SECRET)}`)}` };
  };

  beforeAll(async () => {
    booted = await bootApp(
      { ...DRIVERS[0].options(), health: { pingIntervalMs: 0 }, sessions: { pruneIntervalMs: 0, cookie: { secret: SECRET } } },
      {
        controllers: [RoutesController],
        providers: [AdminGuard, { provide: APP_GUARD, useClass: SessionGuard }],
        configure: (app) => app.useGlobalFilters(new CoordinationExceptionFilter()),
      },
    );
    http = booted.app.getHttpServer();
  });
  afterAll(() => booted.close());

  it('still runs its own check: a non-admin is refused on the admin route, an admin gets in', async () => {
    const user = await login('user');
    const admin = await login('admin');
    await request(http).get('/me').set('Authorization', `Bearer ${user.token}`).expect(200);
    await request(http).get('/admin').set('Authorization', `Bearer ${user.token}`).expect(401);
    expect((await request(http).get('/admin').set('Authorization', `Bearer ${admin.token}`).expect(200)).body).toEqual({ admin: 'ada' });
  });

  it('a live cookie it refuses is not cleared: its user stays logged in everywhere else', async () => {
    const user = await login('user');
    const refused = await request(http).get('/admin').set('Cookie', user.cookie).expect(401);
    expect(refused.headers['set-cookie']).toBeUndefined();
    await request(http).get('/me').set('Cookie', user.cookie).expect(200);
  });
});
