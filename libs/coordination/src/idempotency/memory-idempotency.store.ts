import type { Clock } from "../core/clock.js";
import type { BeginResult, IdempotencyStore } from './idempotency-store.interface.js';

/** STUB (lead): replaced by the store helper. */
export class MemoryIdempotencyStore implements IdempotencyStore {
  constructor(readonly clock: Clock) {}
  begin(): Promise<BeginResult> { return Promise.reject(new Error('not implemented')); }
  renew(): Promise<boolean> { return Promise.reject(new Error('not implemented')); }
  complete(): Promise<boolean> { return Promise.reject(new Error('not implemented')); }
  abandon(): Promise<boolean> { return Promise.reject(new Error('not implemented')); }
}
