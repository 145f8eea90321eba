import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { Injectable, type ExecutionContext, type INestApplication } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway, WsException, type OnGatewayConnection } from '@nestjs/websockets';
import { io, type Socket as ClientSocket } from 'socket.io-client';
import type { Socket } from 'socket.io';
import {
  CoordinationCore, CoordinationModule, LockTimeoutError, RateLimit, RateLimitGuard, TenantOptional, WithLock, type ContextRequest, type CoordinationModuleOptions,
  type RateLimitRule,
} from '@nest-coordination/core';
import { CoordinationWebSocketsModule, CoordinationWsException } from '@nest-coordination/core/websockets';
import { bootApp, bootFailure } from '../support/boot.js';
import { DRIVERS } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { HandlerProbe } from './handler-probe.js';

// A socket.io gateway under the global RateLimitGuard and the module's TenantInterceptor: limits
// and locks per tenant (from the handshake), the WsException payload of a refusal, on every driver.

const MINUTE = 60_000;
const probe = new HandlerProbe();

@WebSocketGateway()
class CrewGateway implements OnGatewayConnection {
  constructor(private readonly core: CoordinationCore) {}

  /** Stands in for authentication at connection: the user the client names in its handshake. */
  handleConnection(client: Socket): void {
    const user = client.handshake.auth?.user;
    if (typeof user === 'string') client.data.user = { id: user };
  }

  @RateLimit({ scope: 'user', limit: 2, windowMs: MINUTE })
  @SubscribeMessage('crew.subscribe')
  subscribe(@MessageBody() body: { crewId: string }): Promise<{ crewId: string; tenant: string }> {
    const tenant = this.core.tenants.current() ?? '(none)';
    return probe.enter(`subscribe:${tenant}:${body.crewId}`, () => ({ crewId: body.crewId, tenant }));
  }

  @RateLimit({ scope: 'user', name: 'burst', limit: 5, windowMs: MINUTE })
  @SubscribeMessage('crew.burst')
  burst(@MessageBody() body: { n: number }): Promise<number> {
    return probe.enter('burst', () => body.n);
  }

  @WithLock('crew-run:{0.crewId}', { waitMs: 0 })
  @SubscribeMessage('crew.run')
  run(@MessageBody() body: { crewId: string }, @ConnectedSocket() client: Socket): Promise<{ tenant: string; user: unknown }> {
    const tenant = this.core.tenants.current() ?? '(none)';
    return probe.enter(`run:${tenant}:${body.crewId}`, () => ({ tenant, user: client.data.user?.id }));
  }

  @WithLock('crew-queue:{0.crewId}', { waitMs: 20_000 })
  @SubscribeMessage('crew.queue')
  queue(@MessageBody() body: { crewId: string; n: number }): Promise<number> {
    return probe.enter(`queue:${body.crewId}`, () => body.n);
  }

  @TenantOptional()
  @SubscribeMessage('ping')
  ping(): string {
    return 'pong';
  }
}

/** Handlers with neither @RateLimit nor @WithLock: only tenancy.required may refuse them. */
@WebSocketGateway()
class TenantGateway {
  @SubscribeMessage('whoami')
  whoami(): string {
    return 'me';
  }

  @TenantOptional()
  @SubscribeMessage('optional')
  optional(): string {
    return 'any';
  }
}

/** Counts a socket by the API key of its handshake, through the hook @nestjs/throttler users know. */
@Injectable()
class ApiKeyRateLimitGuard extends RateLimitGuard {
  protected override async getTracker(request: ContextRequest, rule: RateLimitRule, context: ExecutionContext): Promise<string> {
    if (context.getType() === 'ws') return context.switchToWs().getClient<Socket>().handshake.auth.apiKey;
    return super.getTracker(request, rule, context);
  }
}

/** What a message got back: its acknowledgement, or the `exception` event Nest emits for a refusal. */
type Answer = { ack: unknown } | { exception: Record<string, unknown> };

async function bootGateway(options: CoordinationModuleOptions, guard = RateLimitGuard): Promise<{ app: INestApplication; url: string; close(): Promise<void> }> {
  const booted = await bootApp(options, {
    imports: [CoordinationWebSocketsModule],
    providers: [CrewGateway, { provide: APP_GUARD, useClass: guard }],
  });
  await booted.app.listen(0, '127.0.0.1');
  const { port } = booted.app.getHttpServer().address() as AddressInfo;
  return { app: booted.app, url: `http://127.0.0.1:${port}`, close: () => booted.close() };
}

const sockets: ClientSocket[] = [];

async function connect(url: string, options: { headers?: Record<string, string>; auth?: Record<string, string> } = {}): Promise<ClientSocket> {
  const socket = io(url, { transports: ['websocket'], extraHeaders: options.headers, auth: options.auth, reconnection: false });
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return socket;
}

/**
 * Sends one message and waits for its acknowledgement or for the refusal Nest emits as
 * `exception` (one message in flight per socket: a refusal names no message). Fails after 15 s.
 */
function ask(socket: ClientSocket, event: string, data: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const onException = (exception: Record<string, unknown>) => {
      clearTimeout(timer);
      resolve({ exception });
    };
    const timer = setTimeout(() => {
      socket.off('exception', onException);
      reject(new Error(`timed out after 15000 ms waiting for an answer to ${event}`));
    }, 15_000);
    socket.once('exception', onException);
    socket.emit(event, data, (ack: unknown) => {
      clearTimeout(timer);
      socket.off('exception', onException);
      resolve({ ack });
    });
  });
}

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.disconnect();
});

describe.each(DRIVERS)('WebSocket gateway on $name', (driver) => {
  let url: string;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ url, close } = await bootGateway({ ...driver.options(), tenancy: { required: true } }));
  });
  afterAll(() => close());
  beforeEach(() => probe.reset());

  it('answers a message over its limit with the WsException payload { status, code: E_RATE_LIMITED, message, retryAfterMs, ... }', async () => {
    const socket = await connect(url, { headers: { 'x-tenant-id': 'acme' }, auth: { user: 'ada' } });
    for (let i = 0; i < 2; i++) expect(await ask(socket, 'crew.subscribe', { crewId: 'c1' })).toEqual({ ack: { crewId: 'c1', tenant: 'acme' } });
    const denied = await ask(socket, 'crew.subscribe', { crewId: 'c1' });
    expect(denied).toEqual({
      exception: {
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
    const { retryAfterMs, retryAfterSeconds } = (denied as { exception: { retryAfterMs: number; retryAfterSeconds: number } }).exception;
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(MINUTE);
    expect(retryAfterSeconds).toBe(Math.ceil(retryAfterMs / 1000));
    expect(probe.count('subscribe:acme:c1')).toBe(2);
    // The same user on another socket of the same tenant shares the count.
    const again = await connect(url, { headers: { 'x-tenant-id': 'acme' }, auth: { user: 'ada' } });
    expect(await ask(again, 'crew.subscribe', { crewId: 'c1' })).toMatchObject({ exception: { code: 'E_RATE_LIMITED' } });
  });

  it("reads the tenant from the handshake (header, else auth.tenantId) and counts each tenant apart", async () => {
    const acme = await connect(url, { headers: { 'x-tenant-id': 'acme' }, auth: { user: 'shared' } });
    for (let i = 0; i < 2; i++) expect(await ask(acme, 'crew.subscribe', { crewId: 'c2' })).toEqual({ ack: { crewId: 'c2', tenant: 'acme' } });
    expect(await ask(acme, 'crew.subscribe', { crewId: 'c2' })).toMatchObject({ exception: { code: 'E_RATE_LIMITED' } });
    // A browser cannot set handshake headers: auth.tenantId names the tenant instead.
    const globex = await connect(url, { auth: { user: 'shared', tenantId: 'globex' } });
    expect(await ask(globex, 'crew.subscribe', { crewId: 'c2' })).toEqual({ ack: { crewId: 'c2', tenant: 'globex' } });
  });

  it('refuses a message without the required tenant (E_TENANT_REQUIRED) or with a malformed one (E_TENANT_INVALID); @TenantOptional() passes', async () => {
    const none = await connect(url, { auth: { user: 'ada' } });
    const missing = await ask(none, 'crew.subscribe', { crewId: 'c3' });
    expect(missing).toMatchObject({ exception: { status: 'error', code: 'E_TENANT_REQUIRED' } });
    expect((missing as { exception: { message: string } }).exception.message).toMatch(/CrewGateway\.subscribe.*auth\.tenantId/);
    const bad = await connect(url, { auth: { user: 'ada', tenantId: 'ac*me' } });
    expect(await ask(bad, 'crew.subscribe', { crewId: 'c3' })).toMatchObject({ exception: { code: 'E_TENANT_INVALID' } });
    expect(probe.count('subscribe:(none):c3')).toBe(0);
    expect(await ask(none, 'ping', {})).toEqual({ ack: 'pong' });
  });

  it('@WithLock: a message while another holds the lock is E_LOCK_TIMEOUT (key from the message body, tenant from the handshake)', async () => {
    const first = await connect(url, { headers: { 'x-tenant-id': 'acme' }, auth: { user: 'ada' } });
    const second = await connect(url, { headers: { 'x-tenant-id': 'acme' }, auth: { user: 'bob' } });
    const globex = await connect(url, { headers: { 'x-tenant-id': 'globex' }, auth: { user: 'hank' } });
    probe.hold('run:acme:c4');
    const held = ask(first, 'crew.run', { crewId: 'c4' });
    await until(() => probe.inside('run:acme:c4'), { timeoutMs: 10_000, message: 'the first run inside its lock' });

    expect(await ask(second, 'crew.run', { crewId: 'c4' })).toEqual({
      exception: { status: 'error', code: 'E_LOCK_TIMEOUT', message: expect.stringContaining('crew-run:c4'), key: 'crew-run:c4', tenant: 'acme', waitedMs: expect.any(Number) },
    });
    expect(await ask(globex, 'crew.run', { crewId: 'c4' })).toEqual({ ack: { tenant: 'globex', user: 'hank' } });
    probe.release('run:acme:c4');
    expect(await held).toEqual({ ack: { tenant: 'acme', user: 'ada' } });
    expect(await ask(second, 'crew.run', { crewId: 'c4' })).toEqual({ ack: { tenant: 'acme', user: 'bob' } });
  });

  it('parallel messages over a limit of 5: exactly 5 admitted, every other one refused without running', async () => {
    const socket = await connect(url, { headers: { 'x-tenant-id': 'acme' }, auth: { user: 'parallel' } });
    const acks: unknown[] = [];
    const refusals: Array<Record<string, unknown>> = [];
    socket.on('exception', (exception: Record<string, unknown>) => refusals.push(exception));
    for (let n = 0; n < 20; n++) socket.emit('crew.burst', { n }, (ack: unknown) => acks.push(ack));
    await until(() => acks.length + refusals.length === 20, { timeoutMs: 15_000, message: () => `20 answers (got ${acks.length} acks, ${refusals.length} refusals)` });
    expect(acks).toHaveLength(5);
    expect(refusals.every((r) => r.code === 'E_RATE_LIMITED')).toBe(true);
    expect(probe.count('burst')).toBe(5);
  });

  it('@WithLock: parallel messages on one crew run one at a time, and every one runs', async () => {
    const clients = await Promise.all(Array.from({ length: 6 }, (_, i) => connect(url, { headers: { 'x-tenant-id': 'acme' }, auth: { user: `u${i}` } })));
    const answers = await Promise.all(clients.map((client, n) => ask(client, 'crew.queue', { crewId: 'c5', n })));
    expect(answers.map((a) => ('ack' in a ? a.ack : a)).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(probe.maxActive).toBe(1);
  });
});

describe('WebSocket contexts: options and boot', () => {
  it('tenancy.resolvers.ws names the tenant from the socket', async () => {
    const { url, close } = await bootGateway({
      driver: 'memory',
      tenancy: { required: true, resolvers: { ws: (client: Socket) => client.data.user?.id?.split('@')[1] } },
    });
    try {
      const socket = await connect(url, { headers: { 'x-tenant-id': 'ignored' }, auth: { user: 'ada@initech' } });
      expect(await ask(socket, 'crew.subscribe', { crewId: 'c6' })).toEqual({ ack: { crewId: 'c6', tenant: 'initech' } });
      const none = await connect(url, { auth: { user: 'ada' } });
      expect(await ask(none, 'crew.subscribe', { crewId: 'c6' })).toMatchObject({ exception: { code: 'E_TENANT_REQUIRED', message: expect.stringMatching(/tenancy\.resolvers\.ws/) } });
    } finally {
      await close();
    }
  });

  it('a guard subclass counts sockets by what its getTracker returns (the handshake API key here)', async () => {
    const { url, close } = await bootGateway({ driver: 'memory' }, ApiKeyRateLimitGuard);
    try {
      const ada = await connect(url, { auth: { user: 'ada', apiKey: 'key-1' } });
      const bob = await connect(url, { auth: { user: 'bob', apiKey: 'key-1' } });
      const cleo = await connect(url, { auth: { user: 'cleo', apiKey: 'key-2' } });
      for (let i = 0; i < 2; i++) expect(await ask(ada, 'crew.subscribe', { crewId: 'c7' })).toMatchObject({ ack: { crewId: 'c7' } });
      expect(await ask(bob, 'crew.subscribe', { crewId: 'c7' })).toMatchObject({ exception: { code: 'E_RATE_LIMITED' } });
      expect(await ask(cleo, 'crew.subscribe', { crewId: 'c7' })).toMatchObject({ ack: { crewId: 'c7' } });
      // No API key: the guard's own error reaches the client with its code, not as "Internal server error".
      const keyless = await connect(url, { auth: { user: 'dan' } });
      expect(await ask(keyless, 'crew.subscribe', { crewId: 'c7' })).toMatchObject({
        exception: { status: 'error', code: 'E_INVALID_ARGUMENT', message: expect.stringMatching(/user scope of rate-limit rule "user" on CrewGateway\.subscribe/) },
      });
    } finally {
      await close();
    }
  });

  it('throws a CoordinationWsException: a WsException with the body, the library error as its cause', () => {
    const cause = new LockTimeoutError('crew-run:c1', 0, 'acme');
    const exception = new CoordinationWsException({ code: cause.code, message: cause.message }, cause);
    expect(exception).toBeInstanceOf(WsException);
    expect(exception.getError()).toEqual({ status: 'error', code: 'E_LOCK_TIMEOUT', message: cause.message });
    expect(exception.cause).toBe(cause);
  });

  it('fails the boot when a gateway handler has @RateLimit or @WithLock but CoordinationWebSocketsModule is missing, naming it', async () => {
    const error = await bootFailure({ imports: [CoordinationModule.forRoot({ driver: 'memory' })], providers: [CrewGateway] });
    expect(error.message).toMatch(/CrewGateway\.subscribe \(@RateLimit\) is a WebSocket message handler: import CoordinationWebSocketsModule from '@nest-coordination\/core\/websockets'/);
    expect(error.message).toMatch(/CrewGateway\.run \(@WithLock\)/);
    expect(error.message).not.toMatch(/tenancy\.required/);
  });

  it('under tenancy.required, fails the boot for every gateway handler but the @TenantOptional() ones, naming the reason', async () => {
    const error = await bootFailure({ imports: [CoordinationModule.forRoot({ driver: 'memory', tenancy: { required: true } })], providers: [TenantGateway, CrewGateway] });
    expect(error.message).toMatch(/TenantGateway\.whoami \(tenancy\.required\) is a WebSocket message handler: import CoordinationWebSocketsModule/);
    expect(error.message).toMatch(/CrewGateway\.subscribe \(@RateLimit, tenancy\.required\)/);
    expect(error.message).toMatch(/CrewGateway\.run \(@WithLock, tenancy\.required\)/);
    expect(error.message).not.toMatch(/\.ping|\.optional/);
  });
});
