import { setMaxListeners } from 'node:events';
import type { Logger } from '@nestjs/common';
import type { Lock } from './lock.js';
import { LockShutdownError } from './lock.errors.js';
import type { ResolvedLockOptions } from './lock.options.js';

/**
 * Graceful shutdown of one LockService, in the order that keeps two holders from overlapping:
 *
 * 1. stop taking new work: from now on `refusal()` answers every acquisition, and waits still
 *    in progress give up (`waits` aborts) and leave their queues, so no lock is handed to an
 *    instance that is going away;
 * 2. abort the `signal` of every held lock (reason: LockShutdownError), locks acquired later too;
 * 3. wait, at most `shutdownGraceMs`, until no lock is held any more: `withLock` sections
 *    release theirs as they return, plain `acquire()` holders release theirs. Renewal goes on
 *    meanwhile, so a lock does not expire under a holder that is winding down;
 * 4. then, for what is still held: a lock under a running section is left to expire by its TTL
 *    (renewal stops; releasing it would let another instance in while the section still runs);
 *    a plain lock is released when `releaseOnShutdown` is on (its holder was told and given the
 *    grace period; nothing shows it is still in use), else left to expire as well.
 *
 * The connection closes after this (CoordinationCore.onApplicationShutdown runs after every
 * beforeApplicationShutdown hook), so the releases of step 3 and 4 still reach Redis.
 *
 * @example
 * const shutdown = new LockShutdown(held, sections, waits, options, logger);
 * await shutdown.run(); // from LockService.beforeApplicationShutdown
 */
export class LockShutdown {
  private begun = false;
  private readonly waits = new AbortController();
  /** Ends the wait of step 3 early, once the last held lock is let go. */
  private drained?: () => void;

  constructor(
    private readonly held: ReadonlySet<Lock>,
    private readonly sections: ReadonlySet<Lock>,
    /** Waits in progress (contended acquisitions); they end when `waitSignal` aborts. */
    private readonly pendingWaits: ReadonlySet<Promise<unknown>>,
    private readonly options: Pick<ResolvedLockOptions, 'shutdownGraceMs' | 'releaseOnShutdown'>,
    private readonly logger: Logger,
  ) {
    // Every waiter listens on waitSignal while it waits, so any number of listeners is normal
    // (a busy lock): no MaxListenersExceededWarning past 10.
    setMaxListeners(0, this.waits.signal);
  }

  /** Aborted when shutdown begins: every wait in progress ends with LockShutdownError. */
  get waitSignal(): AbortSignal {
    return this.waits.signal;
  }

  /** Whether shutdown began: acquisitions are refused from then on. */
  get started(): boolean {
    return this.begun;
  }

  /** The rejection of an acquisition of `key` once shutdown began. */
  refusal(key: string, tenant: string): LockShutdownError {
    return new LockShutdownError(key, tenant, false, this.options.shutdownGraceMs);
  }

  /** The signal reason of a held lock once shutdown began; undefined before. */
  interruption(lock: Lock): LockShutdownError | undefined {
    return this.begun ? new LockShutdownError(lock.key, lock.tenant, true, this.options.shutdownGraceMs) : undefined;
  }

  /** A held lock was released or lost. */
  left(): void {
    if (this.held.size === 0) this.drained?.();
  }

  async run(): Promise<void> {
    this.begun = true;
    this.waits.abort(new Error('the application is shutting down'));
    // Each wait now leaves its queue (one round trip); the connection must still be open for it.
    await Promise.allSettled([...this.pendingWaits]);
    for (const lock of this.held) lock.interrupt(this.interruption(lock)!);
    await this.drain();
    const remaining = [...this.held];
    const releases: Array<Promise<void>> = [];
    const expiring: Lock[] = [];
    for (const lock of remaining) {
      if (this.sections.has(lock) || !this.options.releaseOnShutdown) {
        lock.leaveToExpire();
        expiring.push(lock);
      } else {
        releases.push(lock.release().catch(() => undefined));
      }
    }
    if (expiring.length > 0) {
      const names = expiring.map((lock) => `"${lock.key}" (tenant ${lock.tenant})`).join(', ');
      this.logger.warn(
        `Shutting down with ${expiring.length} lock(s) still in use after locks.shutdownGraceMs (${this.options.shutdownGraceMs} ms): ` +
          `${names}; they are left to expire by their TTL`,
      );
    }
    await Promise.all(releases);
  }

  /** Resolves once no lock is held, or after the grace period. */
  private drain(): Promise<void> {
    if (this.held.size === 0 || this.options.shutdownGraceMs === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.drained = undefined;
        resolve();
      };
      // Not unref'd: during close() this timer may be all that keeps the process alive.
      const timer = setTimeout(done, this.options.shutdownGraceMs);
      this.drained = done;
    });
  }
}
