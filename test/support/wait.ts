import { once, type EventEmitter } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * How long and how often `until()` polls. The timeout bounds a broken behaviour so it fails
 * with `message` instead of hanging the suite; it is not an assertion on speed, so pick it
 * generously.
 */
export interface UntilOptions {
  timeoutMs: number;
  /** Pause between two checks; default 20 ms. */
  intervalMs?: number;
  /** What was awaited, for the failure; a function is called at the timeout, so it can show the state then. */
  message: string | (() => string);
}

type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

/**
 * Polls `condition` until it returns a truthy value and resolves with that value. Throws
 * `timed out after <timeoutMs> ms waiting for <message>` when the time is up, also when a
 * single check hangs (a probe against a paused server). An error thrown by `condition`
 * fails at once: catch inside `condition` what should count as "not yet".
 *
 * @example
 * await until(() => connection.health().status === 'up', { timeoutMs: 15_000, message: 'health up' });
 * const lock = await until(() => heldLock('crew-run:a'), { timeoutMs: 5_000, message: 'the run to hold its lock' });
 */
export async function until<T>(condition: () => T | Promise<T>, options: UntilOptions): Promise<Truthy<T>> {
  const { timeoutMs, intervalMs = 20 } = options;
  const deadline = Date.now() + timeoutMs;
  const failure = () => timedOut(timeoutMs, options.message);
  for (;;) {
    const value = await within(Promise.resolve(condition()), Math.max(0, deadline - Date.now()), failure);
    if (value) return value as Truthy<T>;
    if (Date.now() >= deadline) throw failure();
    await delay(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

/**
 * Resolves with the arguments of the next `type` event of `target` (an EventTarget such as an
 * AbortSignal, or an EventEmitter); rejects with `message` after `timeoutMs`. The listener is
 * attached at the call, so call it before the action that fires the event and await it after
 * (an event that fired before the call is missed: an AbortSignal aborts only once).
 *
 * @example
 * const aborted = nextEvent(lock.signal, 'abort', { timeoutMs: 5_000, message: 'the lock signal to abort at expiry' });
 * await server.kill();
 * await aborted;
 */
export function nextEvent(
  target: EventTarget | EventEmitter, type: string, options: Omit<UntilOptions, 'intervalMs'>,
): Promise<unknown[]> {
  const stop = new AbortController();
  const event = once(target as EventEmitter, type, { signal: stop.signal });
  const awaited = within(event, options.timeoutMs, () => timedOut(options.timeoutMs, options.message)).finally(() => stop.abort());
  awaited.catch(() => undefined); // rejected before the test awaits it: not an unhandled rejection
  return awaited;
}

/**
 * Waits `ms` and nothing else. Only for letting time pass on purpose (proving that nothing
 * happens meanwhile, holding a resource for a while); to wait for something, use `until()`
 * or `nextEvent()`. Say at the call why time has to pass.
 */
export function sleep(ms: number): Promise<void> {
  return delay(ms);
}

/** The error `promise` rejects with; fails the test if it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** `promise`, or `failure()` thrown once `ms` have passed first; leaves no timer behind. */
async function within<T>(promise: Promise<T>, ms: number, failure: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(failure()), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function timedOut(timeoutMs: number, message: UntilOptions['message']): Error {
  return new Error(`timed out after ${timeoutMs} ms waiting for ${typeof message === 'function' ? message() : message}`);
}
