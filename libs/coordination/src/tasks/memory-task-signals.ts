import { systemClock, type Clock } from '../core/clock.js';
import type { TaskRecord } from './memory-task-record.js';

/**
 * How often waiting workers look at a clock other than the system clock (a ManualClock, moved by
 * a test without telling anyone) for due delayed tasks, ms.
 *
 * @example
 * setTimeout(wake, Math.min(due - clock.now(), DELAY_POLL_MS));
 */
export const DELAY_POLL_MS = 50;

/** The longest timer Node keeps (a longer one fires at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The wake-ups of one MemoryTaskQueue's workers: `wake()` calls each worker (a task may be
 * ready: added, retried, put back) and, while workers wait and a delayed task exists, keeps one
 * timer that wakes them again at its due time: on the system clock it sleeps until then (and is
 * set again sooner when a task due sooner arrives); on any other clock (a ManualClock, which moves
 * without telling anyone) it looks at least every DELAY_POLL_MS.
 *
 * @example
 * const wakeups = new WorkerWakeups(clock, () => delayed.peek()?.due);
 * wakeups.add(worker.pump);
 * wakeups.wake(); // after an add
 */
export class WorkerWakeups {
  private readonly wakers = new Set<() => void>();
  private timer?: NodeJS.Timeout;
  /** The clock time the timer is set for. */
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(private readonly clock: Clock, private readonly nextDue: () => number | undefined) {}

  /** Adds a worker's wake-up and calls it. */
  add(wake: () => void): void {
    this.wakers.add(wake);
    this.wake();
  }

  /** Removes a worker's wake-up; the last one stops the timer. */
  remove(wake: () => void): void {
    this.wakers.delete(wake);
    if (this.wakers.size === 0) this.stop();
  }

  wake(): void {
    for (const wake of [...this.wakers]) wake();
    if (this.wakers.size === 0) return;
    const due = this.nextDue();
    if (due === undefined || (this.timer && this.timerAt <= due)) return;
    this.stop();
    const now = this.clock.now();
    const waitMs = Math.min(Math.max(due - now, 1), this.clock === systemClock ? MAX_TIMER_MS : DELAY_POLL_MS);
    this.timerAt = now + waitMs;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Number.POSITIVE_INFINITY;
      this.wake();
    }, waitMs);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }
}

/**
 * Called with the finished task, or null when it was removed unfinished (cancelled, or the backend closed).
 *
 * @example
 * const watcher: FinishWatcher = (done) => resolve(done && toStored(done));
 */
export type FinishWatcher = (task: TaskRecord | null) => void;

/**
 * Who waits for which task to finish (`waitFor`).
 *
 * @example
 * const unwatch = watchers.watch(task, (done) => resolve(done && toStored(done)));
 * watchers.notify(task, task); // at its completion
 */
export class FinishWatchers {
  private readonly watchers = new Map<TaskRecord, Set<FinishWatcher>>();

  /** Calls `watcher` once `task` finishes or is removed; returns the unwatch. */
  watch(task: TaskRecord, watcher: FinishWatcher): () => void {
    const set = this.watchers.get(task) ?? new Set<FinishWatcher>();
    this.watchers.set(task, set.add(watcher));
    return () => {
      set.delete(watcher);
      if (set.size === 0 && this.watchers.get(task) === set) this.watchers.delete(task);
    };
  }

  notify(task: TaskRecord, outcome: TaskRecord | null): void {
    const set = this.watchers.get(task);
    this.watchers.delete(task);
    for (const watcher of set ?? []) watcher(outcome);
  }

  /** Tells every watcher its task is gone. */
  clear(): void {
    const all = [...this.watchers.values()];
    this.watchers.clear();
    for (const set of all) for (const watcher of set) watcher(null);
  }
}
