import type { RedisConnection } from '../connection/redis-connection.js';
import type { BeginResult, IdempotencyStore } from './idempotency-store.interface.js';

/** STUB (lead): replaced by the store helper. */
export class RedisIdempotencyStore implements IdempotencyStore {
  constructor(readonly connection: RedisConnection) {}
  begin(): Promise<BeginResult> { return Promise.reject(new Error('not implemented')); }
  renew(): Promise<boolean> { return Promise.reject(new Error('not implemented')); }
  complete(): Promise<boolean> { return Promise.reject(new Error('not implemented')); }
  abandon(): Promise<boolean> { return Promise.reject(new Error('not implemented')); }
}
