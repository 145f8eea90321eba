import { Injectable, Logger } from '@nestjs/common';
import { CoordinationCore } from '../core/coordination-core.js';
import { RedisUnavailableError } from '../errors/coordination.error.js';
import { outageAs, runAs } from '../errors/outage-operation.js';

/** What became of one call under an idempotency key (the `outcome` label). */
export type IdempotencyOutcome = 'executed' | 'replayed' | 'mismatch' | 'in_flight' | 'abandoned';

const OUTCOMES: Readonly<Record<IdempotencyOutcome, { outcome: IdempotencyOutcome }>> = {
  executed: { outcome: 'executed' },
  replayed: { outcome: 'replayed' },
  mismatch: { outcome: 'mismatch' },
  in_flight: { outcome: 'in_flight' },
  abandoned: { outcome: 'abandoned' },
};

/**
 * Metrics and logs of idempotency (library-internal), shared by IdempotencyService and the
 * interceptor. Metrics: idempotency_requests_total{outcome: executed (an attempt ran and its
 * outcome was stored) | replayed | mismatch | in_flight (a duplicate refused, or that waited in
 * vain) | abandoned (an attempt failed or its outcome could not be stored: the key may be tried
 * again)}, idempotency_errors_total{operation} (Redis unreachable, labelled by the public
 * operation behind the store call: `idempotency.run` or `idempotency.begin` (IdempotencyService:
 * the claim's begin, complete and abandon calls), `idempotency.http` (the interceptor's), or
 * `idempotency.renew` (a lease renewal, whichever the caller)).
 *
 * @example
 * observer.outcome('replayed');
 * const begun = await observer.run('idempotency.run', () => store.begin(key, fp, owner, leaseMs));
 */
@Injectable()
export class IdempotencyObserver {
  private readonly logger = new Logger('Coordination:Idempotency');
  /** Routes already warned about (a response that cannot be stored), so each warns once. */
  private readonly warned = new Set<string>();

  constructor(private readonly core: CoordinationCore) {}

  outcome(outcome: IdempotencyOutcome): void {
    this.core.metrics.increment('idempotency_requests_total', OUTCOMES[outcome]);
  }

  /** Runs one store call of public `operation`, an outage counted and renamed after it. */
  run<T>(operation: string, work: () => Promise<T>): Promise<T> {
    return runAs(operation, work, (error) => this.failed(error, operation));
  }

  /** What a failed store call of `operation` throws: an outage counted and renamed; anything else unchanged. */
  failed(error: unknown, operation: string): unknown {
    if (error instanceof RedisUnavailableError) this.core.metrics.increment('idempotency_errors_total', { operation });
    return outageAs(error, operation);
  }

  /** A step after the attempt's work that failed (the lease renewal, storing or freeing the outcome): logged, not thrown. */
  stepFailed(step: string, error: unknown): void {
    this.logger.warn(`Idempotency ${step} failed: ${error instanceof Error ? error.message : String(error)}`);
  }

  /** A route whose response cannot be stored for replay: warned once per route. */
  notStorable(route: string, what: string): void {
    if (this.warned.has(route)) return;
    this.warned.add(route);
    this.logger.warn(`${route} answered with ${what}, which @Idempotent cannot store for replay: its requests run each time the key is retried`);
  }
}
