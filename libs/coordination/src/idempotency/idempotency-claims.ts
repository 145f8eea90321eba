import { randomBytes } from 'node:crypto';
import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationShutdown } from '@nestjs/common';
import { CoordinationCore } from '../core/coordination-core.js';
import { IdempotencyObserver } from './idempotency-observer.js';
import { IDEMPOTENCY_STORE, type IdempotencyStore } from './idempotency-store.interface.js';
import { IdempotencyInFlightError, IdempotencyMismatchError } from './idempotency.errors.js';
import { IDEMPOTENCY_OPTIONS, type ResolvedIdempotencyOptions } from './idempotency.options.js';
import type { IdempotencyClaim } from './idempotency.types.js';
import type { IdempotencyPolicy } from './idempotency-validation.js';

/** One record, its inputs validated: the tenant (resolved), the namespace in it, the key and the request's fingerprint (hex, or ''). */
export interface ClaimTarget {
  readonly tenant: string;
  readonly namespace: string;
  readonly key: string;
  readonly fingerprint: string;
}

/** First and longest pause between two polls of a waiting duplicate, ms. */
const FIRST_POLL_MS = 20;
const LONGEST_POLL_MS = 250;

/**
 * Claims on idempotency keys (library-internal, behind IdempotencyService and
 * IdempotencyInterceptor, which validate first): check-and-lock through the store's `begin`,
 * the bounded wait of a duplicate (polling `begin` with a backoff of 20 ms doubling up to
 * 250 ms), the lease renewal of a running attempt (a timer per attempt, every `leaseMs / 3`,
 * cleared when it settles), and shutdown.
 *
 * The record lives under `core.keys.key(tenant, 'idempotency', namespace + '\n' + key)`: a key
 * is printable ASCII, so the last line break splits the two unambiguously.
 *
 * Shutdown: at beforeApplicationShutdown a duplicate waiting for an attempt stops at once with
 * IdempotencyInFlightError (`retryAfterMs` the attempt's remaining lease, 409 over HTTP), and no
 * new wait starts; running attempts keep their leases renewed, because Nest closes the HTTP
 * server (letting in-flight requests finish) only after that hook. At onApplicationShutdown the
 * renewal timers are cleared: an attempt still running then keeps its key until its lease ends.
 *
 * @example
 * const claim = await claims.begin<Receipt>({ tenant: 'acme', namespace: '', key: 'pay-42', fingerprint: '' }, policy, 'idempotency.begin');
 * if (claim.replay) return claim.value;
 */
@Injectable()
export class IdempotencyClaims implements BeforeApplicationShutdown, OnApplicationShutdown {
  /** Waits end (beforeApplicationShutdown). */
  private closing = false;
  /** Renewals end (onApplicationShutdown). */
  private stopped = false;
  /** Owners are `<this claims' id>:<sequence>`: unique without random bytes per call (the hot path's costliest step). */
  private readonly ownerPrefix: string;
  private sequence = 0;
  /** Wakes every waiting duplicate (their pauses end at once). */
  private readonly wakes = new Set<() => void>();
  /** Stops the renewal timer of every running attempt. */
  private readonly renewals = new Set<() => void>();

  constructor(
    private readonly core: CoordinationCore,
    @Inject(IDEMPOTENCY_OPTIONS) private readonly options: ResolvedIdempotencyOptions,
    @Inject(IDEMPOTENCY_STORE) private readonly store: IdempotencyStore,
    private readonly observer: IdempotencyObserver,
  ) {
    this.ownerPrefix = `${core.instanceId}:${randomBytes(6).toString('hex')}:`;
  }

  /**
   * The claim on `target`: the decoded value of a finished attempt to replay, or the right to
   * run (the key locked for this attempt). A duplicate of an attempt in flight waits for its
   * outcome (`policy.concurrent` 'wait', at most `policy.waitMs`) or is refused at once.
   *
   * @throws IdempotencyMismatchError; IdempotencyInFlightError; RedisUnavailableError naming `operation`
   */
  async begin<T>(target: ClaimTarget, policy: IdempotencyPolicy, operation: string): Promise<IdempotencyClaim<T>> {
    const record = this.core.keys.key(target.tenant, 'idempotency', `${target.namespace}\n${target.key}`);
    const owner = this.ownerPrefix + (++this.sequence).toString(36);
    const { leaseMs } = this.options;
    const deadline = Date.now() + policy.waitMs;
    let pauseMs = FIRST_POLL_MS;
    for (;;) {
      let begun;
      try {
        begun = await this.observer.run(operation, () => this.store.begin(record, target.fingerprint, owner, leaseMs));
      } catch (error) {
        // A look at the key still in flight when shutdown closed the connection: the wait ends as every
        // other wait does at shutdown (the attempt it waited for may still hold the key for a lease).
        if (this.closing) throw this.inFlight(leaseMs);
        throw error;
      }
      if (begun.kind === 'acquired') return this.attempt<T>(record, owner, policy.ttlMs, operation);
      if (begun.kind === 'completed') {
        const value = this.core.serializer.decode<T>(begun.outcome);
        this.observer.outcome('replayed');
        return { replay: true, value };
      }
      if (begun.kind === 'mismatch') {
        this.observer.outcome('mismatch');
        throw new IdempotencyMismatchError();
      }
      const left = deadline - Date.now();
      if (policy.concurrent === 'reject' || left <= 0 || this.closing) throw this.inFlight(begun.retryAfterMs);
      const pausedAt = Date.now();
      await this.pause(Math.min(pauseMs, left));
      if (this.closing) throw this.inFlight(begun.retryAfterMs - (Date.now() - pausedAt));
      pauseMs = Math.min(pauseMs * 2, LONGEST_POLL_MS);
    }
  }

  /** Ends the waits of duplicates; running attempts keep renewing (in-flight requests still finish after this hook). */
  beforeApplicationShutdown(): void {
    this.closing = true;
    for (const wake of [...this.wakes]) wake();
  }

  /** Stops every renewal timer: nothing of this module runs after close. */
  onApplicationShutdown(): void {
    this.closing = true;
    this.stopped = true;
    for (const wake of [...this.wakes]) wake();
    for (const stop of [...this.renewals]) stop();
  }

  /** The running attempt owning `record`: its lease renewed until it completes or abandons. */
  private attempt<T>(record: string, owner: string, ttlMs: number, operation: string): IdempotencyClaim<T> {
    const { leaseMs } = this.options;
    const everyMs = Math.max(1, Math.floor(leaseMs / 3));
    const controller = new AbortController();
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    // Local bound of the lease: past it, without a successful renewal, the store may hand the key to another attempt.
    let heldUntil = Date.now() + leaseMs;
    const stop = () => {
      clearTimeout(timer);
      timer = undefined;
    };
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      stop();
      this.renewals.delete(stop);
      return true;
    };
    const lost = () => {
      if (settle()) controller.abort(new Error('The idempotency lease of this attempt was lost: another attempt with its key may run'));
    };
    const renew = async () => {
      timer = undefined;
      const startedAt = Date.now();
      try {
        const held = await this.observer.run('idempotency.renew', () => this.store.renew(record, owner, leaseMs));
        if (!held) return lost();
        heldUntil = startedAt + leaseMs;
      } catch (error) {
        this.observer.stepFailed('lease renewal', error);
        if (Date.now() + everyMs >= heldUntil) return lost();
      }
      if (!settled && !this.stopped) schedule();
    };
    const schedule = () => {
      timer = setTimeout(() => void renew(), everyMs);
    };
    this.renewals.add(stop);
    if (!this.stopped) schedule();
    return {
      replay: false,
      signal: controller.signal,
      complete: async (value: T) => {
        if (!settle()) return false;
        let outcome: string;
        try {
          outcome = this.core.serializer.encode(value);
        } catch (error) {
          await this.free(record, owner, operation).catch((e: unknown) => this.observer.stepFailed('abandon', e));
          throw error;
        }
        let stored: boolean;
        try {
          stored = await this.observer.run(operation, () => this.store.complete(record, owner, outcome, ttlMs));
        } catch (error) {
          // Not stored (as far as we know): free the key rather than leave it in flight for the whole lease. Safe even
          // if the store did complete it: abandon only deletes a RUNNING record this owner holds.
          await this.free(record, owner, operation).catch((e: unknown) => this.observer.stepFailed('abandon after a failed complete', e));
          throw error;
        }
        this.observer.outcome(stored ? 'executed' : 'abandoned');
        return stored;
      },
      abandon: async () => {
        if (settle()) await this.free(record, owner, operation);
      },
    };
  }

  private async free(record: string, owner: string, operation: string): Promise<void> {
    this.observer.outcome('abandoned');
    await this.observer.run(operation, () => this.store.abandon(record, owner));
  }

  private inFlight(retryAfterMs: number): IdempotencyInFlightError {
    this.observer.outcome('in_flight');
    return new IdempotencyInFlightError(Math.max(1, Math.ceil(retryAfterMs)));
  }

  /** Sleeps `ms`, or less when shutdown wakes it. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakes.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wakes.add(wake);
    });
  }
}
