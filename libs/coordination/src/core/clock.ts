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
