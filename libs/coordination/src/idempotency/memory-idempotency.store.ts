import { ExpiringMap } from '../core/expiring-map.js';
import { storeTtlMs } from '../cache/store-ttl.js';
import type { Clock } from '../core/clock.js';
import type { BeginResult, IdempotencyRecordKey, IdempotencyStore } from './idempotency-store.interface.js';

/** One record, as the Redis hash holds it, with the key's expiry (epoch ms on the clock). */
interface IdempotencyRecord {
  state: 'running' | 'done';
  readonly fp: string;
  readonly owner: string;
  outcome?: string;
  expiresAt: number;
}

/**
 * The idempotency store in process memory, on the injected clock, with the contract of
 * `RedisIdempotencyStore` (test/contract/stores/idempotency-store.contract.ts): one record per
 * key, gone once its expiry (the lease in flight, the replay ttl once done) is reached on the
 * clock. Bounded (ExpiringMap): every operation drops the expired record it meets, and expired
 * records never met again are swept as new ones are written. Each method does its work synchronously, so
 * concurrent calls are as atomic as the Redis scripts.
 *
 * A product feature (the memory driver: local development, users' tests, single-process apps),
 * not a test double; state is local to this module instance.
 *
 * @example
 * const store = new MemoryIdempotencyStore(new ManualClock(1_700_000_000_000));
 * const begun = await store.begin(key, fingerprint, owner, 30_000);
 * if (begun.kind === 'acquired') await store.complete(key, owner, outcome, 86_400_000);
 */
export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly records = new ExpiringMap<IdempotencyRecord>(() => this.clock.now());

  constructor(private readonly clock: Clock) {}

  async begin(key: IdempotencyRecordKey, fingerprint: string, owner: string, leaseMs: number): Promise<BeginResult> {
    const lease = storeTtlMs(leaseMs);
    const now = this.clock.now();
    const record = this.live(key, now);
    if (!record) {
      this.write(key, { state: 'running', fp: fingerprint, owner, expiresAt: now + lease });
      return { kind: 'acquired' };
    }
    if (record.fp !== fingerprint) return { kind: 'mismatch' };
    if (record.state === 'running') return { kind: 'in-flight', retryAfterMs: record.expiresAt - now };
    return { kind: 'completed', outcome: record.outcome ?? '' };
  }

  async renew(key: IdempotencyRecordKey, owner: string, leaseMs: number): Promise<boolean> {
    const lease = storeTtlMs(leaseMs);
    const now = this.clock.now();
    const record = this.heldBy(key, owner, now);
    if (!record) return false;
    record.expiresAt = now + lease;
    return true;
  }

  async complete(key: IdempotencyRecordKey, owner: string, outcome: string, ttlMs: number): Promise<boolean> {
    const ttl = storeTtlMs(ttlMs);
    const now = this.clock.now();
    const record = this.heldBy(key, owner, now);
    if (!record) return false;
    record.state = 'done';
    record.outcome = outcome;
    record.expiresAt = now + ttl;
    return true;
  }

  async abandon(key: IdempotencyRecordKey, owner: string): Promise<boolean> {
    if (!this.heldBy(key, owner, this.clock.now())) return false;
    this.records.delete(key);
    return true;
  }

  /** The in-flight record of `key` if `owner` holds it. */
  private heldBy(key: IdempotencyRecordKey, owner: string, now: number): IdempotencyRecord | undefined {
    const record = this.live(key, now);
    return record && record.state === 'running' && record.owner === owner ? record : undefined;
  }

  /** The record unless it expired (then it is dropped). */
  private live(key: IdempotencyRecordKey, now: number): IdempotencyRecord | undefined {
    return this.records.live(key, now);
  }

  private write(key: IdempotencyRecordKey, record: IdempotencyRecord): void {
    this.records.write(key, record);
  }
}
