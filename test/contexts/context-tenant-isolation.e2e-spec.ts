import 'reflect-metadata';
import type { ExecutionContext } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import { InterceptorsConsumer } from '@nestjs/core/interceptors/interceptors-consumer.js';
import { lastValueFrom, type Observable } from 'rxjs';
import { ContextExceptions, RateLimit, RateLimitGuard, TenantResolver, type CoordinationModuleOptions } from '@nest-coordination/core';
import { CoordinationMicroservicesModule } from '@nest-coordination/core/microservices';
import { CoordinationWebSocketsModule } from '@nest-coordination/core/websockets';
import { TenantInterceptor } from '../../libs/coordination/src/tenancy/tenant.interceptor.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { DRIVERS } from '../support/drivers.js';

// A socket message or a microservice message that names no tenant is neither counted nor run in
// a tenant left in the async context by whatever opened its connection: the real guard and
// interceptor, on contexts built as Nest builds them (ExecutionContextHost), every driver.

class Handler {
  @RateLimit({ scope: 'user', limit: 1, windowMs: 60_000 })
  onMessage(): void {}

  @RateLimit({ scope: 'tenant', limit: 100, windowMs: 60_000 })
  perTenant(): void {}
}

const client = { handshake: { address: '10.0.0.9', headers: {} }, data: { user: { id: 'ada' } } };

function contextOf(type: 'ws' | 'rpc', handler: () => void = Handler.prototype.onMessage): ExecutionContext {
  const args = type === 'ws' ? [client, {}] : [{ user: { id: 'ada' } }, {}];
  const context = new ExecutionContextHost(args, Handler, handler);
  context.setType(type);
  return context;
}

async function outcome(promise: Promise<unknown>): Promise<string> {
  return promise.then(() => 'allowed', (error: { getError?(): { code?: string } }) => error.getError?.()?.code ?? String(error));
}

describe.each(DRIVERS)('tenantless messages on $name', (driver) => {
  let booted: BootedModule;
  const boot = async (options: CoordinationModuleOptions = {}) => {
    booted = await bootModule({ ...driver.options(), ...options }, { imports: [CoordinationWebSocketsModule, CoordinationMicroservicesModule], providers: [RateLimitGuard] });
    return booted;
  };
  afterEach(() => booted?.close());

  it.each(['ws', 'rpc'] as const)('%s: the guard counts a message without a tenant outside the tenant left in the async context', async (type) => {
    const { core } = await boot();
    const guard = booted.get(RateLimitGuard);
    // Inside a tenant left in the async context, then outside any: one counter (no tenant), limit 1.
    expect(await core.tenants.run('acme', () => outcome(guard.canActivate(contextOf(type))))).toBe('allowed');
    expect(await outcome(guard.canActivate(contextOf(type)))).toBe('E_RATE_LIMITED');
  });

  it('the interceptor runs a message without a tenant in none, not in the one left in the async context', async () => {
    const { core } = await boot();
    const interceptor = new TenantInterceptor(core, booted.get(TenantResolver), booted.get(ContextExceptions));
    const seen = await core.tenants.run('acme', async () => {
      const out = await new InterceptorsConsumer().intercept([interceptor], [client, {}], new Handler(), Handler.prototype.onMessage, async () => core.tenants.current() ?? '(none)', 'ws');
      return lastValueFrom(out as Observable<string>);
    });
    expect(seen).toBe('(none)');
  });

  it('resolves the tenant of a message once per guard call, tenant-scope rules included', async () => {
    let calls = 0;
    await boot({ tenancy: { resolvers: { ws: () => (calls++, 'acme') } } });
    expect(await outcome(booted.get(RateLimitGuard).canActivate(contextOf('ws', Handler.prototype.perTenant)))).toBe('allowed');
    expect(calls).toBe(1);
  });
});
