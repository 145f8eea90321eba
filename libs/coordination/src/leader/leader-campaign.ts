import type { Observable } from 'rxjs';
import { deadlineClock, type Clock } from '../core/clock.js';
import { InvalidArgumentError } from '../errors/coordination.error.js';
import { outageAs } from '../errors/outage-operation.js';
import { kindOf } from '../keys/key-builder.js';
import { driftMs } from '../locks/lock.js';
import type { LeaderKeys as RoleKeys, LeaderStore } from './leader-store.interface.js';
import { LeaderLostError, LeaderShutdownError } from './leader.errors.js';
import type { LeaderObserver } from './leader-observer.js';
import { LEADER_CAMPAIGN } from './leader.spans.js';
import type { CoordinationTracer } from '../telemetry/tracing.js';
import type { LeadershipState } from './leadership-state.js';
import type { LeadershipChange, LeadershipLossReason, LeadershipTerm } from './leader.types.js';

/** A candidate that lost an election wakes this long after the holder's lease ends, ms (the store's clock is not ours). */
const WAKE_AFTER_EXPIRY_MS = 5;
/** A failed store call is retried after at most this long, ms (a third of the lease when that is shorter). */
const RETRY_MS = 250;

/** What a campaign shares with the LeaderService that runs it. */
export interface CampaignDeps {
  readonly store: LeaderStore;
  readonly observer: LeaderObserver;
  readonly clock: Clock;
  readonly instanceId: string;
  /** Spans of election attempts. */
  readonly tracer: CoordinationTracer;
  /** The role's leadership state on this module instance (shared by successive campaigns for it). */
  readonly state: LeadershipState;
  /**
   * Called once when the campaign stops (resigned or shut down), before its term ends; `done`
   * settles once the store has been told (shutdown awaits it: a resign in progress must reach
   * the store before the connection closes).
   */
  readonly stopped: (campaign: LeaderCampaign, done: Promise<void>) => void;
}

interface HeldTerm {
  readonly term: LeadershipTerm;
  readonly controller: AbortController;
  /** Local time (`now()`) by which the lease has surely ended in the store: start of the call that granted or renewed it + lease − drift. */
  expiresAt: number;
}

interface Waiter {
  resolve(term: LeadershipTerm): void;
  reject(error: unknown): void;
}

/**
 * This module instance's campaign for one role (of one tenant), from `LeaderService.campaign()`.
 * It campaigns in the background until resigned or the application shuts down: when elected it
 * renews its term every third of the lease; a term ends (its `signal` aborts, `leadership$` emits
 * `leader: false` with the reason) when a renewal finds it over, or at its local expiry when the
 * store cannot be reached: before the store's lease ends, so that two instances never both
 * believe they lead. A candidate not elected tries again when the holder's lease ends (a
 * crashed leader is replaced within about one lease).
 *
 * @example
 * const campaign = leaders.campaign('billing-sweeper', { leaseMs: 5_000 });
 * const term = await campaign.elected();
 * await sweep({ fence: term.fencingToken, signal: term.signal });
 */
export class LeaderCampaign {
  /** The campaign's candidate id in the store: `<instanceId>:<random>`. */
  readonly candidate: string;
  private held: HeldTerm | undefined;
  private readonly waiters = new Set<Waiter>();
  private loopTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  /** The store call in flight, if any (awaited before resigning). */
  private step: Promise<void> | undefined;
  /** Set once the campaign stops; the error pending and later `elected()` calls reject with. */
  private stopError: unknown;
  private stopping: Promise<void> | undefined;
  /**
   * A term the store may hold for this candidate with no live local term: granted after the
   * campaign stopped (never announced), or ended at its local expiry while renewals whose replies
   * were lost may have extended it. Resigned when the campaign stops (resign is conditional on
   * candidate and token: harmless when that term is over); cleared by the next campaign reply.
   */
  private orphanToken: number | undefined;
  /** The last campaign call failed: the store may have granted a term whose token we never heard. */
  private grantUnknown = false;
  /** Local time for term deadlines (deadlineClock: monotonic on the system clock). */
  private readonly now: () => number;
  private readonly renewEveryMs: number;
  private readonly retryMs: number;

  /** @internal Created and started by LeaderService.campaign(). */
  constructor(
    readonly role: string,
    readonly tenant: string,
    /** Term length without renewal, ms. */
    readonly leaseMs: number,
    private readonly keys: RoleKeys,
    random: string,
    private readonly deps: CampaignDeps,
  ) {
    this.candidate = `${deps.instanceId}:${random}`;
    this.renewEveryMs = Math.floor(leaseMs / 3);
    this.retryMs = Math.min(RETRY_MS, this.renewEveryMs);
    this.now = deadlineClock(deps.clock);
  }

  /** Whether this campaign holds a live term (not past its local expiry). */
  get isLeader(): boolean {
    return this.held !== undefined && this.now() < this.held.expiresAt;
  }

  /** The live term, if any. */
  get term(): LeadershipTerm | undefined {
    return this.isLeader ? this.held!.term : undefined;
  }

  /** The role's leadership on this module instance: the current state first, then each change; completes at shutdown. */
  get leadership$(): Observable<LeadershipChange> {
    return this.deps.state.changes$;
  }

  /**
   * The live term at once when leading, else the next one. Rejects with `LeaderShutdownError`
   * when the application shuts down first, with an `AbortError` when the campaign is resigned
   * first, and with `signal.reason` when `signal` aborts first; with `InvalidArgumentError` when
   * `options` is not an object or its `signal` not an AbortSignal.
   *
   * @example
   * const term = await campaign.elected({ signal: AbortSignal.timeout(30_000) });
   */
  elected(options: { signal?: AbortSignal } = {}): Promise<LeadershipTerm> {
    // Checked first, whatever the campaign's state: bad input fails the same way every time.
    if (typeof options !== 'object' || options === null) return Promise.reject(new InvalidArgumentError('options', `must be an object, got ${kindOf(options)}`));
    if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
      return Promise.reject(new InvalidArgumentError('options.signal', `must be an AbortSignal, got ${kindOf(options.signal)}`));
    }
    const term = this.term;
    if (term) return Promise.resolve(term);
    if (this.stopError !== undefined) return Promise.reject(this.stopError);
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<LeadershipTerm>((resolve, reject) => {
      const onAbort = () => {
        this.waiters.delete(waiter);
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        resolve: (t) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(t);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      this.waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Stops campaigning and ends the live term at once (its signal aborts, `leader.lost` with
   * reason `resigned`), freeing the role in the store so another candidate takes it without
   * waiting for the lease. Throws RedisUnavailableError when the store cannot be told (the term
   * then ends at its lease). A second call waits for the first.
   *
   * @example
   * await campaign.resign();
   */
  resign(): Promise<void> {
    return this.stopOnce('resigned', abortError(`The campaign for ${JSON.stringify(this.role)} was resigned`), true);
  }

  /** @internal Starts campaigning (LeaderService.campaign()). */
  start(): void {
    this.run();
  }

  /**
   * @internal At application shutdown (LeaderService): stops campaigning, aborts the live term's
   * signal with LeaderShutdownError, resigns it in the store (errors are counted, not thrown) and
   * rejects pending `elected()` calls.
   */
  shutdown(): Promise<void> {
    return this.stopOnce('shutdown', new LeaderShutdownError(this.role), false);
  }

  private stopOnce(reason: LeadershipLossReason, error: unknown, rethrow: boolean): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopError = error;
    clearTimeout(this.loopTimer);
    this.loopTimer = undefined;
    let ended: HeldTerm | undefined;
    // Set before the term ends below: a subscriber resigning again on that change gets this same promise.
    const stopping = (this.stopping = Promise.resolve().then(() => this.release(ended, rethrow)));
    this.deps.stopped(this, stopping);
    // The term's signal: LeaderShutdownError at shutdown, else a LeaderLostError naming `reason`.
    ended = this.end(reason, error instanceof LeaderShutdownError ? error : undefined);
    for (const waiter of this.waiters) waiter.reject(error);
    this.waiters.clear();
    return stopping;
  }

  /** After stopping: tells the store that the term `ended` (or an orphan) is over. */
  private async release(ended: HeldTerm | undefined, rethrow: boolean): Promise<void> {
    await this.step; // a call in flight: a term it is granted now becomes the orphan resigned below
    try {
      let token = ended?.term.fencingToken ?? this.orphanToken;
      if (token === undefined && this.grantUnknown) {
        // The last campaign call's reply was lost: if the store did grant it, free the role now
        // rather than let an unannounced lease block it for a whole lease.
        const record = await this.deps.store.read(this.keys);
        if (record?.candidate === this.candidate) token = record.fencingToken;
      }
      if (token === undefined) return;
      await this.deps.store.resign(this.keys, this.candidate, token);
    } catch (failure) {
      this.deps.observer.failed('leader.resign', failure);
      if (rethrow) throw outageAs(failure, 'leader.resign');
    }
  }

  private schedule(ms: number): void {
    clearTimeout(this.loopTimer);
    this.loopTimer = undefined;
    if (this.stopError !== undefined) return;
    this.loopTimer = setTimeout(() => this.run(), ms);
  }

  private run(): void {
    this.loopTimer = undefined;
    const step = (this.held ? this.renew(this.held) : this.campaign()).finally(() => {
      if (this.step === step) this.step = undefined;
    });
    this.step = step;
  }

  private async campaign(): Promise<void> {
    const { store, observer, instanceId } = this.deps;
    const at = this.now();
    let reply;
    try {
      reply = await this.deps.tracer.trace(LEADER_CAMPAIGN, this.tenant, this.role, () => store.campaign(this.keys, this.candidate, instanceId, this.leaseMs));
    } catch (failure) {
      this.grantUnknown = true;
      observer.failed('leader.campaign', failure);
      return this.schedule(this.retryMs);
    }
    this.grantUnknown = false;
    this.orphanToken = reply.elected ? reply.fencingToken : undefined;
    if (this.stopError !== undefined) return;
    if (!reply.elected) return this.schedule(Math.min(this.renewEveryMs, reply.holder.ttlMs + WAKE_AFTER_EXPIRY_MS));
    if (reply.renewed) {
      // This campaign holds no live term, yet the store names its candidate: the ghost of a term
      // that ended locally (at its local expiry, while renewals ran in the store but their replies
      // were lost) or a grant whose reply was lost. Its token may already have been announced and
      // its term ended: never revive it. Resign it and campaign again at once, for a new term
      // with a new, higher token.
      try {
        await store.resign(this.keys, this.candidate, reply.fencingToken);
      } catch (failure) {
        observer.failed('leader.resign', failure);
        return this.schedule(this.retryMs);
      }
      this.orphanToken = undefined;
      return this.schedule(0);
    }
    this.orphanToken = undefined;
    this.begin(reply.fencingToken, reply.electedAt, at + reply.ttlMs - driftMs(reply.ttlMs));
    this.schedule(this.renewEveryMs);
  }

  private async renew(held: HeldTerm): Promise<void> {
    const { store, observer } = this.deps;
    const at = this.now();
    let renewed: boolean;
    try {
      renewed = await store.renew(this.keys, this.candidate, held.term.fencingToken, this.leaseMs);
    } catch (failure) {
      observer.failed('leader.renew', failure);
      // Keep trying until the local expiry ends the term (the expiry timer), then campaign again.
      return this.schedule(this.held === held ? this.retryMs : 0);
    }
    if (this.held !== held) return this.schedule(0); // ended meanwhile (local expiry): campaign again
    if (renewed) {
      held.expiresAt = at + this.leaseMs - driftMs(this.leaseMs);
      this.armExpiry(held);
      return this.schedule(this.renewEveryMs);
    }
    this.end(this.now() >= held.expiresAt ? 'expired' : 'replaced');
    this.schedule(0);
  }

  private begin(fencingToken: number, electedAt: number, expiresAt: number): void {
    const controller = new AbortController();
    const term: LeadershipTerm = { role: this.role, tenant: this.tenant, fencingToken, electedAt: new Date(electedAt), signal: controller.signal };
    const held: HeldTerm = { term, controller, expiresAt };
    this.held = held;
    this.armExpiry(held);
    this.deps.observer.elected(this.tenant, this.role, fencingToken);
    this.deps.state.next({ role: this.role, tenant: this.tenant, leader: true, fencingToken });
    for (const waiter of this.waiters) waiter.resolve(term);
    this.waiters.clear();
  }

  /** Ends the held term, if any: its signal aborts with `error` (default a LeaderLostError naming `reason`). */
  private end(reason: LeadershipLossReason, error?: unknown): HeldTerm | undefined {
    const held = this.held;
    if (!held) return undefined;
    this.held = undefined;
    clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    const { fencingToken } = held.term;
    held.controller.abort(error ?? new LeaderLostError(this.role, fencingToken, reason));
    this.deps.observer.lost(this.tenant, this.role, fencingToken, reason);
    this.deps.state.next({ role: this.role, tenant: this.tenant, leader: false, fencingToken, reason });
    return held;
  }

  /** The timer that ends `held` at its local expiry when no renewal moved it (the store unreachable, or too slow). */
  private armExpiry(held: HeldTerm): void {
    clearTimeout(this.expiryTimer);
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = undefined;
      if (this.held !== held) return;
      // The injected clock may be a test's ManualClock: real time passing is not enough.
      if (this.now() < held.expiresAt) return this.armExpiry(held);
      // Renewals may have run in the store with their replies lost: it may still hold this term.
      this.orphanToken = held.term.fencingToken;
      this.end('expired');
      if (!this.step) this.schedule(0);
    }, Math.max(0, held.expiresAt - this.now()));
  }
}

function abortError(message: string): DOMException {
  return new DOMException(message, 'AbortError');
}
