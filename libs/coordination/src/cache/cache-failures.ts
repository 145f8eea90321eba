import type { Logger } from '@nestjs/common';
import { RedisUnavailableError } from '../errors/coordination.error.js';
import { outageAs } from '../errors/outage-operation.js';
import { errorMessage } from '../events/error-message.js';
import type { CacheMeter } from './cache-stats.js';

/** At most one warning per this many ms; the next one says how many went unlogged. */
const WARN_EVERY_MS = 10_000;

/**
 * The failure policy of CacheService in one place (library-internal):
 *
 * - an outage (RedisUnavailableError, CircuitOpenError) is counted in `stats().errors` and
 *   `cache_errors_total{operation}`, and renamed after the public operation (`cache.get`, not
 *   the store command behind it);
 * - reads degrade (`cache.onRedisUnavailable: 'degrade'`: the caller answers from L1, as a miss
 *   or with the loader, and a warning is logged, at most one per 10 s) or throw (`'throw'`);
 * - explicit writes and invalidations always throw;
 * - work nobody awaits (the write after a loader, background refreshes) is counted and logged,
 *   never thrown.
 *
 * Errors that are no outage (a reply error, a bug) pass through unchanged.
 *
 * @example
 * try {
 *   text = await store.get(key);
 * } catch (error) {
 *   failures.read(error, 'cache.get'); // throws unless degrading
 *   return undefined;
 * }
 */
export class CacheFailures {
  private lastWarnAt = -Infinity;
  private unlogged = 0;

  constructor(
    /** Counts outages: CacheService's meter, or EmbeddingCache's own counters. */
    private readonly meter: Pick<CacheMeter, 'error'>,
    private readonly policy: 'degrade' | 'throw',
    private readonly logger: Logger,
  ) {}

  /** What a failed call of `operation` throws: an outage counted and renamed, anything else unchanged. */
  failed(error: unknown, operation: string): unknown {
    if (error instanceof RedisUnavailableError) this.meter.error(operation);
    return outageAs(error, operation);
  }

  /** A read failed: throws under `'throw'` or for an error that is no outage; otherwise warns and returns (degrade). */
  read(error: unknown, operation: string): void {
    if (!(error instanceof RedisUnavailableError)) throw error;
    const failure = this.failed(error, operation);
    if (this.policy === 'throw') throw failure;
    this.warn(`${errorMessage(failure)}: answered from L1, as a miss or by the loader`);
  }

  /** An explicit write or invalidation failed: always throws. */
  write(error: unknown, operation: string): never {
    throw this.failed(error, operation);
  }

  /** Work nobody awaits failed (`what` says which): counted when an outage, logged, never thrown. */
  swallowed(error: unknown, operation: string, what: string): void {
    const failure = this.failed(error, operation);
    this.warn(`${what} failed: ${errorMessage(failure)}`);
  }

  /** Logs a warning, at most one per 10 s (the next one says how many were left out). */
  warn(message: string): void {
    const now = performance.now();
    if (now - this.lastWarnAt < WARN_EVERY_MS) {
      this.unlogged++;
      return;
    }
    const earlier = this.unlogged === 0 ? '' : ` (${this.unlogged} more cache failures since the last warning)`;
    this.lastWarnAt = now;
    this.unlogged = 0;
    this.logger.warn(`${message}${earlier}`);
  }
}
