import 'reflect-metadata';
import { Injectable, type CanActivate, type ExecutionContext, type INestApplication } from '@nestjs/common';
import { IdempotencyService, ManualClock, type CoordinationModuleOptions } from '@nest-coordination/core';
// Internals of the idempotency capability, for tests that watch the store below IdempotencyService.
import { IDEMPOTENCY_STORE, type IdempotencyStore } from '../../libs/coordination/src/idempotency/idempotency-store.interface.js';
import { MemoryIdempotencyStore } from '../../libs/coordination/src/idempotency/memory-idempotency.store.js';
import { RedisIdempotencyStore } from '../../libs/coordination/src/idempotency/redis-idempotency.store.js';
import { SHARED_TENANT } from '../../libs/coordination/src/keys/key-builder.js';
import { bootApp, bootModule, type BootExtras, type BootedModule } from '../support/boot.js';
import { uniquePrefix, type DriverCase } from '../support/drivers.js';
import { CoordinationCore } from '../support/internals.js';

/** `x-user` → request.user.id (a stand-in for an auth guard), for the HTTP suites' controllers. */
@Injectable()
export class UserGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string>; user?: { id: string } }>();
    if (req.headers['x-user']) req.user = { id: req.headers['x-user'] };
    return true;
  }
}

/** The part of a response a handler with `@Res({ passthrough: true })` uses in these suites. */
export interface ResponseLike {
  setHeader(name: string, value: string): void;
}

/** Generous bound for what must happen (a wait to begin, a signal to abort); nothing is timed. */
export const ARRIVAL_MS = 10_000;

/** Calls of each store method since boot. */
export type StoreCalls = Record<keyof IdempotencyStore, number>;

/** One module instance with its IdempotencyService, the store calls counted. */
export interface IdempotencyTestApp {
  readonly booted: BootedModule;
  readonly core: CoordinationCore;
  readonly idempotency: IdempotencyService;
  /** The module's clock: the memory store's time (Redis keeps its own). */
  readonly clock: ManualClock;
  readonly calls: StoreCalls;
  /** `idempotency_requests_total{outcome}`. */
  outcomes(outcome: string): number;
  /** The record key of `key` in `tenant` (default the shared namespace) and `namespace`. */
  recordKey(key: string, tenant?: string, namespace?: string): string;
  close(): Promise<void>;
}

/** The store the capability would choose, wrapped to count calls. */
function countingStore(core: CoordinationCore, calls: StoreCalls): IdempotencyStore {
  const store: IdempotencyStore = core.connection ? new RedisIdempotencyStore(core.connection) : new MemoryIdempotencyStore(core.clock);
  return {
    begin: (...args) => ((calls.begin += 1), store.begin(...args)),
    renew: (...args) => ((calls.renew += 1), store.renew(...args)),
    complete: (...args) => ((calls.complete += 1), store.complete(...args)),
    abandon: (...args) => ((calls.abandon += 1), store.abandon(...args)),
  };
}

/**
 * Boots a module (or, with `extras.controllers`, an application) on `driver`: a unique prefix,
 * health pings off, a ManualClock, the store calls counted.
 *
 * @example
 * const app = await idempotencyApp(driver, { idempotency: { leaseMs: 1_000 } });
 * await app.idempotency.run('k', () => 1);
 */
export async function idempotencyApp(
  driver: DriverCase, options: CoordinationModuleOptions = {}, extras: BootExtras & { http?: boolean; configure?(app: INestApplication): void } = {},
): Promise<IdempotencyTestApp> {
  const clock = new ManualClock(1_700_000_000_000);
  const calls: StoreCalls = { begin: 0, renew: 0, complete: 0, abandon: 0 };
  const moduleOptions = { ...driver.options(), prefix: uniquePrefix('idem'), health: { pingIntervalMs: 0 }, clock, ...options };
  const overrides = [{ token: IDEMPOTENCY_STORE, inject: [CoordinationCore], factory: (core: CoordinationCore) => countingStore(core, calls) }];
  const bootExtras = { ...extras, overrides: [...overrides, ...(extras.overrides ?? [])] };
  const booted = extras.http ? await bootApp(moduleOptions, bootExtras) : await bootModule(moduleOptions, bootExtras);
  const core = booted.core;
  return {
    booted,
    core,
    idempotency: booted.get(IdempotencyService),
    clock,
    calls,
    outcomes: (outcome) => core.metrics.counter('idempotency_requests_total', { outcome }),
    recordKey: (key, tenant = SHARED_TENANT, namespace = '') => core.keys.key(tenant, 'idempotency', `${namespace}\n${key}`),
    close: () => booted.close(),
  };
}

/** A promise and the function that resolves it: a handler held until the test lets it go. */
export function gate(): { open(): void; opened: Promise<void> } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}
