import 'reflect-metadata';
import { jest } from '@jest/globals';
import { Injectable, Logger, UseGuards, type CanActivate, type INestApplication, type Provider } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Args, Field, Int, Mutation, ObjectType, Parent, Query, ResolveField, Resolver, GraphQLModule } from '@nestjs/graphql';
import request from 'supertest';
import {
  CoordinationCore, CoordinationExceptionFilter, CoordinationHttpException, RateLimit, RateLimitGuard, SessionRequiredError, TenantOptional, WithLock,
  type CoordinationModuleOptions,
} from '@nest-coordination/core';
import { bootApp } from '../support/boot.js';
import { DRIVERS } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { HandlerProbe } from './handler-probe.js';

// GraphQL resolvers (Apollo over Express, code first, schema in memory) under the global
// RateLimitGuard and the module's TenantInterceptor: limits and locks per tenant, the errors a
// GraphQL client gets, on every driver.

const MINUTE = 60_000;
const probe = new HandlerProbe();

@ObjectType()
class CrewRun {
  @Field() crewId!: string;
  @Field() tenant!: string;
}

@Resolver()
class CrewResolver {
  constructor(private readonly core: CoordinationCore) {}

  @Query(() => String)
  @TenantOptional()
  version(): string {
    return '1';
  }

  @RateLimit({ scope: 'user', limit: 2, windowMs: MINUTE })
  @Query(() => [CrewRun])
  crewRuns(@Args('crewId') crewId: string): Promise<CrewRun[]> {
    return probe.enter(`runs:${crewId}`, () => [{ crewId, tenant: this.core.tenants.current() ?? '(none)' }]);
  }

  @RateLimit({ scope: 'user', name: 'burst', limit: 5, windowMs: MINUTE })
  @Query(() => Int)
  burst(@Args('n', { type: () => Int }) n: number): Promise<number> {
    return probe.enter('burst', () => n);
  }

  @WithLock('crew-run:{0}', { waitMs: 0 })
  @Mutation(() => CrewRun)
  startRun(@Args('crewId') crewId: string): Promise<CrewRun> {
    const tenant = this.core.tenants.current() ?? '(none)';
    return probe.enter(`start:${tenant}:${crewId}`, () => ({ crewId, tenant }));
  }

  @WithLock('crew-queue:{0}', { waitMs: 20_000 })
  @Mutation(() => Int)
  queueRun(@Args('crewId') crewId: string, @Args('n', { type: () => Int }) n: number): Promise<number> {
    return probe.enter(`queue:${crewId}`, () => n);
  }
}

/** Refuses like SessionGuard does before a handler: a CoordinationHttpException (an HTTP 401 on a route). */
@Injectable()
class RefusingGuard implements CanActivate {
  canActivate(): boolean {
    throw new CoordinationHttpException(new SessionRequiredError('SessionResolver.me needs a session'));
  }
}

@Resolver()
class SessionResolver {
  @UseGuards(RefusingGuard)
  @Query(() => String)
  me(): string {
    return 'never';
  }
}

@ObjectType()
class Crew {
  @Field() id!: string;
  @Field() rootTenant!: string;
}

/** A root query and a field resolver of its type: where each one runs, tenant-wise. */
@Resolver(() => Crew)
class CrewFieldResolver {
  constructor(private readonly core: CoordinationCore) {}

  @Query(() => Crew)
  async crew(@Args('id') id: string): Promise<Crew> {
    await new Promise((resolve) => setImmediate(resolve));
    return { id, rootTenant: this.core.tenants.current() ?? '(none)' };
  }

  @ResolveField(() => String)
  async fieldTenant(@Parent() _crew: Crew): Promise<string> {
    return this.core.tenants.current() ?? '(none)';
  }
}

async function bootFieldResolvers(options: CoordinationModuleOptions, graphql: Partial<ApolloDriverConfig> = {}): Promise<{ app: INestApplication; close(): Promise<void> }> {
  return bootApp(options, {
    imports: [GraphQLModule.forRoot<ApolloDriverConfig>({ driver: ApolloDriver, autoSchemaFile: true, ...graphql })],
    providers: [CrewFieldResolver, { provide: APP_GUARD, useClass: RateLimitGuard }],
  });
}

async function bootGraphQL(options: CoordinationModuleOptions, providers: Provider[] = []): Promise<{ app: INestApplication; close(): Promise<void> }> {
  return bootApp(options, {
    imports: [GraphQLModule.forRoot<ApolloDriverConfig>({ driver: ApolloDriver, autoSchemaFile: true })],
    providers: [CrewResolver, { provide: APP_GUARD, useClass: RateLimitGuard }, ...providers],
    // Stands in for authentication: the user comes from a header.
    configure: (nest) => nest.use((req: { headers: Record<string, string>; user?: unknown }, _res: unknown, next: () => void) => {
      if (req.headers['x-user']) req.user = { id: req.headers['x-user'] };
      next();
    }),
  });
}

interface GraphQLAnswer {
  status: number;
  headers: Record<string, string>;
  data: Record<string, unknown> | null;
  errors?: Array<{ message: string; path?: string[]; extensions: Record<string, unknown> }>;
}

async function gql(app: INestApplication, query: string, headers: Record<string, string> = {}): Promise<GraphQLAnswer> {
  const res = await request(app.getHttpServer()).post('/graphql').set(headers).send({ query });
  return { status: res.status, headers: res.headers as Record<string, string>, data: res.body.data, errors: res.body.errors };
}

describe.each(DRIVERS)('GraphQL resolvers on $name', (driver) => {
  let app: INestApplication;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ app, close } = await bootGraphQL({ ...driver.options(), tenancy: { required: true } }));
  });
  afterAll(() => close());
  beforeEach(() => probe.reset());

  it('answers a query over its limit with a GraphQL error: extensions.code E_RATE_LIMITED, the retry time, and Retry-After on the response', async () => {
    const headers = { 'x-tenant-id': 'acme', 'x-user': 'ada' };
    for (let i = 0; i < 2; i++) {
      const ok = await gql(app, '{ crewRuns(crewId: "c1") { crewId tenant } }', headers);
      expect(ok.errors).toBeUndefined();
      expect(ok.data).toEqual({ crewRuns: [{ crewId: 'c1', tenant: 'acme' }] });
      expect(ok.headers['ratelimit']).toMatch(/^"user";r=\d+;t=\d+$/);
    }
    const denied = await gql(app, '{ crewRuns(crewId: "c1") { crewId } }', headers);
    expect(denied.status).toBe(200);
    expect(denied.data).toBeNull();
    expect(denied.errors).toHaveLength(1);
    const [error] = denied.errors!;
    expect(error.path).toEqual(['crewRuns']);
    expect(error.message).toBe('Rate limit policy "user" exceeded (2 per window)');
    expect(error.extensions).toMatchObject({ code: 'E_RATE_LIMITED', policy: 'user', limit: 2, source: driver.name === 'memory' ? 'memory' : 'redis' });
    expect(error.extensions.retryAfterMs).toBeGreaterThan(0);
    expect(error.extensions.retryAfterMs).toBeLessThanOrEqual(MINUTE);
    expect(error.extensions.retryAfterSeconds).toBe(Math.ceil((error.extensions.retryAfterMs as number) / 1000));
    expect(denied.headers['retry-after']).toBe(String(error.extensions.retryAfterSeconds));
    expect(probe.count('runs:c1')).toBe(2);
  });

  it("counts each tenant apart: one tenant's exhausted limit leaves another's whole", async () => {
    const user = { 'x-user': 'shared-user' };
    for (let i = 0; i < 2; i++) expect((await gql(app, '{ crewRuns(crewId: "c2") { tenant } }', { ...user, 'x-tenant-id': 'acme' })).errors).toBeUndefined();
    expect((await gql(app, '{ crewRuns(crewId: "c2") { tenant } }', { ...user, 'x-tenant-id': 'acme' })).errors?.[0].extensions.code).toBe('E_RATE_LIMITED');
    const other = await gql(app, '{ crewRuns(crewId: "c2") { tenant } }', { ...user, 'x-tenant-id': 'globex' });
    expect(other.errors).toBeUndefined();
    expect(other.data).toEqual({ crewRuns: [{ tenant: 'globex' }] });
  });

  it('refuses an operation without the required tenant with E_TENANT_REQUIRED (a malformed one is the HTTP 400 of any route), and lets a @TenantOptional() one through', async () => {
    const missing = await gql(app, '{ crewRuns(crewId: "c3") { tenant } }', { 'x-user': 'ada' });
    expect(missing.errors?.[0].extensions.code).toBe('E_TENANT_REQUIRED');
    expect(missing.errors?.[0].message).toMatch(/CrewResolver\.crewRuns.*x-tenant-id/);
    // A malformed tenant header is refused by TenantMiddleware, before GraphQL: the HTTP 400 of any route.
    const malformed = await request(app.getHttpServer()).post('/graphql').set({ 'x-user': 'ada', 'x-tenant-id': 'ac*me' }).send({ query: '{ crewRuns(crewId: "c3") { tenant } }' });
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.text)).toMatchObject({ code: 'E_TENANT_INVALID' });
    expect(probe.count('runs:c3')).toBe(0);
    expect((await gql(app, '{ version }')).data).toEqual({ version: '1' });
  });

  it('@WithLock: a mutation while another holds the lock is E_LOCK_TIMEOUT naming key and tenant; another tenant has its own lock', async () => {
    probe.hold('start:acme:c4');
    const first = gql(app, 'mutation { startRun(crewId: "c4") { tenant } }', { 'x-tenant-id': 'acme' });
    await until(() => probe.inside('start:acme:c4'), { timeoutMs: 10_000, message: 'the first run inside its lock' });

    const second = await gql(app, 'mutation { startRun(crewId: "c4") { tenant } }', { 'x-tenant-id': 'acme' });
    expect(second.data).toBeNull();
    expect(second.errors?.[0].extensions).toMatchObject({ code: 'E_LOCK_TIMEOUT', key: 'crew-run:c4', tenant: 'acme', waitedMs: expect.any(Number) });
    const elsewhere = await gql(app, 'mutation { startRun(crewId: "c4") { tenant } }', { 'x-tenant-id': 'globex' });
    expect(elsewhere.data).toEqual({ startRun: { tenant: 'globex' } });

    probe.release('start:acme:c4');
    expect((await first).data).toEqual({ startRun: { tenant: 'acme' } });
    const after = await gql(app, 'mutation { startRun(crewId: "c4") { tenant } }', { 'x-tenant-id': 'acme' });
    expect(after.data).toEqual({ startRun: { tenant: 'acme' } });
  });

  it('@WithLock: parallel mutations on one crew run one at a time, and every one runs', async () => {
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, n) => gql(app, `mutation { queueRun(crewId: "c5", n: ${n}) }`, { 'x-tenant-id': 'acme' })),
    );
    expect(answers.map((a) => a.errors)).toEqual(Array(8).fill(undefined));
    expect(answers.map((a) => a.data?.queueRun).sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(probe.count('queue:c5')).toBe(8);
    expect(probe.maxActive).toBe(1);
  });

  it('parallel queries over a limit of 5: exactly 5 admitted, the others denied without running', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, n) => gql(app, `{ burst(n: ${n}) }`, { 'x-tenant-id': 'acme', 'x-user': 'parallel' })),
    );
    const admitted = answers.filter((a) => a.errors === undefined);
    expect(admitted).toHaveLength(5);
    expect(answers.filter((a) => a.errors?.[0].extensions.code === 'E_RATE_LIMITED')).toHaveLength(15);
    expect(probe.count('burst')).toBe(5);
  });
});

describe('GraphQL: options and filters', () => {
  it('tenancy.resolvers.graphql names the tenant from the GraphQL context', async () => {
    const { app, close } = await bootGraphQL({
      driver: 'memory',
      tenancy: { required: true, resolvers: { graphql: (ctx: { req: { headers: Record<string, string> } }) => ctx.req.headers['x-org'] } },
    });
    try {
      const answer = await gql(app, '{ crewRuns(crewId: "c6") { tenant } }', { 'x-org': 'initech', 'x-user': 'peter' });
      expect(answer.data).toEqual({ crewRuns: [{ tenant: 'initech' }] });
      const none = await gql(app, '{ crewRuns(crewId: "c6") { tenant } }', { 'x-user': 'peter' });
      expect(none.errors?.[0].extensions.code).toBe('E_TENANT_REQUIRED');
      expect(none.errors?.[0].message).toMatch(/tenancy\.resolvers\.graphql/);
    } finally {
      await close();
    }
  });

  it('a field resolver never runs in another tenant than its operation: an operation naming another tenant than its HTTP request is refused', async () => {
    const { app, close } = await bootFieldResolvers({ driver: 'memory', tenancy: { resolvers: { graphql: (ctx: { req: { headers: Record<string, string> } }) => ctx.req.headers['x-org'] } } });
    try {
      // TenantMiddleware runs the HTTP request in globex (its header); the operation names acme.
      const answer = await gql(app, '{ crew(id: "c1") { id rootTenant fieldTenant } }', { 'x-org': 'acme', 'x-tenant-id': 'globex' });
      expect(answer.data).toBeNull();
      expect(answer.errors?.[0]).toMatchObject({ path: ['crew'], extensions: { code: 'E_TENANT_INVALID' } });
      expect(answer.errors?.[0].message).toMatch(/CrewFieldResolver\.crew names tenant "acme" but its HTTP request runs in "globex"/);
      const agreeing = await gql(app, '{ crew(id: "c1") { id rootTenant fieldTenant } }', { 'x-org': 'acme', 'x-tenant-id': 'acme' });
      expect(agreeing.data).toEqual({ crew: { id: 'c1', rootTenant: 'acme', fieldTenant: 'acme' } });
    } finally {
      await close();
    }
  });

  it("with fieldResolverEnhancers: ['interceptors'], field resolvers run in the operation's tenant", async () => {
    const { app, close } = await bootFieldResolvers(
      { driver: 'memory', tenancy: { required: true, resolvers: { graphql: (ctx: { req: { headers: Record<string, string> } }) => ctx.req.headers['x-org'] } } },
      { fieldResolverEnhancers: ['interceptors'] },
    );
    try {
      const answer = await gql(app, '{ crew(id: "c1") { id rootTenant fieldTenant } }', { 'x-org': 'acme' });
      expect(answer.data).toEqual({ crew: { id: 'c1', rootTenant: 'acme', fieldTenant: 'acme' } });
    } finally {
      await close();
    }
  });

  it('CoordinationExceptionFilter answers a library refusal of an app guard with the GraphQL error and its code', async () => {
    const { app, close } = await bootGraphQL({ driver: 'memory' }, [SessionResolver, { provide: APP_FILTER, useClass: CoordinationExceptionFilter }]);
    try {
      const answer = await gql(app, '{ me }');
      expect(answer.data).toBeNull();
      expect(answer.errors?.[0]).toMatchObject({ message: 'A session is required: SessionResolver.me needs a session', path: ['me'], extensions: { code: 'E_SESSION_REQUIRED' } });
    } finally {
      await close();
    }
  });

  it('logs no error for a denial: it is an answer, not a failure of the server', async () => {
    const { app, close } = await bootGraphQL({ driver: 'memory' });
    const error = jest.spyOn(Logger.prototype, 'error');
    try {
      for (let i = 0; i < 3; i++) await gql(app, '{ crewRuns(crewId: "c7") { tenant } }', { 'x-user': 'quiet' });
      expect((await gql(app, '{ crewRuns(crewId: "c7") { tenant } }', { 'x-user': 'quiet' })).errors?.[0].extensions.code).toBe('E_RATE_LIMITED');
      expect(error).not.toHaveBeenCalled();
    } finally {
      error.mockRestore();
      await close();
    }
  });
});
