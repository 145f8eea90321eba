import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { CoordinationCore } from '../core/coordination-core.js';
import { errorMessage } from '../events/error-message.js';
import { SHARED_TENANT } from '../keys/key-builder.js';
import { SessionKeys } from './session-keys.js';
import { SessionObserver } from './session-observer.js';
import { SESSION_STORE, type SessionStore } from './session-store.interface.js';
import { SESSION_OPTIONS, type ResolvedSessionOptions } from './session.options.js';

/** The capability segment of the pass lease's key (`<prefix>:_shared:session-prune:{pass}`). */
const LEASE_CAPABILITY = 'session-prune';
/** The lease of a pass with the timer off (`runOnce` only): passes of a fleet called at once run once. */
const MANUAL_LEASE_MS = 1_000;
/** The lease's share of the interval: below the shortest jittered wait (90 %), so it lapses first. */
const LEASE_SHARE = 0.85;

/**
 * The background pass of sessions (library-internal): every `sessions.pruneIntervalMs` (0 turns
 * it off; each wait spread over ±10 %, so instances started together do not wake together),
 * SCANs every user index of the key prefix (every tenant) on every master, removes the members
 * whose session expired (`SessionStore.prune`, one script per index) and announces each in
 * `session.expired` under its tenant. Reads of an index (create, listForUser,
 * destroyAllForUser) prune it too; this pass covers the users who do not come back.
 *
 * One instance of a fleet per pass: before scanning, an instance claims a lease shared by every
 * instance on the key prefix (`SessionStore.claimPass`, SET NX PX of a `_shared` key) for
 * 85 % of `pruneIntervalMs` (`prunePassLeaseMs`; 1 s with the timer off); the instance that
 * gets it runs the pass, the others skip that turn (their pass resolves with 0). The lease
 * lapses by itself no later than the holder's own next pass (the shortest jittered wait is
 * 90 %), whatever the interval, so one instance alone never skips a turn, and a fleet runs a
 * pass at least every 110 % of the interval (plus a pass's duration), within the index grace
 * of two intervals. A pass longer than the lease may meet another
 * instance's: harmless, as `prune` is atomic and an expired member is announced exactly once.
 * Passes of one instance never overlap (the next is scheduled when one ends), the timer is
 * unref'd (it never keeps the process alive), errors are logged, never thrown, and shutdown
 * (before the connection closes) stops the timer and waits for a running pass.
 *
 * A complete pass also counts the live sessions each index names, per tenant: the fleet's
 * `sessions_active{tenant}` gauges, set by the instance that ran the pass (see
 * SessionObserver.activeSessions). An instance that skips a turn another instance holds drops
 * its own, so that one instance reports them at a time rather than stale copies of old passes.
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
  private readonly leaseKey: string;
  private readonly leaseMs: number;
  /** Until when (`performance.now()` time) this instance's last claimed lease may still hold. */
  private ownLeaseUntil = -Infinity;

  constructor(
    @Inject(SESSION_OPTIONS) private readonly options: ResolvedSessionOptions,
    @Inject(SESSION_STORE) private readonly store: SessionStore,
    private readonly keys: SessionKeys,
    private readonly observer: SessionObserver,
    core: CoordinationCore,
  ) {
    this.leaseKey = core.keys.key(SHARED_TENANT, LEASE_CAPABILITY, 'pass');
    this.leaseMs = prunePassLeaseMs(options.pruneIntervalMs);
  }

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
   * their indexes; 0 without scanning when another instance (or this one) holds the lease of
   * the current turn. Rejects when Redis is unreachable (the timer's passes log that instead).
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
    }, prunePassDelayMs(this.options.pruneIntervalMs));
    this.timer.unref();
  }

  private async pass(): Promise<number> {
    return this.observer.run('sessions.prune', async () => {
      let expired = 0;
      // Taken before the claim: the lease in the store starts later, so it outlasts this bound.
      const claimedAt = performance.now();
      if (!(await this.store.claimPass(this.leaseKey, this.leaseMs))) {
        if (claimedAt >= this.ownLeaseUntil) this.observer.activeSessions(undefined);
        return 0;
      }
      this.ownLeaseUntil = claimedAt + this.leaseMs;
      const live = new Map<string, number>();
      for await (const batch of this.store.scan(this.keys.indexPattern())) {
        const counts = await Promise.all(batch.map((key) => this.pruneIndex(key, live)));
        for (const count of counts) expired += count;
        if (this.stopped) return expired;
      }
      this.observer.activeSessions(live);
      return expired;
    });
  }

  /** Prunes one index; adds its live sessions to its tenant's count in `live`. */
  private async pruneIndex(key: string, live: Map<string, number>): Promise<number> {
    const index = this.keys.parseIndexKey(key);
    if (!index) return 0;
    const pruned = await this.store.prune(index.keys);
    this.observer.expired(index.tenant, index.userId, pruned.expired);
    if (pruned.live > 0) live.set(index.tenant, (live.get(index.tenant) ?? 0) + pruned.live);
    return pruned.expired.length;
  }
}

/**
 * The wait before an instance's next pass: `intervalMs` spread over ±10 % (whole ms), so that
 * instances started together do not wake together.
 *
 * @example
 * setTimeout(pass, prunePassDelayMs(60_000)); // 54 000 to 66 000 ms
 */
export function prunePassDelayMs(intervalMs: number, random = Math.random): number {
  return Math.round(intervalMs * (0.9 + 0.2 * random()));
}

/**
 * How long the lease of a pass lasts (ms): 85 % of `intervalMs`, whole ms, at least 1 ms; 1 s
 * with the timer off (`intervalMs` 0). Never longer than the shortest wait `prunePassDelayMs`
 * gives (90 %, rounded), so the lease of a lone instance has lapsed when its next pass claims.
 *
 * @example
 * prunePassLeaseMs(60_000); // 51 000: the next pass of this instance comes 54 000 ms or more later
 */
export function prunePassLeaseMs(intervalMs: number): number {
  if (intervalMs === 0) return MANUAL_LEASE_MS;
  return Math.max(1, Math.floor(intervalMs * LEASE_SHARE));
}
