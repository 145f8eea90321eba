// Nest applications guarded by the real @nestjs/throttler ThrottlerGuard, on its own in-memory
// storage (the reference) or on CoordinationThrottlerStorage: the same controllers, throttlers and
// tracker, so that only the storage differs.
import { Controller, Get, Injectable, type Type } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import request from 'supertest';
import type { CoordinationModuleOptions } from '@nest-coordination/core';
import { withCoordinationStorage } from '@nest-coordination/core/throttler';
import { bootApp, type BootedApp } from '../support/boot.js';
import { SkipThrottle, Throttle, ThrottlerGuard, ThrottlerModule } from './nestjs-throttler.js';

/** Two named throttlers: `default` (its headers have no suffix) with a block, `long` with the default block (its ttl). */
export const THROTTLERS = [
  { name: 'default', ttl: 10_000, limit: 3, blockDuration: 30_000 },
  { name: 'long', ttl: 60_000, limit: 5 },
];

@Controller()
export class PagesController {
  @Get('page')
  page() {
    return 'page';
  }

  @Throttle({ default: { limit: 2, ttl: 20_000 } })
  @Get('tight')
  tight() {
    return 'tight';
  }

  @Throttle({ default: { limit: 2, ttl: 20_000, blockDuration: 0 } })
  @Get('unblocked')
  unblocked() {
    return 'unblocked';
  }

  @SkipThrottle({ long: true })
  @Get('short-only')
  shortOnly() {
    return 'short-only';
  }

  @SkipThrottle({ default: true, long: true }) // @SkipThrottle() alone skips only the throttler named `default`
  @Get('free')
  free() {
    return 'free';
  }
}

export const ROUTES = ['page', 'tight', 'unblocked', 'short-only', 'free'] as const;

/** Tracks clients by their `x-client` header (every test request comes from 127.0.0.1). */
@Injectable()
export class ClientThrottlerGuard extends ThrottlerGuard {
  protected override async getTracker(req: Record<string, any>): Promise<string> {
    return String(req.headers['x-client'] ?? req.ip);
  }
}

const guard = { provide: APP_GUARD, useClass: ClientThrottlerGuard };

/** @nestjs/throttler with its own in-memory storage (no CoordinationModule). */
export function referenceApp(controllers: Type[] = [PagesController]): Promise<BootedApp> {
  return bootApp(null, { imports: [ThrottlerModule.forRoot({ throttlers: THROTTLERS })], controllers, providers: [guard] });
}

/**
 * The same, switched to CoordinationThrottlerStorage in one line, on a CoordinationModule of
 * `options`. Unless `options` sets its own `rateLimit`, a generous `timeoutMs`: on a loaded
 * machine a script can take longer than the default 250 ms, and only the outage tests are about
 * the fallback that answers then.
 */
export function coordinatedApp(options: CoordinationModuleOptions, controllers: Type[] = [PagesController], throttlers = THROTTLERS): Promise<BootedApp> {
  return bootApp(
    { health: { pingIntervalMs: 0 }, rateLimit: { timeoutMs: 10_000 }, ...options },
    { imports: [ThrottlerModule.forRootAsync(withCoordinationStorage({ throttlers }))], controllers, providers: [guard] },
  );
}

/** The headers ThrottlerGuard sets, for both throttlers (absent ones left out). */
const HEADERS = ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'retry-after'].flatMap((h) => [h, `${h}-long`]);

export interface Answer {
  status: number;
  headers: Record<string, string>;
}

/** GET /`route` as `client` (and `tenant`, when given): the status and the throttler's headers. */
export async function get(app: BootedApp, route: string, client: string, tenant?: string): Promise<Answer> {
  let call = request(app.app.getHttpServer()).get(`/${route}`).set('x-client', client);
  if (tenant !== undefined) call = call.set('x-tenant-id', tenant);
  const response = await call;
  const headers: Record<string, string> = {};
  for (const name of HEADERS) if (response.headers[name] !== undefined) headers[name] = String(response.headers[name]);
  return { status: response.status, headers };
}
