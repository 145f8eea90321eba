import { performance } from 'node:perf_hooks';

/** A source of wall-clock milliseconds; injectable so that tests can move time. */
export interface Clock {
  now(): number;
}

/**
 * The wall clock (`Date.now()`), the module's clock unless the `clock` option gives another.
 *
 * @example
 * CoordinationModule.forRoot({ clock: process.env.NODE_ENV === 'test' ? new ManualClock(0) : systemClock });
 */
export const systemClock: Clock = { now: () => Date.now() };

/**
 * The time source for local deadlines (a lease this instance believes it holds until): monotonic
 * (`performance.now()`) when the module runs on the system clock, so that a wall-clock step (NTP)
 * cannot stretch a deadline past the lease in Redis; the injected clock otherwise (a test's
 * ManualClock moves deadlines by hand). Only differences of its readings mean anything.
 *
 * @example
 * const now = deadlineClock(core.clock);
 * const expiresAt = now() + leaseMs - driftMs(leaseMs);
 */
export function deadlineClock(clock: Clock): () => number {
  return clock === systemClock ? () => performance.now() : () => clock.now();
}

/**
 * A clock that only moves when told to, for deterministic tests of window boundaries.
 *
 * @example
 * const clock = new ManualClock(1_000);
 * clock.advance(500); // clock.now() === 1_500
 */
export class ManualClock implements Clock {
  constructor(private current = 0) {}
  now(): number {
    return this.current;
  }
  advance(ms: number): void {
    this.current += ms;
  }
  set(ms: number): void {
    this.current = ms;
  }
}
