import type { DeadlockDetector } from './deadlock-detector.js';
import { DeadlockError, LockAbortedError, LockTimeoutError } from './lock.errors.js';
import type { Granted, HoldReply, MutexKeys, MutexReply, MutexRequest, MutexStore, WaitQueueStore } from './lock-store.interface.js';
import type { LockWakeups } from './lock-wakeups.js';
import { decodeHandOff, decodeNewHead } from './queue-codec.js';

/** `at`: local (injected clock) time from which the grant's pttl counts, for a safe local expiry. */
export type Acquired = Granted & { at: number };

/** The stores a mutex waiter uses. */
export type MutexWaitStore = MutexStore & WaitQueueStore;

/** What a waiter needs. Wait deadlines run on the monotonic clock (an injected test clock does not move timers). */
export interface WaitContext {
  wakeups: LockWakeups;
  /** PSUBSCRIBE pattern of the tenant's lock channels. */
  pattern: string;
  channel: string;
  key: string;
  tenant: string;
  waitMs: number;
  signal?: AbortSignal;
  /** The service's shutdown: aborted when the application begins to shut down, ending every wait. */
  stop?: AbortSignal;
  fallbackPollMs: number;
  leaseMs: number;
  /** The injected clock, for lock expiry times. */
  now: () => number;
}

const monotonic = () => performance.now();

/** The signal that ended the wait (the caller's, else the service's shutdown), if either fired. */
function abortedBy(ctx: WaitContext): AbortSignal | undefined {
  if (ctx.signal?.aborted) return ctx.signal;
  return ctx.stop?.aborted ? ctx.stop : undefined;
}

/**
 * Sleeps until `ms` passed or `poke()` is called (a wake-up message, an abort). One pending
 * sleep at a time.
 */
class Sleeper {
  private wake?: () => void;
  poke = (): void => {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  };
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.poke(), Math.max(1, ms));
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/**
 * Waits in a mutex's queue after a first refused attempt (which already joined it). The holder
 * hands the lock over on release and publishes the grant (see queue-codec.ts). The head of the
 * queue polls when the holder's lock expires (a holder that stalled or died), from its poll's
 * reply or from the message that made it head: every grant, leave and drop of expired waiters
 * names the new head. The others poll only every fallbackPollMs, which covers lost messages.
 * The queue entry is kept alive by a heartbeat at leaseMs/3, and deadlock detection re-runs
 * with it, which catches two owners that started waiting on each other at the same instant. A
 * heartbeat that finds the waiter's own owner holding the lock polls before it calls that a cycle
 * of one: the holder may be this very wait, handed the lock before its message arrived.
 */
export async function waitForMutex(
  ctx: WaitContext, store: MutexWaitStore, keys: MutexKeys, request: MutexRequest, first: Extract<MutexReply, { acquired: false }>,
  detector: DeadlockDetector | null, firstAt: number,
): Promise<Acquired> {
  const started = monotonic();
  const deadline = started + ctx.waitMs;
  const sleeper = new Sleeper();
  let granted: Acquired | null = null;
  // Local time the last request that found us still queued was sent: the hand-off (and the
  // TTL it starts on the server) came after it. Message arrival time could be much later (GC
  // pause, backlog, reconnect) and would make us trust the lock longer than Redis keeps it.
  let queuedAt = firstAt;
  let pollAt = started;
  /** Messages that named this waiter the head; a poll reply sent before the latest one is older news. */
  let namedHead = 0;
  /** The head polls as the lock expires (pttl < 0: it is free, poll now), at most fallbackPollMs later. */
  const expiryPoll = (pttlMs: number) => monotonic() + (pttlMs < 0 ? 0 : Math.min(ctx.fallbackPollMs, pttlMs + 2));
  const becameHead = (pttlMs: number) => {
    namedHead += 1;
    pollAt = Math.min(pollAt, expiryPoll(pttlMs));
    sleeper.poke();
  };
  const unregister = ctx.wakeups.register(keys.channel, (message) => {
    const handOff = decodeHandOff(message);
    if (handOff) {
      if (handOff.token === request.token) {
        granted = { acquired: true, token: handOff.token, fencingToken: handOff.fencingToken, pttlMs: handOff.ttlMs, at: queuedAt };
        sleeper.poke();
      } else if (handOff.nextHead === request.token) {
        becameHead(handOff.ttlMs);
      }
      return;
    }
    const newHead = decodeNewHead(message);
    if (newHead?.head === request.token) becameHead(newHead.pttlMs);
  });
  const hold = ctx.wakeups.hold(ctx.pattern);
  ctx.signal?.addEventListener('abort', sleeper.poke);
  ctx.stop?.addEventListener('abort', sleeper.poke);
  let edge = false;
  /** The grant, unless so much time may have passed since the hand-off that it could be over: then poll. */
  const takeGrant = (): Acquired | null => {
    const grant = granted;
    granted = null;
    if (grant && ctx.now() - grant.at < grant.pttlMs) return grant;
    if (grant) pollAt = 0;
    return null;
  };

  let left = false;
  const giveUp = async (error: Error): Promise<never> => {
    await leaveMutexQueue(store, keys, request);
    left = true;
    throw error;
  };
  const checkDeadlock = async (holder: string | null) => {
    if (!detector) return;
    await detector.recordWait(ctx.tenant, request.owner, keys.lock, ctx.leaseMs);
    edge = true;
    const cycle = await detector.findCycle(ctx.tenant, request.owner, holder, keys.lock);
    if (cycle) await giveUp(new DeadlockError(ctx.key, cycle, ctx.tenant));
  };

  /** Asks Redis: the grant (also one handed over whose message has not arrived), else schedules the next poll. */
  const poll = async (): Promise<Acquired | Extract<MutexReply, { acquired: false }>> => {
    const at = ctx.now();
    const named = namedHead;
    const reply = await store.acquireMutex(keys, request);
    if (reply.acquired) return { acquired: true, token: reply.token, fencingToken: reply.fencingToken, pttlMs: reply.pttlMs, at };
    if (reply.position >= 0) queuedAt = Math.max(queuedAt, at);
    const next = reply.position === 0 ? expiryPoll(reply.pttlMs) : monotonic() + ctx.fallbackPollMs;
    // Made head while the poll was under way: the reply may predate that, keep the earlier wake-up.
    pollAt = namedHead === named ? next : Math.min(pollAt, next);
    return reply;
  };

  try {
    await atMostUntil(hold.ready, deadline);
    await checkDeadlock(first.holderOwner);
    let heartbeatAt = monotonic() + ctx.leaseMs / 3;
    for (;;) {
      const grant = takeGrant();
      if (grant) return grant;
      const aborted = abortedBy(ctx);
      if (aborted) await giveUp(new LockAbortedError(ctx.key, ctx.tenant, aborted.reason));
      const now = monotonic();
      if (now >= deadline) await giveUp(new LockTimeoutError(ctx.key, ctx.waitMs, ctx.tenant));
      if (now >= heartbeatAt) {
        heartbeatAt = now + ctx.leaseMs / 3;
        const sentAt = ctx.now();
        if (await store.heartbeat(keys, request, ctx.leaseMs)) queuedAt = Math.max(queuedAt, sentAt);
        else pollAt = now;
        let holder = await store.holderOwner(keys.lock);
        if (holder === request.owner) {
          // The lock may have been handed to this very wait, its hand-off message still on the
          // way (a slow subscriber link): the owner is ours, the token too. Only a poll tells that
          // apart from another call of the same owner holding it (a true cycle of one).
          const reply = await poll();
          if (reply.acquired) return reply;
          holder = reply.holderOwner;
        }
        await checkDeadlock(holder);
      }
      if (now >= pollAt) {
        // Also the first re-check after subscribing: a hand-off may have been published before.
        const reply = await poll();
        if (reply.acquired) return reply;
      }
      if (granted) continue;
      await sleeper.sleep(Math.min(pollAt, heartbeatAt, deadline) - monotonic());
    }
  } catch (error) {
    // A Redis error (or a failed leave): a queue entry left behind would be handed the lock.
    if (!left) abandonMutexWait(store, keys, request);
    throw error;
  } finally {
    unregister();
    hold.release();
    ctx.signal?.removeEventListener('abort', sleeper.poke);
    ctx.stop?.removeEventListener('abort', sleeper.poke);
    // Not awaited: a round trip between the hand-off message and the caller would add to the
    // hand-off latency. The DEL is queued on the command connection before this returns, so
    // this instance's later commands see it; a stale edge of an owner that now holds the lock
    // it waited for cannot close a cycle (the walk stops at an owner already on the path).
    if (edge) detector?.clearWait(ctx.tenant, request.owner).catch(() => undefined);
  }
}

/** Leaves the queue; if the lock was handed over just before, passes it on (the caller did not get it). */
async function leaveMutexQueue(store: MutexWaitStore, keys: MutexKeys, request: MutexRequest): Promise<void> {
  const handed = await store.leaveQueue(keys, request);
  if (handed) await store.releaseMutex(keys, request.token);
}

/**
 * Best-effort cleanup after a failed acquire or wait (both calls are token-checked, so safe):
 * retried in the background while Redis is unreachable, until the queue lease and the TTL a
 * hand-off would have given are surely over. Never throws.
 */
export function abandonMutexWait(store: MutexWaitStore, keys: MutexKeys, request: MutexRequest): void {
  const until = monotonic() + Math.max(request.leaseMs, request.ttlMs);
  const retryMs = Math.max(50, Math.min(1_000, request.leaseMs / 10));
  const attempt = (): void => {
    leaveMutexQueue(store, keys, request).catch(() => {
      if (monotonic() + retryMs < until) setTimeout(attempt, retryMs).unref();
    });
  };
  attempt();
}

/**
 * Waits for a semaphore permit or a read / write hold: any message on the channel ("something
 * was freed") triggers a new attempt; otherwise it retries when the blocking hold expires, or
 * every fallbackPollMs.
 */
export async function waitForHold(ctx: WaitContext, attempt: () => Promise<HoldReply>, first: HoldReply): Promise<Acquired> {
  const sleeper = new Sleeper();
  const started = monotonic();
  const deadline = started + ctx.waitMs;
  let pollAt = started;
  const unregister = ctx.wakeups.register(ctx.channel, () => {
    pollAt = 0;
    sleeper.poke();
  });
  const hold = ctx.wakeups.hold(ctx.pattern);
  ctx.signal?.addEventListener('abort', sleeper.poke);
  ctx.stop?.addEventListener('abort', sleeper.poke);
  let last = first;
  try {
    await atMostUntil(hold.ready, deadline);
    for (;;) {
      const aborted = abortedBy(ctx);
      if (aborted) throw new LockAbortedError(ctx.key, ctx.tenant, aborted.reason);
      const now = monotonic();
      if (now >= deadline) throw new LockTimeoutError(ctx.key, ctx.waitMs, ctx.tenant);
      if (now >= pollAt) {
        const at = ctx.now();
        last = await attempt();
        if (last.acquired) return { acquired: true, token: last.token, fencingToken: last.fencingToken, pttlMs: last.pttlMs, at };
        const retry = last.retryInMs > 0 ? last.retryInMs + 2 : ctx.fallbackPollMs;
        pollAt = monotonic() + Math.min(ctx.fallbackPollMs, retry);
      }
      await sleeper.sleep(Math.min(pollAt, deadline) - monotonic());
    }
  } finally {
    unregister();
    hold.release();
    ctx.signal?.removeEventListener('abort', sleeper.poke);
    ctx.stop?.removeEventListener('abort', sleeper.poke);
  }
}

/**
 * Waits for `promise` until `deadline` (monotonic) at most. A wake-up subscription that is
 * slow to confirm (a stalled server) must not stretch a wait past its waitMs; the fallback
 * poll covers the gap, and a later failure of the subscription is covered the same way.
 */
async function atMostUntil(promise: Promise<unknown>, deadline: number): Promise<void> {
  promise.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - monotonic()))))]);
  } finally {
    clearTimeout(timer);
  }
}
