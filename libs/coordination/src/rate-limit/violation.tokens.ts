export type { ViolationStore } from './violation.store.js';
/** Injection token of the rate-limit violation log. */
export const VIOLATION_STORE = Symbol('RATE_LIMIT_VIOLATION_STORE');
