import { nextEvent, until } from '../../../../test/support/wait.js';
import { systemClock } from '../core/clock.js';
import { CoordinationTracer } from '../telemetry/tracing.js';
import { LockLostError } from './lock.errors.js';
import { Lock, type LockHooks, type LockOperations } from './lock.js';
import { LockScheduler } from './lock-scheduler.js';

/** Hooks that record what the lock reports. */
function hooks(scheduler: LockScheduler, lost: string[]): LockHooks {
  return {
    clock: systemClock,
    maxTtlMs: 60_000,
    scheduler,
    tracer: new CoordinationTracer({ metrics: false, traces: false, hashKeys: false, tenantAttribute: 'none', maxTenantValues: 0 }, 'redis'),
    onExtended: () => undefined,
    onRenewalFailed: () => undefined,
    onReleased: () => undefined,
    onLost: (_lock, reason) => lost.push(reason),
    interruption: () => undefined,
  };
}

describe('Lock renewal', () => {
  const scheduler = new LockScheduler();
  afterEach(() => scheduler.clear());

  // A partition that drops packets: the renewal is sent and nothing comes back, neither a reply
  // nor an error, until the command timeout, which may be longer than the TTL. Redis lets the lock
  // expire meanwhile and may grant it to another owner: the holder must have been told by then.
  it('reports the lock lost at its local expiry while a renewal hangs without an answer', async () => {
    const lost: string[] = [];
    let renewals = 0;
    const ops: LockOperations = {
      extend: () => {
        renewals += 1;
        return new Promise<boolean>(() => undefined); // never answered
      },
      release: async () => 'released',
    };
    const ttlMs = 150;
    const acquiredAt = Date.now();
    const lock = new Lock({
      key: 'k', tenant: 't', kind: 'mutex', owner: 'o', token: 'tok', fencingToken: 1, ttlMs,
      expiresAt: acquiredAt + ttlMs, autoRenew: true,
    }, ops, hooks(scheduler, lost));
    const aborted = nextEvent(lock.signal, 'abort', { timeoutMs: 5_000, message: 'the signal to abort at the expiry' });

    await aborted;
    expect(renewals).toBe(1);
    expect(lost).toEqual(['it expired while its renewal got no answer from Redis']);
    expect(lock.signal.reason).toBeInstanceOf(LockLostError);
    // Not before its expiry (the scheduler never runs an expiry check early).
    expect(Date.now()).toBeGreaterThanOrEqual(lock.expiresAt);
    expect(lock.isHeld()).toBe(false);
    await expect(lock.release()).rejects.toBeInstanceOf(LockLostError);
  });

  it('goes on renewing when a renewal is answered in time', async () => {
    const lost: string[] = [];
    const ops: LockOperations = { extend: async () => true, release: async () => 'released' };
    const lock = new Lock({
      key: 'k', tenant: 't', kind: 'mutex', owner: 'o', token: 'tok', fencingToken: 1, ttlMs: 60,
      expiresAt: Date.now() + 60, autoRenew: true,
    }, ops, hooks(scheduler, lost));
    // Renewed at ~ttl/3 each time: well past three TTLs, it is still held.
    await until(() => lock.renewals >= 6, { timeoutMs: 5_000, message: 'six renewals' });
    expect(lost).toEqual([]);
    expect(lock.isHeld()).toBe(true);
    await lock.release();
  });
});

describe('Lock renewal answered around the expiry', () => {
  const scheduler = new LockScheduler();
  afterEach(() => scheduler.clear());

  // The expiry check fired first (the lock is reported lost), then Redis answered the renewal:
  // it extended the lock for our token, and the handle being lost, nothing would release it:
  // other instances would wait up to a TTL. The handle deletes it (only if the token is ours).
  it('releases a lock whose renewal succeeded after it was reported lost', async () => {
    const lost: string[] = [];
    let answer: (renewed: boolean) => void = () => undefined;
    let releases = 0;
    const ops: LockOperations = {
      extend: () => new Promise<boolean>((resolve) => { answer = resolve; }),
      release: async () => { releases += 1; return 'released'; },
    };
    const lock = new Lock({
      key: 'k', tenant: 't', kind: 'mutex', owner: 'o', token: 'tok', fencingToken: 1, ttlMs: 90,
      expiresAt: Date.now() + 90, autoRenew: true,
    }, ops, hooks(scheduler, lost));
    await nextEvent(lock.signal, 'abort', { timeoutMs: 5_000, message: 'the signal to abort at the expiry' });
    expect(releases).toBe(0);

    answer(true);
    await until(() => releases === 1, { timeoutMs: 5_000, message: 'the late-renewed lock to be released' });
    expect(lost).toEqual(['it expired while its renewal got no answer from Redis']);
    expect(lock.isHeld()).toBe(false);
    await expect(lock.release()).rejects.toBeInstanceOf(LockLostError);
    expect(releases).toBe(1);
  });

  // The reply is already read, but the event loop stalled past the local expiry before handling
  // it: timers run before I/O callbacks, so the expiry check comes first. It must let the reply
  // be handled before it reports a loss: the lock was renewed in time.
  it('reports no loss when the renewal reply is waiting while the event loop stalls past the expiry', async () => {
    const lost: string[] = [];
    let renewals = 0;
    const ttlMs = 90;
    const ops: LockOperations = {
      extend: () => {
        renewals += 1;
        if (renewals > 1) return Promise.resolve(true);
        // Answered at once (delivered after the timers of this loop turn, like a socket read),
        // while a callback keeps the process busy past the lock's local expiry.
        return new Promise<boolean>((resolve) => setImmediate(() => {
          setImmediate(() => resolve(true)); // runs after the next loop turn's timers
          const busyUntil = lock.expiresAt + 20;
          while (Date.now() < busyUntil) { /* a synchronous stall (GC, CPU-bound work) */ }
        }));
      },
      release: async () => 'released',
    };
    const lock: Lock = new Lock({
      key: 'k', tenant: 't', kind: 'mutex', owner: 'o', token: 'tok', fencingToken: 1, ttlMs,
      expiresAt: Date.now() + ttlMs, autoRenew: true,
    }, ops, hooks(scheduler, lost));

    await until(() => lock.renewals >= 2, { timeoutMs: 5_000, message: 'two renewals' });
    expect(lost).toEqual([]);
    expect(lock.isHeld()).toBe(true);
    await lock.release();
  });
});
