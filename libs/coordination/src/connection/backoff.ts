/**
 * Capped exponential backoff with "equal jitter": half the delay is fixed, half random,
 * so that a fleet of instances does not reconnect in lockstep after an outage.
 */
export function backoffDelay(attempt: number, baseDelayMs: number, maxDelayMs: number, random = Math.random): number {
  const exponential = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential / 2 + random() * (exponential / 2));
}
