import 'reflect-metadata';
import { Controller, Get, Injectable, Module, UseGuards, type CanActivate, type ExecutionContext, type INestApplication } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import request from 'supertest';
import { CoordinationExceptionFilter, CoordinationModule, TenantOptional, type TenancyOptions } from '@nest-coordination/core';
import { CoordinationCore } from '../support/internals.js';
import { AUTHENTICATED_TENANT } from '../../libs/coordination/src/tenancy/tenant-resolver.js';
import { bootApp } from '../support/boot.js';
import { uniquePrefix } from '../support/drivers.js';
import { sleep } from '../support/wait.js';

/**
 * Stands in for an auth guard: the authenticated user comes from a header, and so does the tenant
 * a credential is bound to (as SessionGuard sets it, see AUTHENTICATED_TENANT).
 */
@Injectable()
class FakeAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string>; user?: unknown; [AUTHENTICATED_TENANT]?: string }>();
    if (req.headers['x-user-company']) req.user = { companyId: req.headers['x-user-company'] };
    if (req.headers['x-auth-tenant']) req[AUTHENTICATED_TENANT] = req.headers['x-auth-tenant'];
    return true;
  }
}

@Controller()
class TenantProbeController {
  constructor(private readonly core: CoordinationCore) {}

  @Get('current')
  async current() {
    await sleep(1); // a timer hop on purpose: the tenant context must survive it
    return { current: this.core.tenants.current() ?? null, resolved: this.core.tenants.resolve() };
  }

  @Get('open')
  @TenantOptional()
  open() {
    let error: string | null = null;
    try {
      this.core.tenants.resolve();
    } catch (e) {
      error = (e as { code?: string }).code ?? 'unknown';
    }
    return { current: this.core.tenants.current() ?? null, resolveError: error };
  }

  @Get('authed')
  @UseGuards(FakeAuthGuard)
  authed() {
    return { current: this.core.tenants.current() ?? null };
  }
}

/** One handler, inherited by two controllers: only one of them is @TenantOptional(). */
@Injectable() // for the constructor's parameter types, which the controllers inherit
abstract class ReportController {
  constructor(private readonly core: CoordinationCore) {}

  @Get()
  report() {
    return { current: this.core.tenants.current() ?? null };
  }
}

@Controller('public-report')
@TenantOptional()
class PublicReportController extends ReportController {}

@Controller('tenant-report')
class TenantReportController extends ReportController {}

async function appWith(tenancy: TenancyOptions, withFilter = false): Promise<INestApplication> {
  @Module({
    imports: [CoordinationModule.forRoot({ prefix: uniquePrefix('tenancy'), tenancy })],
    controllers: [TenantProbeController, PublicReportController, TenantReportController],
    providers: withFilter ? [{ provide: APP_FILTER, useClass: CoordinationExceptionFilter }] : [],
  })
  class AppModule {}
  return (await bootApp(null, { imports: [AppModule] })).app;
}

describe('tenant resolution over HTTP', () => {
  const apps: INestApplication[] = [];
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
  });
  const start = async (tenancy: TenancyOptions, withFilter = false) => {
    const app = await appWith(tenancy, withFilter);
    apps.push(app);
    return app.getHttpServer();
  };

  describe('with a required header', () => {
    let server: unknown;
    beforeAll(async () => {
      server = await start({ header: 'x-tenant-id', required: true });
    });

    it('runs the handler in the tenant of the header', async () => {
      const res = await request(server as never).get('/current').set('x-tenant-id', 'acme').expect(200);
      expect(res.body).toEqual({ current: 'acme', resolved: 'acme' });
    });

    it('keeps concurrent requests in their own tenants', async () => {
      const tenants = Array.from({ length: 20 }, (_, i) => `tenant-${i}`);
      const bodies = await Promise.all(tenants.map((t) => request(server as never).get('/current').set('x-tenant-id', t)));
      expect(bodies.map((r) => r.body.current)).toEqual(tenants);
    });

    it('rejects a request without a tenant with 400 E_TENANT_REQUIRED', async () => {
      const res = await request(server as never).get('/current').expect(400);
      expect(res.body.code).toBe('E_TENANT_REQUIRED');
    });

    it('lets a @TenantOptional() route run without a tenant, where operations still refuse to guess one', async () => {
      const res = await request(server as never).get('/open').expect(200);
      expect(res.body).toEqual({ current: null, resolveError: 'E_TENANT_REQUIRED' });
      const withTenant = await request(server as never).get('/open').set('x-tenant-id', 'acme').expect(200);
      expect(withTenant.body.current).toBe('acme');
    });

    it('reads @TenantOptional() per controller: a handler inherited by an optional and a required controller', async () => {
      for (let i = 0; i < 2; i++) {
        const optional = await request(server as never).get('/public-report').expect(200);
        expect(optional.body).toEqual({ current: null });
        const required = await request(server as never).get('/tenant-report').expect(400);
        expect(required.body.code).toBe('E_TENANT_REQUIRED');
        expect(required.body.detail ?? required.body.message).toMatch(/A tenant is required/);
      }
      const withTenant = await request(server as never).get('/tenant-report').set('x-tenant-id', 'acme').expect(200);
      expect(withTenant.body).toEqual({ current: 'acme' });
    });

    it('rejects a malformed tenant with 400 E_TENANT_INVALID', async () => {
      for (const bad of ['a*b', '_shared', 'a:b', '{a}']) {
        const res = await request(server as never).get('/current').set('x-tenant-id', bad).expect(400);
        expect(res.body.code).toBe('E_TENANT_INVALID');
      }
    });

    it('runs the handler in the tenant a guard authenticated the request for, not the one of the header the middleware entered', async () => {
      const res = await request(server as never).get('/authed').set('x-tenant-id', 'acme').set('x-auth-tenant', 'beta').expect(200);
      expect(res.body).toEqual({ current: 'beta' });
      const unauthenticated = await request(server as never).get('/authed').set('x-tenant-id', 'acme').expect(200);
      expect(unauthenticated.body).toEqual({ current: 'acme' });
    });
  });

  describe('with a user property', () => {
    let server: unknown;
    beforeAll(async () => {
      server = await start({ userProperty: 'companyId', required: true });
    });

    it('takes the tenant from the user an auth guard set', async () => {
      const res = await request(server as never).get('/authed').set('x-user-company', 'acme').expect(200);
      expect(res.body).toEqual({ current: 'acme' });
    });

    it('lets the authenticated user win over a tenant header the client sends', async () => {
      const res = await request(server as never).get('/authed').set('x-user-company', 'acme').set('x-tenant-id', 'victim').expect(200);
      expect(res.body).toEqual({ current: 'acme' });
    });

    it('rejects a malformed tenant from the user with 400 E_TENANT_INVALID', async () => {
      const res = await request(server as never).get('/authed').set('x-user-company', 'ac*me').expect(400);
      expect(res.body.code).toBe('E_TENANT_INVALID');
    });

    it('rejects an unauthenticated request with 400 E_TENANT_REQUIRED', async () => {
      const res = await request(server as never).get('/authed').expect(400);
      expect(res.body.code).toBe('E_TENANT_REQUIRED');
    });

    it('never takes the tenant from a header when the user property is configured', async () => {
      const res = await request(server as never).get('/authed').set('x-tenant-id', 'victim').expect(400);
      expect(res.body.code).toBe('E_TENANT_REQUIRED');
    });
  });

  describe('with a custom resolver', () => {
    it('lets the resolver win over the header', async () => {
      const server = await start({
        header: 'x-tenant-id',
        required: true,
        resolver: (req) => (req as { headers: Record<string, string> }).headers['x-org'],
      });
      const res = await request(server as never).get('/current').set('x-tenant-id', 'from-header').set('x-org', 'from-resolver').expect(200);
      expect(res.body.current).toBe('from-resolver');
      const missing = await request(server as never).get('/current').set('x-tenant-id', 'from-header').expect(400);
      expect(missing.body.code).toBe('E_TENANT_REQUIRED');
    });

    it('runs the handler in the tenant the resolver names once guards have run, not the one it named to the middleware', async () => {
      const server = await start({
        required: true,
        // request.user is set by the auth guard, after the middleware: until then, the header names the tenant.
        resolver: (req) => {
          const { user, headers } = req as { user?: { companyId?: string }; headers: Record<string, string> };
          return user?.companyId ?? headers['x-tenant-id'];
        },
      });
      const res = await request(server as never).get('/authed').set('x-tenant-id', 'acme').set('x-user-company', 'beta').expect(200);
      expect(res.body).toEqual({ current: 'beta' });
      const anonymous = await request(server as never).get('/authed').set('x-tenant-id', 'acme').expect(200);
      expect(anonymous.body).toEqual({ current: 'acme' });
    });
  });

  describe('when tenancy is not required', () => {
    it('resolves the shared tenant for a request without one, and still rejects a malformed one', async () => {
      const server = await start({ required: false });
      const res = await request(server as never).get('/current').expect(200);
      expect(res.body).toEqual({ current: null, resolved: '_shared' });
      const bad = await request(server as never).get('/current').set('x-tenant-id', 'a*b').expect(400);
      expect(bad.body.code).toBe('E_TENANT_INVALID');
    });
  });
  describe('with CoordinationExceptionFilter registered (APP_FILTER)', () => {
    const expectProblem = (res: request.Response, code: string) => {
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.body).toMatchObject({ type: `urn:coordination:error:${code}`, status: 400, code, title: expect.any(String), detail: expect.any(String) });
    };

    it('answers a malformed tenant the middleware rejects with problem+json', async () => {
      const server = await start({ header: 'x-tenant-id', required: true }, true);
      const res = await request(server as never).get('/current').set('x-tenant-id', 'a*b').expect(400);
      expectProblem(res, 'E_TENANT_INVALID');
    });

    it('answers a missing tenant with problem+json naming the header the request should have carried', async () => {
      const server = await start({ header: 'x-company-id', required: true }, true);
      const res = await request(server as never).get('/current').expect(400);
      expectProblem(res, 'E_TENANT_REQUIRED');
      expect(res.body.detail).toContain('"x-company-id" header');
      expect(res.body.detail).not.toContain('pass { tenant }');
    });

    it('names request.user.<userProperty> when the tenant comes from the authenticated user', async () => {
      const server = await start({ userProperty: 'companyId', required: true }, true);
      const res = await request(server as never).get('/authed').expect(400);
      expectProblem(res, 'E_TENANT_REQUIRED');
      expect(res.body.detail).toContain('request.user.companyId');
      const bad = await request(server as never).get('/authed').set('x-user-company', 'ac*me').expect(400);
      expectProblem(bad, 'E_TENANT_INVALID');
    });

    it('names tenancy.resolver when a custom resolver finds none', async () => {
      const server = await start({ required: true, resolver: () => undefined }, true);
      const res = await request(server as never).get('/current').expect(400);
      expectProblem(res, 'E_TENANT_REQUIRED');
      expect(res.body.detail).toContain('tenancy.resolver');
    });

    it('echoes at most 64 characters of an 8 KB tenant header', async () => {
      const server = await start({ header: 'x-tenant-id', required: true }, true);
      const res = await request(server as never).get('/current').set('x-tenant-id', 'x'.repeat(8_192)).expect(400);
      expectProblem(res, 'E_TENANT_INVALID');
      expect(JSON.stringify(res.body).length).toBeLessThan(600);
      expect(res.body.detail).toContain('(8192 characters)');
    });
  });

  it('without the filter, still answers tenant errors with 400 and the problem body, naming the header', async () => {
    const server = await start({ header: 'x-company-id', required: true });
    const missing = await request(server as never).get('/current').expect(400);
    expect(missing.body).toMatchObject({ type: 'urn:coordination:error:E_TENANT_REQUIRED', status: 400, code: 'E_TENANT_REQUIRED' });
    expect(missing.body.detail).toContain('"x-company-id" header');
    const bad = await request(server as never).get('/current').set('x-company-id', 'a*b').expect(400);
    expect(bad.body).toMatchObject({ type: 'urn:coordination:error:E_TENANT_INVALID', status: 400, code: 'E_TENANT_INVALID' });
  });
});
