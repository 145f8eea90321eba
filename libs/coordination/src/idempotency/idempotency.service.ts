import { Inject, Injectable } from '@nestjs/common';
import { CoordinationCore } from '../core/coordination-core.js';
import { InvalidArgumentError } from '../errors/coordination.error.js';
import { IdempotencyClaims, type ClaimTarget } from './idempotency-claims.js';
import { fingerprintOf } from './idempotency-fingerprint.js';
import { IdempotencyObserver } from './idempotency-observer.js';
import { checkKey, checkRunOptions, type IdempotencyPolicy } from './idempotency-validation.js';
import { IDEMPOTENCY_OPTIONS, type ResolvedIdempotencyOptions } from './idempotency.options.js';
import { IDEMPOTENCY_BEGIN, IDEMPOTENCY_RUN } from './idempotency.spans.js';
import { thrownByCallback } from '../telemetry/tracing.js';
import type { IdempotencyClaim, IdempotencyRunOptions } from './idempotency.types.js';

/**
 * Idempotency keys for any operation: under one key (per tenant and namespace) the work runs
 * once, and every later call with the key gets its stored value back for `ttlMs`
 * (`idempotency.ttlMs`, 24 h by default), across the fleet.
 *
 * - **Check-and-lock** is one store operation (one Lua script on Redis): the first call locks
 *   the key for its attempt (a lease of `idempotency.leaseMs`, renewed at a third of it while the
 *   work runs, so an instance that dies mid-way frees the key after one lease).
 * - **Duplicates** of an attempt in flight wait for its outcome (`concurrent: 'wait'`, polling
 *   for at most `waitMs`) and replay it; if the attempt fails, one of them runs instead. After
 *   `waitMs`, or at once with `concurrent: 'reject'`: IdempotencyInFlightError (409 over HTTP)
 *   with `retryAfterMs`, the attempt's remaining lease.
 * - **Values** go through the module's serializer: Dates, Maps, BigInts, nested objects come back
 *   as they went in.
 * - **Failure**: work that throws frees the key (nothing stored) and the error is rethrown: a
 *   retry runs again.
 * - **Mismatch**: `fingerprint` identifies the request behind a key (hashed as canonical JSON);
 *   the key reused with another fingerprint throws IdempotencyMismatchError (422), whether the
 *   first attempt is running or finished.
 * - **Redis unreachable**: RedisUnavailableError (503) naming the method, before the work runs:
 *   never a side effect without its protection.
 * - **Bad input** (a key that is not 1-255 printable ASCII characters: IdempotencyKeyInvalidError;
 *   bad options: InvalidArgumentError; a bad tenant: TenantInvalidError) throws before any
 *   Redis call.
 *
 * @example
 * const receipt = await idempotency.run(`charge:${order.id}`, () => payments.charge(order), {
 *   fingerprint: { amount: order.amount, currency: order.currency },
 *   ttlMs: 3_600_000,
 * });
 */
@Injectable()
export class IdempotencyService {
  constructor(
    private readonly core: CoordinationCore,
    @Inject(IDEMPOTENCY_OPTIONS) private readonly options: ResolvedIdempotencyOptions,
    private readonly claims: IdempotencyClaims,
    private readonly observer: IdempotencyObserver,
  ) {}

  /**
   * Runs `fn` once under `key`: the first call runs it and stores its value; a later call with
   * the key (and the same fingerprint) returns the stored value without running it. `fn` gets
   * an AbortSignal that aborts if the attempt's lease is lost (renewal refused: another attempt
   * may run). If storing the value fails after `fn` succeeded, the value is still returned and
   * the failure logged: a value the serializer cannot encode frees the key at once (a retry runs
   * again); with Redis gone meanwhile the key frees itself when its lease ends.
   *
   * @throws IdempotencyMismatchError; IdempotencyInFlightError; RedisUnavailableError; whatever `fn` throws (the key freed)
   * @example
   * const run = await idempotency.run(request.headers['idempotency-key'], () => crews.startRun(crewId), { namespace: `crew:${crewId}` });
   */
  async run<T>(key: string, fn: (signal: AbortSignal) => T | Promise<T>, options?: IdempotencyRunOptions): Promise<T> {
    if (typeof fn !== 'function') throw new InvalidArgumentError('fn', `must be a function, got ${typeof fn}`);
    // Bad input throws before the span (and before any Redis call).
    const request = this.checked(key, options, 'idempotency.run');
    const { tracer } = this.core.telemetry;
    if (!tracer.enabled) return this.runOnce(request, fn);
    // The span holds the attempt: the claim, fn (and what it calls) and storing its value are its children.
    return tracer.trace(IDEMPOTENCY_RUN, request.target.tenant, key, () => this.runOnce(request, fn)) as Promise<T>;
  }

  /** run inside its span (or without one). */
  private async runOnce<T>(request: CheckedRequest, fn: (signal: AbortSignal) => T | Promise<T>): Promise<T> {
    const claim = await this.claimChecked<T>(request, 'idempotency.run');
    if (claim.replay) return claim.value;
    let value: T;
    try {
      value = await fn(claim.signal);
    } catch (error) {
      await claim.abandon().catch((failure: unknown) => this.observer.stepFailed('abandon', failure));
      // Whatever fn threw (a nested run's IdempotencyInFlightError too) is a failure of this run, not its outcome.
      throw thrownByCallback(error);
    }
    try {
      await claim.complete(value);
    } catch (error) {
      // The work ran: its value is returned whatever became of storing it (Redis gone, a value the
      // serializer cannot encode: complete() then freed the key, so a retry runs again).
      this.observer.stepFailed('storing the outcome', error);
    }
    return value;
  }

  /**
   * The claim on `key`, for work that cannot be one function: the stored value of a finished
   * attempt (`replay: true`), or the right to run it, to be ended by `complete(value)` (stored
   * for replay) or `abandon()` (the key may be tried again). A claim left unsettled keeps the key
   * in flight (renewed) until the module shuts down, then for one lease.
   *
   * @throws IdempotencyMismatchError; IdempotencyInFlightError; RedisUnavailableError
   * @example
   * const claim = await idempotency.begin<Receipt>(`refund:${id}`, { fingerprint: body });
   * if (claim.replay) return claim.value;
   * try {
   *   const receipt = await refunds.issue(body, { signal: claim.signal });
   *   await claim.complete(receipt);
   *   return receipt;
   * } catch (error) {
   *   await claim.abandon();
   *   throw error;
   * }
   */
  begin<T>(key: string, options?: IdempotencyRunOptions): Promise<IdempotencyClaim<T>> {
    return this.claim<T>(key, options, 'idempotency.begin');
  }

  private async claim<T>(key: string, options: IdempotencyRunOptions | undefined, operation: string): Promise<IdempotencyClaim<T>> {
    return this.claimChecked<T>(this.checked(key, options, operation), operation);
  }

  /** `key` and `options` checked (throws on bad input), and the tenant resolved. */
  private checked(key: string, options: IdempotencyRunOptions | undefined, operation: string): CheckedRequest {
    checkKey(key);
    const { namespace, policy } = checkRunOptions(options, this.options);
    const fingerprint = fingerprintOf(options?.fingerprint, 'options.fingerprint');
    const tenant = this.core.tenants.resolve(options?.tenant, operation);
    return { target: { tenant, namespace, key, fingerprint }, policy };
  }

  private claimChecked<T>({ target, policy }: CheckedRequest, operation: string): Promise<IdempotencyClaim<T>> {
    return this.core.telemetry.tracer.trace(IDEMPOTENCY_BEGIN, target.tenant, target.key, () => this.claims.begin<T>(target, policy, operation)) as Promise<IdempotencyClaim<T>>;
  }
}

/** A claim's checked input. */
interface CheckedRequest {
  readonly target: ClaimTarget;
  readonly policy: IdempotencyPolicy;
}
