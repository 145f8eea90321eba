import 'reflect-metadata';
import type { TestingModule } from '@nestjs/testing';
import { EventBus, ManualClock, RateLimitService, type CoordinationModuleOptions, type RateLimitAlgorithm } from '@nest-coordination/core';
import { RATE_LIMIT_STORE, type RateLimitStore } from '../support/internals.js';
import { bootModule } from '../support/boot.js';
import { uniquePrefix, type DriverCase } from '../support/drivers.js';

/**
 * The same assertions for every driver. Time moves only through `advance(ms)`, a ManualClock
 * injected into the module: the memory store reads it, and the Redis scripts take its time as
 * an argument (they read the server's TIME only when no clock is configured), so every
 * assertion is exact and no test sleeps. Windows are long (a minute) because Redis still
 * expires keys in real time: a key must never expire while a test still relies on it.
 */
export interface RateLimitHarness {
  service: RateLimitService;
  store: RateLimitStore;
  events: EventBus;
  moduleRef: TestingModule;
  /** The module's clock; undefined on a harness left on the default clock (server TIME on Redis). */
  clock?: ManualClock;
  advance(ms: number): void;
  primary: 'redis' | 'memory';
}

export async function createRateLimitHarness(
  driver: DriverCase, extra: CoordinationModuleOptions = {}, { manualClock = true }: { manualClock?: boolean } = {},
): Promise<RateLimitHarness> {
  const clock = manualClock ? new ManualClock(1_700_000_000_000) : undefined;
  const { moduleRef } = await bootModule({
    ...driver.options(),
    prefix: uniquePrefix('rl'),
    health: { pingIntervalMs: 0 },
    ...(clock ? { clock } : {}),
    ...extra,
  });
  return {
    moduleRef,
    service: moduleRef.get(RateLimitService),
    store: moduleRef.get<RateLimitStore>(RATE_LIMIT_STORE),
    events: moduleRef.get(EventBus),
    clock,
    advance: (ms) => {
      if (!clock) throw new Error('this harness runs on the default clock: time cannot be moved');
      clock.advance(ms);
    },
    primary: driver.name === 'memory' ? 'memory' : 'redis',
  };
}

export const ALL_ALGORITHMS: RateLimitAlgorithm[] = ['sliding-window', 'sliding-window-approx', 'fixed-window', 'token-bucket', 'gcra'];

let seq = 0;
/** A key no other test of the run uses: `<label>:<n>`. */
export const uniqueKey = (label: string): string => `${label}:${++seq}`;
/** A policy name no other test of the run uses (names allow no `:`). */
export const uniqueName = (label: string): string => `${label}${++seq}`;
