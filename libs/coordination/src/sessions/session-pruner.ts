import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { errorMessage } from '../events/error-message.js';
import { SessionKeys } from './session-keys.js';
import { SessionObserver } from './session-observer.js';
import { SESSION_STORE, type SessionStore } from './session-store.interface.js';
import { SESSION_OPTIONS, type ResolvedSessionOptions } from './session.options.js';

/**
 * The background pass of sessions (library-internal): every `sessions.pruneIntervalMs` (0 turns
 * it off), SCANs every user index of the key prefix (every tenant) on every master, removes
 * the members whose session expired (`SessionStore.prune`, one script per index) and announces
 * each in `session.expired` under its tenant. Reads of an index (create, listForUser,
 * destroyAllForUser) prune it too; this pass covers the users who do not come back.
 *
 * Instance-local: each instance runs its own pass; `prune` is atomic, so an expired member is
 * announced by exactly one of them. Passes never overlap (the next is scheduled when one ends),
 * the timer is unref'd (it never keeps the process alive), errors are logged, never thrown, and
 * shutdown (before the connection closes) stops the timer and waits for a running pass.
 *
 * @example
 * const expired = await moduleRef.get(SessionPruner).runOnce(); // a pass now, e.g. in a test
 */
@Injectable()
export class SessionPruner implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger('Coordination:Sessions');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private stopped = false;

  constructor(
    @Inject(SESSION_OPTIONS) private readonly options: ResolvedSessionOptions,
    @Inject(SESSION_STORE) private readonly store: SessionStore,
    private readonly keys: SessionKeys,
    private readonly observer: SessionObserver,
  ) {}

  onModuleInit(): void {
    this.schedule();
  }

  /** Stops the timer and waits for a running pass; runs before the connection closes. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /**
   * One pass now, or the running one: resolves with how many expired sessions it removed from
   * their indexes. Rejects when Redis is unreachable (the timer's passes log that instead).
   */
  runOnce(): Promise<number> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private schedule(): void {
    if (this.stopped || this.options.pruneIntervalMs === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.runOnce()
        .catch((error: unknown) => this.logger.warn(`The pass pruning expired sessions failed: ${errorMessage(error)}`))
        .finally(() => this.schedule());
    }, this.options.pruneIntervalMs);
    this.timer.unref();
  }

  private async pass(): Promise<number> {
    let expired = 0;
    try {
      for await (const batch of this.store.scan(this.keys.indexPattern())) {
        const counts = await Promise.all(batch.map((key) => this.pruneIndex(key)));
        for (const count of counts) expired += count;
        if (this.stopped) break;
      }
    } catch (error) {
      throw this.observer.failed(error, 'sessions.prune');
    }
    return expired;
  }

  private async pruneIndex(key: string): Promise<number> {
    const index = this.keys.parseIndexKey(key);
    if (!index) return 0;
    const members = await this.store.prune(index.keys);
    this.observer.expired(index.tenant, index.userId, members);
    return members.length;
  }
}
