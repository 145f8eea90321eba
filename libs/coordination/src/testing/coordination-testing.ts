import type { ModuleMetadata, Type } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { CoordinationModule } from '../coordination.module.js';
import type { CoordinationModuleOptions } from '../coordination-options.js';
import { ManualClock } from '../core/clock.js';
import { CoordinationCore } from '../core/coordination-core.js';

/** Options of `createCoordinationTestingModule()`: the module under test plus coordination options. */
export interface CoordinationTestingOptions extends Pick<ModuleMetadata, 'imports' | 'providers' | 'controllers'> {
  /**
   * Options of the CoordinationModule the testing module registers. Default: the memory driver
   * (no Redis), no tenancy requirement. Pass `connection` to test against a real Redis.
   */
  coordination?: CoordinationModuleOptions;
  /**
   * The clock of the memory stores (lock expiry, rate-limit windows, violation times). Default
   * a `ManualClock` at 1_700_000_000_000, so time only moves when the test calls `advance()`.
   * Pass `'system'` for real time.
   */
  clock?: ManualClock | 'system';
  /** Keep Nest's logger (default: silent, so test output shows only the tests'). */
  logs?: boolean;
}

/** What `createCoordinationTestingModule()` returns: the initialised module, its clock, and shortcuts. */
export interface CoordinationTestingContext {
  readonly moduleRef: TestingModule;
  /** The ManualClock the memory stores run on (undefined with `clock: 'system'`). */
  readonly clock: ManualClock | undefined;
  /** `moduleRef.get(type)`: a service of the module (LockService, RateLimitService, EventBus, your own). */
  get<T>(type: Type<T> | string | symbol): T;
  /** Runs `fn` as `tenant` (what the tenant middleware does for a request), for services that read the tenant from context. */
  asTenant<T>(tenant: string, fn: () => T): T;
  /** Shuts the module down (releases held locks, completes event streams). */
  close(): Promise<void>;
}

const SILENT = { log() {}, error() {}, warn() {}, debug() {}, verbose() {} };

/**
 * Builds and initialises a Nest testing module around your providers with CoordinationModule on
 * the memory driver: the same contract as Redis, no server to start, and a ManualClock so
 * windows and expiries are deterministic. Each call gets its own state.
 *
 * @example
 * import { createCoordinationTestingModule } from '@nest-coordination/core/testing';
 *
 * const t = await createCoordinationTestingModule({ providers: [CrewRunner] });
 * const limits = t.get(RateLimitService);
 * await limits.consume('user:1', { limit: 1, windowMs: 1_000, tenant: 'acme' });
 * expect((await limits.consume('user:1', { limit: 1, windowMs: 1_000, tenant: 'acme' })).allowed).toBe(false);
 * t.clock!.advance(1_000); // the window has passed
 * await t.close();
 */
export async function createCoordinationTestingModule(options: CoordinationTestingOptions = {}): Promise<CoordinationTestingContext> {
  const clock = options.clock === 'system' ? undefined : (options.clock ?? new ManualClock(1_700_000_000_000));
  const coordination: CoordinationModuleOptions = { ...(clock ? { clock } : {}), ...options.coordination };
  const builder = Test.createTestingModule({
    imports: [CoordinationModule.forRoot(coordination), ...(options.imports ?? [])],
    providers: options.providers ?? [],
    controllers: options.controllers ?? [],
  });
  if (!options.logs) builder.setLogger(SILENT);
  const moduleRef = await builder.compile();
  await moduleRef.init();
  const core = moduleRef.get(CoordinationCore);
  return {
    moduleRef,
    clock,
    get: <T>(type: Type<T> | string | symbol) => moduleRef.get<T>(type as Type<T>),
    asTenant: (tenant, fn) => core.tenants.run(tenant, fn),
    close: () => moduleRef.close(),
  };
}
