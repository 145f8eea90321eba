import 'reflect-metadata';
import type { AddressInfo, Server } from 'node:net';
import { Controller } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import {
  ClientProxyFactory, Ctx, MessagePattern, Payload, RpcException, TcpContext, Transport, type ClientProxy, type ReadPacket,
} from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';
import {
  CoordinationCore, CoordinationModule, LockTimeoutError, RateLimit, RateLimitGuard, TenantOptional, WithLock, type CoordinationModuleOptions,
} from '@nest-coordination/core';
import { CoordinationMicroservicesModule, CoordinationRpcException } from '@nest-coordination/core/microservices';
import { startRedisServer } from '../harness/redis-server.js';
import { bootApp, bootFailure } from '../support/boot.js';
import { DRIVERS } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { HandlerProbe } from './handler-probe.js';

// A TCP microservice (a hybrid app, `inheritAppConfig: true`, so the global RateLimitGuard and
// the module's TenantInterceptor apply) called through a ClientProxy: limits and locks per
// tenant (from the payload or the packet metadata), the RpcException of a refusal, on every driver.

const MINUTE = 60_000;
const probe = new HandlerProbe();

interface RunMessage {
  tenantId?: string;
  crewId: string;
  user?: { id: string };
  n?: number;
}

@Controller()
class CrewRunsHandler {
  constructor(private readonly core: CoordinationCore) {}

  @RateLimit({ scope: 'user', limit: 2, windowMs: MINUTE })
  @MessagePattern('crew.runs')
  runs(@Payload() data: RunMessage): Promise<{ crewId: string; tenant: string }> {
    const tenant = this.core.tenants.current() ?? '(none)';
    return probe.enter(`runs:${tenant}:${data.crewId}`, () => ({ crewId: data.crewId, tenant }));
  }

  @RateLimit({ scope: 'tenant', name: 'burst', limit: 5, windowMs: MINUTE })
  @MessagePattern('crew.burst')
  burst(@Payload() data: RunMessage): Promise<number> {
    return probe.enter('burst', () => data.n ?? 0);
  }

  @WithLock('crew-run:{0.crewId}', { waitMs: 0 })
  @MessagePattern('crew.run')
  run(@Payload() data: RunMessage, @Ctx() context: TcpContext): Promise<{ tenant: string; pattern: string }> {
    const tenant = this.core.tenants.current() ?? '(none)';
    return probe.enter(`run:${tenant}:${data.crewId}`, () => ({ tenant, pattern: context.getPattern() }));
  }

  @WithLock('crew-queue:{0.crewId}', { waitMs: 20_000 })
  @MessagePattern('crew.queue')
  queue(@Payload() data: RunMessage): Promise<number> {
    return probe.enter(`queue:${data.crewId}`, () => data.n ?? 0);
  }

  @TenantOptional()
  @MessagePattern('ping')
  ping(): string {
    return 'pong';
  }
}

/** Handlers with neither @RateLimit nor @WithLock: only tenancy.required may refuse them. */
@Controller()
class TenantHandler {
  @MessagePattern('whoami')
  whoami(): string {
    return 'me';
  }

  @TenantOptional()
  @MessagePattern('optional')
  optional(): string {
    return 'any';
  }
}

async function bootMicroservice(options: CoordinationModuleOptions): Promise<{ port: number; close(): Promise<void> }> {
  const booted = await bootApp(options, {
    imports: [CoordinationMicroservicesModule],
    controllers: [CrewRunsHandler],
    providers: [{ provide: APP_GUARD, useClass: RateLimitGuard }],
  });
  const microservice = booted.app.connectMicroservice({ transport: Transport.TCP, options: { host: '127.0.0.1', port: 0 } }, { inheritAppConfig: true });
  await booted.app.startAllMicroservices();
  const { port } = microservice.unwrap<Server>().address() as AddressInfo;
  return { port, close: () => booted.close() };
}

const clients: ClientProxy[] = [];

function clientOf(port: number, metadata?: Record<string, string>): ClientProxy {
  const client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
  if (metadata) client.setOnDispatchHook((packet: ReadPacket) => (packet.metadata = metadata));
  clients.push(client);
  return client;
}

/** The handler's answer, or what `send()` failed with (the RpcException's body). */
async function send(client: ClientProxy, pattern: string, data: unknown): Promise<{ ok: unknown } | { error: Record<string, unknown> }> {
  try {
    return { ok: await firstValueFrom(client.send(pattern, data)) };
  } catch (error) {
    return { error: error as Record<string, unknown> };
  }
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

describe.each(DRIVERS)('TCP microservice on $name', (driver) => {
  let port: number;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ port, close } = await bootMicroservice({ ...driver.options(), tenancy: { required: true } }));
  });
  afterAll(() => close());
  beforeEach(() => probe.reset());

  it('answers a message over its limit with the RpcException body { status, code: E_RATE_LIMITED, message, retryAfterMs, ... }', async () => {
    const client = clientOf(port);
    const message = { tenantId: 'acme', crewId: 'c1', user: { id: 'ada' } };
    for (let i = 0; i < 2; i++) expect(await send(client, 'crew.runs', message)).toEqual({ ok: { crewId: 'c1', tenant: 'acme' } });
    const denied = await send(client, 'crew.runs', message);
    expect(denied).toEqual({
      error: {
        status: 'error',
        code: 'E_RATE_LIMITED',
        message: 'Rate limit policy "user" exceeded (2 per window)',
        policy: 'user',
        limit: 2,
        retryAfterMs: expect.any(Number),
        retryAfterSeconds: expect.any(Number),
        source: driver.name === 'memory' ? 'memory' : 'redis',
      },
    });
    const { retryAfterMs, retryAfterSeconds } = (denied as { error: { retryAfterMs: number; retryAfterSeconds: number } }).error;
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterSeconds).toBe(Math.ceil(retryAfterMs / 1000));
    expect(probe.count('runs:acme:c1')).toBe(2);
    // Another user of the tenant has a count of their own.
    expect(await send(client, 'crew.runs', { ...message, user: { id: 'bob' } })).toEqual({ ok: { crewId: 'c1', tenant: 'acme' } });
  });

  it("reads the tenant from the payload's tenantId or the packet metadata, and counts each tenant apart", async () => {
    const client = clientOf(port);
    for (let n = 0; n < 5; n++) expect(await send(client, 'crew.burst', { tenantId: 'acme', crewId: 'c2', n })).toEqual({ ok: n });
    expect(await send(client, 'crew.burst', { tenantId: 'acme', crewId: 'c2' })).toMatchObject({ error: { code: 'E_RATE_LIMITED', policy: 'burst' } });
    const globex = clientOf(port, { 'x-tenant-id': 'globex' });
    expect(await send(globex, 'crew.burst', { crewId: 'c2', n: 9 })).toEqual({ ok: 9 });
    expect(await send(globex, 'crew.runs', { crewId: 'c2', user: { id: 'hank' } })).toEqual({ ok: { crewId: 'c2', tenant: 'globex' } });
  });

  it('refuses a message without the required tenant (E_TENANT_REQUIRED) or with a malformed one (E_TENANT_INVALID); @TenantOptional() passes', async () => {
    const client = clientOf(port);
    const missing = await send(client, 'crew.runs', { crewId: 'c3', user: { id: 'ada' } });
    expect(missing).toMatchObject({ error: { status: 'error', code: 'E_TENANT_REQUIRED', message: expect.stringMatching(/CrewRunsHandler\.runs.*tenantId/) } });
    expect(await send(client, 'crew.runs', { tenantId: 'ac*me', crewId: 'c3' })).toMatchObject({ error: { code: 'E_TENANT_INVALID' } });
    expect(probe.count('runs:(none):c3')).toBe(0);
    expect(await send(client, 'ping', {})).toEqual({ ok: 'pong' });
  });

  it('@WithLock: a message while another holds the lock is E_LOCK_TIMEOUT (key from the payload); another tenant has its own lock', async () => {
    const client = clientOf(port);
    probe.hold('run:acme:c4');
    const held = send(client, 'crew.run', { tenantId: 'acme', crewId: 'c4' });
    await until(() => probe.inside('run:acme:c4'), { timeoutMs: 10_000, message: 'the first run inside its lock' });

    expect(await send(client, 'crew.run', { tenantId: 'acme', crewId: 'c4' })).toEqual({
      error: { status: 'error', code: 'E_LOCK_TIMEOUT', message: expect.stringContaining('crew-run:c4'), key: 'crew-run:c4', tenant: 'acme', waitedMs: expect.any(Number) },
    });
    expect(await send(client, 'crew.run', { tenantId: 'globex', crewId: 'c4' })).toEqual({ ok: { tenant: 'globex', pattern: 'crew.run' } });
    probe.release('run:acme:c4');
    expect(await held).toEqual({ ok: { tenant: 'acme', pattern: 'crew.run' } });
  });

  it('@WithLock: parallel messages on one crew run one at a time, and every one runs', async () => {
    const client = clientOf(port);
    const answers = await Promise.all(Array.from({ length: 8 }, (_, n) => send(client, 'crew.queue', { tenantId: 'acme', crewId: 'c5', n })));
    expect(answers.map((a) => ('ok' in a ? a.ok : a)).sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(probe.maxActive).toBe(1);
  });

  it('parallel messages over a limit of 5: exactly 5 admitted, every other one refused without running', async () => {
    const client = clientOf(port);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, n) => send(client, 'crew.burst', { tenantId: 'initech', crewId: 'c6', n })));
    expect(answers.filter((a) => 'ok' in a)).toHaveLength(5);
    expect(answers.filter((a) => 'error' in a && a.error.code === 'E_RATE_LIMITED')).toHaveLength(15);
    expect(probe.count('burst')).toBe(5);
  });
});

describe('Microservice contexts: options and boot', () => {
  it('tenancy.resolvers.rpc names the tenant from the payload', async () => {
    const { port, close } = await bootMicroservice({
      driver: 'memory',
      tenancy: { required: true, resolvers: { rpc: (data: { company?: string }) => data.company } },
    });
    try {
      const client = clientOf(port);
      expect(await send(client, 'crew.runs', { company: 'initech', tenantId: 'ignored', crewId: 'c7' })).toEqual({ ok: { crewId: 'c7', tenant: 'initech' } });
      expect(await send(client, 'crew.runs', { tenantId: 'acme', crewId: 'c7' })).toMatchObject({ error: { code: 'E_TENANT_REQUIRED', message: expect.stringMatching(/tenancy\.resolvers\.rpc/) } });
      await Promise.all(clients.splice(0).map((c) => c.close()));
    } finally {
      await close();
    }
  });

  it('answers E_REDIS_UNAVAILABLE (source fail-closed) while Redis is unreachable under onRedisUnavailable: fail-closed', async () => {
    const server = await startRedisServer();
    const { port, close } = await bootMicroservice({
      connection: { url: server.url, commandTimeoutMs: 500, connectTimeoutMs: 2_000 },
      reconnect: { baseDelayMs: 20, maxDelayMs: 100 },
      health: { pingIntervalMs: 0 },
      rateLimit: { onRedisUnavailable: 'fail-closed' },
    });
    try {
      const client = clientOf(port);
      expect(await send(client, 'crew.runs', { tenantId: 'acme', crewId: 'c8', user: { id: 'ada' } })).toEqual({ ok: { crewId: 'c8', tenant: 'acme' } });
      await server.kill();
      expect(await send(client, 'crew.runs', { tenantId: 'acme', crewId: 'c8', user: { id: 'ada' } })).toEqual({
        error: {
          status: 'error', code: 'E_REDIS_UNAVAILABLE', message: 'The shared rate limiter cannot be reached and is configured to fail closed',
          policy: 'user', limit: 2, retryAfterMs: expect.any(Number), retryAfterSeconds: expect.any(Number), source: 'fail-closed',
        },
      });
      expect(probe.count('runs:acme:c8')).toBe(1);
    } finally {
      await Promise.all(clients.splice(0).map((c) => c.close()));
      await close();
      await server.stop();
    }
  });

  it('throws a CoordinationRpcException: an RpcException with the body, the library error as its cause', () => {
    const cause = new LockTimeoutError('crew-run:c1', 0, 'acme');
    const exception = new CoordinationRpcException({ code: cause.code, message: cause.message }, cause);
    expect(exception).toBeInstanceOf(RpcException);
    expect(exception.getError()).toEqual({ status: 'error', code: 'E_LOCK_TIMEOUT', message: cause.message });
    expect(exception.cause).toBe(cause);
  });

  it('fails the boot when a message handler has @RateLimit or @WithLock but CoordinationMicroservicesModule is missing, naming it', async () => {
    const error = await bootFailure({ imports: [CoordinationModule.forRoot({ driver: 'memory' })], controllers: [CrewRunsHandler] });
    expect(error.message).toMatch(/CrewRunsHandler\.runs \(@RateLimit\) is a microservice message handler: import CoordinationMicroservicesModule from '@nest-coordination\/core\/microservices'/);
    expect(error.message).toMatch(/CrewRunsHandler\.run \(@WithLock\)/);
    expect(error.message).not.toMatch(/tenancy\.required/);
  });

  it('under tenancy.required, fails the boot for every message handler but the @TenantOptional() ones, naming the reason', async () => {
    const error = await bootFailure({ imports: [CoordinationModule.forRoot({ driver: 'memory', tenancy: { required: true } })], controllers: [TenantHandler, CrewRunsHandler] });
    expect(error.message).toMatch(/TenantHandler\.whoami \(tenancy\.required\) is a microservice message handler: import CoordinationMicroservicesModule/);
    expect(error.message).toMatch(/CrewRunsHandler\.runs \(@RateLimit, tenancy\.required\)/);
    expect(error.message).not.toMatch(/\.ping|\.optional/);
  });
});
