import { setTimeout as delay } from 'node:timers/promises';

/**
 * How a consumer's loop waits for its handlers: `wait()` resolves at the next `wake()` (a handler
 * finished, a claim pass is due, the consumer stops), at once when one came since the last
 * wait. No timer: a loop that waits for room under a backlog costs a promise per wait, not a
 * timer per entry.
 *
 * @example
 * const wakeup = new Wakeup();
 * handler().finally(() => wakeup.wake());
 * await wakeup.wait(); // room again
 */
export class Wakeup {
  private resolve?: () => void;
  private woken = false;

  wake(): void {
    const resolve = this.resolve;
    this.resolve = undefined;
    if (resolve) resolve();
    else this.woken = true;
  }

  wait(): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => (this.resolve = resolve));
  }
}

/**
 * Waits `ms`, or less when `signal` aborts (the consumer stops); never rejects. For the backoff
 * after a failure: nothing else ends it early (a handler that finishes is no sign that Redis is back).
 *
 * @example
 * await pause(backoffDelay(attempt, 100, 5_000), stopping.signal);
 */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return delay(ms, undefined, { signal }).catch(() => undefined);
}

/**
 * A task run every `everyMs` (on an unref'd timer) and on demand, one run at a time: a call
 * while a run is in flight joins it. Failures of timed runs go to `onTimedFailure` (dropped
 * without one); a call on demand gets them.
 *
 * @example
 * const renewals = new PeriodicTask(() => renewHeldEntries(), (error) => observer.bestEffortFailed('renew the held entries', error));
 * renewals.start(claimIdleMs / 3);
 * await renewals.run(); // before an idle-claim pass
 * renewals.stop();
 */
export class PeriodicTask {
  private timer?: NodeJS.Timeout;
  private running: Promise<void> | null = null;

  constructor(
    private readonly task: () => Promise<void>,
    private readonly onTimedFailure: (error: unknown) => void = () => undefined,
  ) {}

  start(everyMs: number): void {
    this.timer = setInterval(() => void this.run().catch(this.onTimedFailure), everyMs);
    this.timer.unref();
  }

  run(): Promise<void> {
    return (this.running ??= this.task().finally(() => (this.running = null)));
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
