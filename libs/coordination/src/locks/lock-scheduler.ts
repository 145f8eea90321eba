import { AsyncResource } from 'node:async_hooks';

/** Method the scheduler calls on a due task (a symbol, so it stays off the Lock's public API). */
export const DUE: unique symbol = Symbol('LockScheduler.due');

/** Something the scheduler calls back once its due time has come. */
export interface SchedulerTask {
  /** Runs when due; must not throw (errors are swallowed so one task cannot starve the rest). */
  [DUE](): void;
}

/** Due times are grouped into ticks of this many ms: one timer per tick, however many locks. */
const TICK_MS = 5;
const monotonic = () => performance.now();

/**
 * One timer for every held lock of a LockService (renewals at ~ttl/3, expiry signals), instead
 * of a setTimeout per lock: on the uncontended path a lock is scheduled and cancelled within a
 * round trip, and a Map/Set update is much cheaper than arming and clearing a Node timer.
 *
 * Tasks are bucketed by tick (`TICK_MS`); the one unref'd timer is armed for the earliest
 * non-empty tick. `early` rounds a due time down (renewals: never later than asked), otherwise
 * up (expiry checks: never before the time, and the task re-checks anyway). Runs on the
 * monotonic clock, like the Node timers it replaces.
 *
 * The timer is armed in the async context the scheduler was made in (module init), never in the
 * one of the call that happens to arm it: a due task (a renewal, the abort listeners of an expired
 * lock) must not run inside another request's trace or as its tenant (AsyncLocalStorage).
 *
 * @example
 * const scheduler = new LockScheduler();
 * const task = { [DUE]: () => renew() };
 * scheduler.schedule(task, 1_000, true);
 * scheduler.cancel(task);
 */
export class LockScheduler {
  private readonly buckets = new Map<number, Set<SchedulerTask>>();
  private readonly tickOf = new Map<SchedulerTask, number>();
  private timer?: NodeJS.Timeout;
  private timerTick = Infinity;
  /** The context the timer is armed in (every AsyncLocalStorage's store as at construction). */
  private readonly scope = new AsyncResource('LockScheduler');
  private readonly onTimer = () => this.fire();

  /** (Re)schedules `task` to run in `delayMs`; a task has at most one pending run. */
  schedule(task: SchedulerTask, delayMs: number, early: boolean): void {
    this.cancel(task);
    const at = (monotonic() + Math.max(0, delayMs)) / TICK_MS;
    const tick = early ? Math.floor(at) : Math.ceil(at);
    let bucket = this.buckets.get(tick);
    if (!bucket) this.buckets.set(tick, (bucket = new Set()));
    bucket.add(task);
    this.tickOf.set(task, tick);
    if (tick < this.timerTick) this.arm(tick);
  }

  cancel(task: SchedulerTask): void {
    const tick = this.tickOf.get(task);
    if (tick === undefined) return;
    this.tickOf.delete(task);
    const bucket = this.buckets.get(tick)!;
    bucket.delete(task);
    // An emptied bucket stays armed: the timer fires once for nothing and re-arms; cheaper
    // than scanning for the next tick on every cancel.
    if (bucket.size === 0) this.buckets.delete(tick);
  }

  /** Pending tasks (for tests and shutdown). */
  get size(): number {
    return this.tickOf.size;
  }

  /** Drops every pending task and the timer. */
  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerTick = Infinity;
    this.buckets.clear();
    this.tickOf.clear();
  }

  private arm(tick: number): void {
    clearTimeout(this.timer);
    this.timerTick = tick;
    this.timer = this.scope.runInAsyncScope(startTimer, undefined, this.onTimer, Math.max(0, tick * TICK_MS - monotonic()));
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.timerTick = Infinity;
    const nowTick = Math.floor(monotonic() / TICK_MS);
    const due: SchedulerTask[] = [];
    for (const [tick, bucket] of this.buckets) {
      if (tick > nowTick) continue;
      this.buckets.delete(tick);
      for (const task of bucket) {
        this.tickOf.delete(task);
        due.push(task);
      }
    }
    // Tasks may schedule themselves again; do it after the buckets are settled.
    for (const task of due) {
      try {
        task[DUE]();
      } catch {
        // a task's own error handling failed; the others must still run
      }
    }
    let next = Infinity;
    for (const tick of this.buckets.keys()) if (tick < next) next = tick;
    if (next !== Infinity && next < this.timerTick) this.arm(next);
  }
}

function startTimer(callback: () => void, delayMs: number): NodeJS.Timeout {
  return setTimeout(callback, delayMs);
}
