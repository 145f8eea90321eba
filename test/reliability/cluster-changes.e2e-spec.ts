import {
  CoordinationError, LockService, RateLimitService, RedisUnavailableError, type CoordinationModuleOptions, type Lock,
} from '@nest-coordination/core';
import {
  beginSlotMigration, failoverMaster, masterOf, nodeCommand, otherMaster, rejoin, reshardWithRedisCli, slotOf,
  type ClusterNode, type Failover,
} from '../harness/cluster-ops.js';
import { startRedisCluster, type RedisClusterHandle } from '../harness/redis-server.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { uniquePrefix } from '../support/drivers.js';
import { sleep, until } from '../support/wait.js';

/**
 * Locks and rate limits in continuous use by several loops on two module instances while the
 * cluster under them changes: the slot holding their keys migrates live (held half-moved, so
 * the traffic meets ASK and TRYAGAIN), is resharded back with redis-cli, and its master is failed
 * over gracefully and then killed. Checked throughout: never two mutex holders at once, fencing
 * tokens only grow and a stale token's write is refused, never more permits out than the
 * semaphore has, never more admitted than the limit in any sliding window (nor in a fixed
 * window), every failure a typed CoordinationError, and everything works again afterwards.
 *
 * One private cluster (3 masters, 3 replicas) for the file; the tests run in order, each starting
 * from the topology the one before left.
 */

const SW = { limit: 15, windowMs: 1_000, algorithm: 'sliding-window' as const, name: 'sw' };
const FW = { limit: 15, windowMs: 1_000, algorithm: 'fixed-window' as const, name: 'fw' };
const PERMITS = 2;

interface Admission {
  sentAt: number;
  receivedAt: number;
  /** Fixed window: end of the counting window (local clock). */
  resetAt: number;
}

/** What the loops saw during one phase. */
class Observations {
  /** The mutex's current holder in the test's view; it stops counting once its handle says it lost the lock. */
  mutexHolder: Lock | undefined;
  readonly permitsOut = new Set<Lock>();
  lastFence = 0;
  readonly overlaps: string[] = [];
  readonly permitOverflows: number[] = [];
  readonly tokenRegressions: string[] = [];
  readonly ownWriteRefused: number[] = [];
  readonly staleWriteAccepted: number[] = [];
  readonly untyped: string[] = [];
  readonly typed = new Map<string, number>();
  readonly done = new Map<string, number>();
  readonly sliding: Admission[] = [];
  readonly fixed: Admission[] = [];

  fail(operation: string, error: unknown): void {
    if (error instanceof CoordinationError) {
      this.typed.set(`${operation}:${error.code}`, (this.typed.get(`${operation}:${error.code}`) ?? 0) + 1);
    } else {
      this.untyped.push(`${operation}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    }
  }

  succeeded(operation: string): void {
    this.done.set(operation, (this.done.get(operation) ?? 0) + 1);
  }

  count(operation: string): number {
    return this.done.get(operation) ?? 0;
  }
}

describe('locks and rate limits while the cluster changes', () => {
  let cluster: RedisClusterHandle;
  let apps: BootedModule[] = [];
  /** The resource whose keys (mutex, semaphore, fence guard, both counters) all live in one slot. */
  let resource: string;
  let slot: number;
  /** The master that served the slot at the start; later phases move it back and fail it over. */
  let home: ClusterNode;
  /** Options of every module instance of the file (one key prefix: they share the keys). */
  let options: CoordinationModuleOptions;

  /** A resource whose slot is not `slot`. */
  async function resourceOutside(notSlot: number): Promise<string> {
    for (let i = 0; ; i++) if ((await slotOf(cluster, `{other${i}}`)) !== notSlot) return `other${i}`;
  }

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, replicas: 1 });
    // A resource whose slot is in the lowest range, so that once it moved to the master with the
    // next range it is that master's lowest slot: redis-cli reshard moves exactly that slot back.
    for (let i = 0; ; i++) {
      resource = `job${i}`;
      slot = await slotOf(cluster, `{${resource}}`);
      home = await masterOf(cluster, slot);
      if (home.slots[0] === 0) break;
    }
    options = {
      prefix: uniquePrefix('cc'),
      connection: { cluster: cluster.nodes },
      // A rate limit Redis cannot answer is denied (the default answers from a local limiter,
      // which admits by itself and would void the admitted <= limit check), and every check goes
      // to Redis (no deny cache answering a blocked key locally).
      rateLimit: { onRedisUnavailable: 'fail-closed', denyCacheMaxEntries: 0 },
      // The breaker opens as by default, but stays open 0.5 s instead of 5 s: the phases are short.
      breaker: { openMs: 500 },
      reconnect: { baseDelayMs: 20, maxDelayMs: 200 },
      health: { pingIntervalMs: 0 },
    };
    apps = [await bootModule(options), await bootModule(options)];
  }, 60_000);

  afterAll(async () => {
    for (const app of apps) await app.close();
    await cluster?.stop();
  });

  /**
   * Runs the loops (per instance: two mutex loops, one semaphore loop, one loop per rate-limit
   * algorithm) until they have worked, applies `change`, and stops them once every operation has
   * succeeded again on every instance after it.
   */
  async function underLoad(change: () => Promise<void>): Promise<Observations> {
    const seen = new Observations();
    let stopped = false;
    const loops: Promise<void>[] = [];
    apps.forEach((app, n) => {
      const locks = app.get(LockService);
      const limits = app.get(RateLimitService);
      for (let m = 0; m < 2; m++) loops.push(mutexLoop(locks, `${n}`, seen, () => stopped));
      loops.push(semaphoreLoop(locks, `${n}`, seen, () => stopped));
      loops.push(rateLimitLoop(limits, 'sw', `${n}`, seen, () => stopped));
      loops.push(rateLimitLoop(limits, 'fw', `${n}`, seen, () => stopped));
    });
    const operations = apps.flatMap((_, n) => ['mutex', 'permit', 'sw', 'fw'].map((op) => `${op}@${n}`));
    try {
      await until(() => operations.every((op) => seen.count(op) >= 3), { timeoutMs: 10_000, message: () => `every loop to work: ${[...seen.done]}` });
      await change();
      const after = new Map(operations.map((op) => [op, seen.count(op)]));
      await until(() => operations.every((op) => seen.count(op) >= after.get(op)! + 3), {
        timeoutMs: 15_000,
        message: () => `every operation to succeed again after the change: ${[...seen.done]} (typed failures ${[...seen.typed]}, untyped ${seen.untyped.slice(0, 5)})`,
      });
    } finally {
      stopped = true;
      await Promise.all(loops);
    }
    return seen;
  }

  async function mutexLoop(locks: LockService, instance: string, seen: Observations, stopped: () => boolean): Promise<void> {
    while (!stopped()) {
      let lock;
      try {
        lock = await locks.acquire(resource, { ttlMs: 2_000, waitMs: 1_000 });
      } catch (error) {
        seen.fail('locks.acquire', error);
        await backOff();
        continue;
      }
      const token = lock.fencingToken;
      // A holder whose lock expired under it (its renewals met an outage) has been told: its
      // handle says lost, and from then on only fencing keeps its late writes out.
      const previousHolder = seen.mutexHolder;
      if (previousHolder?.isHeld()) seen.overlaps.push(`${token} acquired while ${previousHolder.fencingToken} held`);
      seen.mutexHolder = lock;
      if (token <= seen.lastFence) seen.tokenRegressions.push(`${token} after ${seen.lastFence}`);
      const previous = seen.lastFence;
      seen.lastFence = Math.max(seen.lastFence, token);
      try {
        // The protected write: accepted for the newest token (unless this holder lost the lock
        // meanwhile and a newer one wrote)...
        if (!(await locks.checkFence(resource, token)) && lock.isHeld()) seen.ownWriteRefused.push(token);
        // ...and refused for the previous holder's, a stale holder writing late.
        if (previous > 0 && (await locks.checkFence(resource, previous))) seen.staleWriteAccepted.push(previous);
        seen.succeeded(`mutex@${instance}`);
      } catch (error) {
        seen.fail('locks.checkFence', error);
      } finally {
        if (seen.mutexHolder === lock) seen.mutexHolder = undefined;
        await lock.release().catch((error: unknown) => seen.fail('lock.release', error));
      }
    }
  }

  async function semaphoreLoop(locks: LockService, instance: string, seen: Observations, stopped: () => boolean): Promise<void> {
    while (!stopped()) {
      let permit;
      try {
        permit = await locks.acquirePermit(resource, { permits: PERMITS, ttlMs: 2_000, waitMs: 1_000 });
      } catch (error) {
        seen.fail('locks.acquirePermit', error);
        await backOff();
        continue;
      }
      const held = [...seen.permitsOut].filter((p) => p.isHeld()).length + 1;
      if (held > PERMITS) seen.permitOverflows.push(held);
      seen.permitsOut.add(permit);
      // Holds the permit for a moment on purpose, so that the semaphore fills and waiters queue.
      await sleep(5);
      seen.permitsOut.delete(permit);
      seen.succeeded(`permit@${instance}`);
      await permit.release().catch((error: unknown) => seen.fail('permit.release', error));
    }
  }

  async function rateLimitLoop(limits: RateLimitService, which: 'sw' | 'fw', instance: string, seen: Observations, stopped: () => boolean): Promise<void> {
    const policy = which === 'sw' ? SW : FW;
    while (!stopped()) {
      const sentAt = Date.now();
      try {
        const result = await limits.consume(resource, policy);
        const receivedAt = Date.now();
        if (result.allowed) {
          (which === 'sw' ? seen.sliding : seen.fixed).push({ sentAt, receivedAt, resetAt: result.resetAt.getTime() });
        }
        if (result.source === 'redis') seen.succeeded(`${which}@${instance}`);
        else seen.typed.set(`rateLimit.consume:${result.source}`, (seen.typed.get(`rateLimit.consume:${result.source}`) ?? 0) + 1);
      } catch (error) {
        seen.fail('rateLimit.consume', error);
      }
      // Paced, so that both windows see admissions and denials rather than one burst.
      await sleep(10);
    }
  }

  function expectInvariants(seen: Observations): void {
    expect(seen.untyped).toEqual([]);
    expect(seen.overlaps).toEqual([]);
    expect(seen.tokenRegressions).toEqual([]);
    expect(seen.ownWriteRefused).toEqual([]);
    expect(seen.staleWriteAccepted).toEqual([]);
    expect(seen.permitOverflows).toEqual([]);
    expect(slidingWindowExcess(seen.sliding, SW.limit, SW.windowMs)).toEqual([]);
    expect(fixedWindowExcess(seen.fixed, FW.limit, FW.windowMs)).toEqual([]);
  }

  it('keeps the invariants while the slot migrates live, held open with its keys split between two masters', async () => {
    const target = await otherMaster(cluster, home);
    await resetErrorStats([home, target]);
    const seen = await underLoad(async () => {
      const migration = await beginSlotMigration(cluster, slot, target);
      const total = await migration.keysLeft();
      expect(total).toBeGreaterThan(1);
      // Half the keys moved: the source answers ASK for the moved ones, and a multi-key script
      // whose keys are split (or missing on the target) gets TRYAGAIN. Then all moved but the
      // slot still open: every call is redirected with ASK. Then handed over: MOVED.
      await migration.moveKeys({ limit: Math.ceil(total / 2), batch: 1 });
      await holdOpen();
      await migration.moveKeys();
      await holdOpen();
      await migration.finish();
    });
    expectInvariants(seen);
    expect(await masterOf(cluster, slot)).toMatchObject({ port: target.port });
    // The traffic did meet the migration (redirections the two masters sent while it was open).
    const redirections = await errorStats([home, target]);
    expect(redirections.ASK).toBeGreaterThan(0);
    expect(redirections.TRYAGAIN).toBeGreaterThan(0);
  }, 60_000);

  it('keeps the invariants while redis-cli --cluster reshard moves the slot back', async () => {
    const seen = await underLoad(async () => {
      // The slot is the lowest of its master now, so redis-cli moves exactly it.
      expect(await reshardWithRedisCli(cluster, slot, home)).toEqual([slot]);
    });
    expectInvariants(seen);
    expect(await masterOf(cluster, slot)).toMatchObject({ port: home.port });
  }, 60_000);

  it('keeps the invariants through a graceful failover (CLUSTER FAILOVER) of the master holding the keys', async () => {
    let promoted!: ClusterNode;
    const seen = await underLoad(async () => {
      ({ promoted } = await failoverMaster(cluster, home, 'graceful'));
    });
    expectInvariants(seen);
    expect(promoted.port).not.toBe(home.port);
    expect(await masterOf(cluster, slot)).toMatchObject({ port: promoted.port });
    home = promoted;
  }, 60_000);

  it('keeps the invariants when the master holding the keys is killed and its replica promoted', async () => {
    let failover!: Failover;
    const seen = await underLoad(async () => {
      // Killed once its replica has every write it acknowledged: the invariants below assume
      // that nothing acknowledged is lost (an unlucky crash can lose the last writes: README).
      failover = await failoverMaster(cluster, home, 'kill', { lossless: true });
    });
    expectInvariants(seen);
    expect(await masterOf(cluster, slot)).toMatchObject({ port: failover.promoted.port });
    // The outage was seen, and typed: the slot's master was unreachable until the promotion.
    expect([...seen.typed.keys()].some((k) => k.endsWith(':E_REDIS_UNAVAILABLE') || k.endsWith(':E_CIRCUIT_OPEN') || k.endsWith(':fail-closed'))).toBe(true);
    await rejoin(cluster, failover.demoted);
    home = failover.promoted;
  }, 60_000);

  it('keeps serving the other slots while calls on a migrating slot fail: a slot in motion does not open the breaker', async () => {
    // A breaker that would stay open for the rest of the test once opened.
    const app = await bootModule({ ...options, breaker: { failureThreshold: 3, openMs: 60_000 } });
    try {
      const locks = app.get(LockService);
      const moving = `${resource}-moving`;
      const movingSlot = await slotOf(cluster, `{${moving}}`);
      const still = await resourceOutside(movingSlot);
      // A lock's keys on the moving slot: its fence counter (a released lock) and, below, its lock.
      await (await locks.acquire(moving, { ttlMs: 5_000 })).release();
      const migration = await beginSlotMigration(cluster, movingSlot, await otherMaster(cluster, await masterOf(cluster, movingSlot)));
      try {
        // The lock key is missing on both nodes and the counter is on the source: TRYAGAIN until
        // the client gives up, for every attempt.
        const failures = await Promise.all(Array.from({ length: 5 }, () => locks.acquire(moving, { ttlMs: 5_000 }).then(
          (lock) => lock.release().then(() => 'acquired'), (error: unknown) => error,
        )));
        expect(failures.filter((f) => f instanceof RedisUnavailableError).length).toBeGreaterThanOrEqual(3);
        expect(app.core.connection!.breaker.state).toBe('closed');
        const other = await locks.acquire(still, { ttlMs: 5_000 });
        await other.release();
      } finally {
        await migration.finish();
      }
      await (await locks.acquire(moving, { ttlMs: 5_000 })).release();
    } finally {
      await app.close();
    }
  }, 30_000);

  it('hands a mutex released during a migration to its waiter, or fails the release typed and frees it by expiry', async () => {
    const [a, b] = apps.map((app) => app.get(LockService));
    const key = `${resource}-handover`;
    const keySlot = await slotOf(cluster, `{${key}}`);
    const holder = await a.acquire(key, { ttlMs: 1_000 });
    const waiting = b.acquire(key, { ttlMs: 1_000, waitMs: 10_000 }).then((lock) => lock, (error: unknown) => error);
    await until(async () => (await a.inspect(key)).waiters === 1, { timeoutMs: 5_000, message: 'the second instance to queue' });
    const migration = await beginSlotMigration(cluster, keySlot, await otherMaster(cluster, await masterOf(cluster, keySlot)));
    // The release deletes the lock and writes it for the waiter: with the slot migrating, Redis
    // stops the script at that write (the lock key is missing on the source by then).
    const released = await holder.release().then(() => 'released', (error: unknown) => error);
    await migration.finish();
    if (released !== 'released') expect(released).toBeInstanceOf(CoordinationError);
    const next = await waiting;
    if (next instanceof Error) expect(next).toBeInstanceOf(CoordinationError);
    // Whichever way it went, the lock is not stuck: the waiter has it, or anyone gets it once
    // the abandoned hold expired (1 s TTL).
    const lock = next instanceof Error
      ? await until(() => b.tryAcquire(key, { ttlMs: 1_000 }), { timeoutMs: 5_000, message: 'the lock to be free again' })
      : (next as Lock);
    expect(lock.isHeld()).toBe(true);
    await lock.release();
  }, 30_000);
});

/** A caller's pause after a failed attempt (an open breaker fails at once: no busy loop). */
function backOff(): Promise<void> {
  return sleep(20);
}

/** Lets the loops run against a half-done migration for a while, on purpose: that state is under test. */
function holdOpen(): Promise<void> {
  return sleep(800);
}

async function resetErrorStats(nodes: ClusterNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => nodeCommand(n, 'CONFIG', 'RESETSTAT')));
}

/** ASK / MOVED / TRYAGAIN replies the nodes sent (INFO errorstats), summed. */
async function errorStats(nodes: ClusterNode[]): Promise<Record<string, number>> {
  const totals: Record<string, number> = {};
  for (const node of nodes) {
    const info = await nodeCommand<string>(node, 'INFO', 'errorstats');
    for (const [, code, count] of info.matchAll(/errorstat_(\w+):count=(\d+)/g)) totals[code] = (totals[code] ?? 0) + Number(count);
  }
  return totals;
}

/**
 * Sets of limit + 1 admissions that certainly fell within one window. Each admission happened on
 * the server at some instant between its request's send and reply, so limit + 1 of them span at
 * most (latest reply - earliest send): under windowMs, the window admitted one too many.
 */
function slidingWindowExcess(admissions: Admission[], limit: number, windowMs: number): string[] {
  const bySend = [...admissions].sort((a, b) => a.sentAt - b.sentAt);
  const excess: string[] = [];
  for (let i = 0; i + limit < bySend.length; i++) {
    const replies = bySend.slice(i + 1).map((a) => a.receivedAt).sort((a, b) => a - b);
    const span = replies[limit - 1] - bySend[i].sentAt;
    if (span < windowMs) excess.push(`${limit + 1} admissions within ${span} ms from ${bySend[i].sentAt}`);
  }
  return excess;
}

/** Windows (by their end, rounded to the window grid) that admitted more than `limit`. */
function fixedWindowExcess(admissions: Admission[], limit: number, windowMs: number): string[] {
  const perWindow = new Map<number, number>();
  for (const a of admissions) {
    const window = Math.round(a.resetAt / windowMs);
    perWindow.set(window, (perWindow.get(window) ?? 0) + 1);
  }
  return [...perWindow].filter(([, n]) => n > limit).map(([w, n]) => `window ending ${w * windowMs}: ${n} admitted`);
}
