import { CircuitOpenError } from '../errors/coordination.error.js';
import type { Clock } from '../core/clock.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

/** What the breaker says to a call (see CircuitBreaker.admit): small integers, nothing allocated. */
export const Admission = {
  Pass: 0,
  /** The one half-open probe. */
  Probe: 1,
  Refused: 2,
} as const;
export type Admission = (typeof Admission)[keyof typeof Admission];

/**
 * Opens after `failureThreshold` consecutive failures; while open every call fails fast
 * with `CircuitOpenError`. After `openMs` it lets exactly one probe through (half-open):
 * success closes it, failure opens it again for another `openMs`.
 *
 * @example
 * const breaker = new CircuitBreaker({ failureThreshold: 5, openMs: 5_000 });
 * breaker.assertCanPass();   // throws CircuitOpenError while open
 * breaker.onSuccess();       // or breaker.onFailure()
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private probeInFlight = false;
  private current: BreakerState = 'closed';
  private readonly listeners = new Set<(state: BreakerState) => void>();

  constructor(
    private readonly options: { failureThreshold: number; openMs: number },
    private readonly clock: Clock = { now: () => Date.now() },
  ) {}

  get state(): BreakerState {
    if (this.current === 'open' && this.clock.now() - this.openedAt >= this.options.openMs) return 'half-open';
    return this.current;
  }

  /** Consecutive failures counted so far. */
  get consecutiveFailures(): number {
    return this.failures;
  }

  /**
   * Throws `CircuitOpenError` naming `operation` unless a call may go through now. Returns true
   * when the call is the half-open probe, whose outcome decides the breaker's next state.
   */
  assertCanPass(operation?: string): boolean {
    const admission = this.admit();
    if (admission === Admission.Refused) throw new CircuitOpenError(this.retryAtMs, operation);
    return admission === Admission.Probe;
  }

  /**
   * Whether a call may go through now, without throwing: for callers that name the refused
   * operation only when there is one to name (CommandExecutor maps a script to its public
   * operation only on failure). A `Probe` must report its outcome (onSuccess / onFailure).
   */
  admit(): Admission {
    const state = this.state;
    if (state === 'closed') return Admission.Pass;
    if (state === 'half-open' && !this.probeInFlight) {
      this.probeInFlight = true;
      return Admission.Probe;
    }
    return Admission.Refused;
  }

  /** When the breaker lets its next probe through (meaningful while open). */
  get retryAtMs(): number {
    return this.openedAt + this.options.openMs;
  }

  onSuccess(): void {
    this.failures = 0;
    this.probeInFlight = false;
    this.transition('closed');
  }

  onFailure(): void {
    // Failures of calls that were already in flight when the breaker opened say nothing new:
    // they must not push the probe further out.
    if (this.current === 'open' && !this.probeInFlight) return;
    this.failures += 1;
    const probing = this.probeInFlight;
    this.probeInFlight = false;
    if (probing || this.failures >= this.options.failureThreshold) {
      this.openedAt = this.clock.now();
      this.current = 'closed'; // force a transition event even when re-opening
      this.transition('open');
    }
  }

  /** Called with the new state on every change. Returns an unsubscribe function. */
  onStateChange(listener: (state: BreakerState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private transition(next: BreakerState): void {
    if (this.current === next) return;
    this.current = next;
    for (const listener of this.listeners) listener(next);
  }
}
