import { ManualClock } from '../core/clock.js';
import { CircuitOpenError, ErrorCode } from '../errors/coordination.error.js';
import { CircuitBreaker, type BreakerState } from './circuit-breaker.js';

function setup(failureThreshold = 3, openMs = 1_000) {
  const clock = new ManualClock(10_000);
  const breaker = new CircuitBreaker({ failureThreshold, openMs }, clock);
  const changes: BreakerState[] = [];
  breaker.onStateChange((state) => changes.push(state));
  return { clock, breaker, changes };
}

/** One call through the breaker, reporting `outcome`; returns whether it was let through. */
function call(breaker: CircuitBreaker, outcome: 'ok' | 'fail'): boolean {
  try {
    breaker.assertCanPass();
  } catch (error) {
    if (error instanceof CircuitOpenError) return false;
    throw error;
  }
  if (outcome === 'ok') breaker.onSuccess();
  else breaker.onFailure();
  return true;
}

describe('CircuitBreaker', () => {
  it('does not push the probe out for failures of calls that were in flight when it opened', () => {
    const { clock, breaker } = setup(2, 1_000);
    const inFlight = [breaker.assertCanPass(), breaker.assertCanPass(), breaker.assertCanPass()];
    expect(inFlight).toEqual([false, false, false]);
    breaker.onFailure();
    breaker.onFailure(); // opens at t=10_000
    clock.advance(900);
    breaker.onFailure(); // the third call, answered late
    clock.advance(100);
    expect(breaker.state).toBe('half-open');
    expect(breaker.assertCanPass()).toBe(true); // this call is the probe
  });

  it('stays closed below the threshold, and a success resets the count', () => {
    const { breaker } = setup(3);
    call(breaker, 'fail');
    call(breaker, 'fail');
    expect(breaker.consecutiveFailures).toBe(2);
    call(breaker, 'ok');
    expect(breaker.consecutiveFailures).toBe(0);
    call(breaker, 'fail');
    call(breaker, 'fail');
    expect(breaker.state).toBe('closed');
    expect(call(breaker, 'ok')).toBe(true);
  });

  it('goes closed -> open -> half-open -> closed', () => {
    const { clock, breaker, changes } = setup(3, 1_000);
    for (let i = 0; i < 3; i++) expect(call(breaker, 'fail')).toBe(true);
    expect(breaker.state).toBe('open');
    expect(changes).toEqual(['open']);

    // While open every call fails fast with a typed error carrying the retry time.
    let error: unknown;
    try {
      breaker.assertCanPass();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect((error as CircuitOpenError).code).toBe(ErrorCode.CircuitOpen);
    expect((error as CircuitOpenError).retryAtMs).toBe(11_000);

    clock.advance(999);
    expect(breaker.state).toBe('open');
    expect(call(breaker, 'ok')).toBe(false);
    clock.advance(1);
    expect(breaker.state).toBe('half-open');
    expect(call(breaker, 'ok')).toBe(true);
    expect(breaker.state).toBe('closed');
    expect(breaker.consecutiveFailures).toBe(0);
    expect(changes).toEqual(['open', 'closed']);
  });

  it('re-opens for another openMs when the half-open probe fails', () => {
    const { clock, breaker, changes } = setup(2, 1_000);
    call(breaker, 'fail');
    call(breaker, 'fail');
    clock.advance(1_000);
    expect(call(breaker, 'fail')).toBe(true);
    expect(breaker.state).toBe('open');
    expect(changes).toEqual(['open', 'open']);
    clock.advance(999);
    expect(call(breaker, 'ok')).toBe(false);
    clock.advance(1);
    expect(call(breaker, 'ok')).toBe(true);
    expect(breaker.state).toBe('closed');
  });

  it('lets only one probe through at a time while half-open', () => {
    const { clock, breaker } = setup(1, 500);
    call(breaker, 'fail');
    clock.advance(500);
    expect(() => breaker.assertCanPass()).not.toThrow(); // the probe, still in flight
    expect(() => breaker.assertCanPass()).toThrow(CircuitOpenError);
    expect(() => breaker.assertCanPass()).toThrow(CircuitOpenError);
    breaker.onSuccess();
    expect(() => breaker.assertCanPass()).not.toThrow();
    expect(() => breaker.assertCanPass()).not.toThrow();
  });

  it('stops notifying a listener after it unsubscribes', () => {
    const { breaker } = setup(1);
    const seen: BreakerState[] = [];
    const off = breaker.onStateChange((s) => seen.push(s));
    call(breaker, 'fail');
    off();
    breaker.onSuccess();
    expect(seen).toEqual(['open']);
  });
});
