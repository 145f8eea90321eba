import type { LockKeys } from '../../../libs/coordination/src/locks/lock-keys.js';
import type {
  LockStore, MutexKeys, MutexReply, MutexRequest, ReadWriteKeys, ReadWriteRequest, SemaphoreKeys,
} from '../../../libs/coordination/src/locks/lock-store.interface.js';
import { decodeHandOff } from '../../../libs/coordination/src/locks/queue-codec.js';
import { until } from '../../support/wait.js';

/** One lock store under test, with the keys it works on and a way to let its time pass. */
export interface LockStoreUnderTest {
  readonly store: LockStore;
  readonly keys: LockKeys;
  /**
   * Lets `ms` pass on the store's clock: a ManualClock jumps (exact); on Redis, which expires
   * keys on its own clock, this waits until the server's TIME has moved on that far.
   */
  elapse(ms: number): Promise<void>;
  /** The store's clock in ms: the ManualClock in memory, the server's TIME on Redis. */
  now(): Promise<number>;
  /**
   * The backend loses its data, as Redis restarted without persistence: on Redis every key
   * of the store's prefix is deleted; in memory (a process restart) a new store on the same
   * clock. Returns the store to use from then on.
   */
  loseData(): Promise<LockStore>;
  close(): Promise<void>;
}

const TENANT = 'acme';
/** A fencing token: a positive safe integer (tokens follow the clock in microseconds, see lua/fence.lua). */
const isToken = (n: number) => Number.isSafeInteger(n) && n > 0;
/** The fencing token of a granted reply (throws on a refusal, so a test fails naming it). */
const tokenOf = (reply: { acquired: true; fencingToken: number } | { acquired: false }): number => {
  if (!reply.acquired) throw new Error(`not acquired: ${JSON.stringify(reply)}`);
  return reply.fencingToken;
};
/** Long enough that nothing expires during a test unless the test lets it. */
const LONG = 60_000;

/**
 * The lock store contract, asserted on the store interfaces themselves (no service, waiter or
 * renewal): mutex acquire / re-entry / release / extend / expiry, the fair wait queue (order,
 * hand-off, leave, heartbeat, lease expiry), semaphores, read-write locks, fence checks and
 * deadlock wait-for edges. Every implementation must pass it unchanged; on Redis it also holds
 * the Lua and TypeScript queue codecs together (entries built by one are read by the other).
 *
 * @example
 * describe.each(DRIVERS)('LockStore contract ($name)', (driver) => describeLockStoreContract(() => storeFor(driver)));
 */
export function describeLockStoreContract(createStore: () => Promise<LockStoreUnderTest>): void {
  let s: LockStoreUnderTest;
  let n = 0;
  const messages: Array<{ channel: string; message: string }> = [];
  beforeAll(async () => {
    s = await createStore();
    for (const kind of ['lock', 'semaphore', 'rwlock'] as const) {
      // Each pattern delivers its own channels only: a message seen twice would fail the counts below.
      await s.store.listen(s.keys.channelPattern(TENANT, kind), (channel, message) => messages.push({ channel, message }));
    }
  });
  afterAll(() => s.close());

  const resource = () => `r${++n}`;
  const mutex = (): MutexKeys => s.keys.mutex(TENANT, resource());
  const semaphore = (): SemaphoreKeys => s.keys.semaphore(TENANT, resource());
  const readWrite = (): ReadWriteKeys => s.keys.readWrite(TENANT, resource());
  const req = (token: string, owner: string, more: Partial<MutexRequest> = {}): MutexRequest => ({
    token, owner, ttlMs: LONG, reentrant: false, enqueue: false, priority: 0, leaseMs: LONG, queued: false, ...more,
  });
  /** A queued waiter's later attempt. */
  const poll = (k: MutexKeys, r: MutexRequest) => s.store.acquireMutex(k, { ...r, queued: true });
  const position = async (k: MutexKeys, r: MutexRequest) => ((await poll(k, r)) as Extract<MutexReply, { acquired: false }>).position;
  const messageOn = (channel: string, matches: (message: string) => boolean = () => true) =>
    until(() => messages.find((m) => m.channel === channel && matches(m.message)), { timeoutMs: 5_000, message: `a wake-up message on ${channel}` });
  const rw = (mode: 'r' | 'w', token: string, more: Partial<ReadWriteRequest> = {}): ReadWriteRequest => ({
    mode, token, ttlMs: LONG, waiting: false, leaseMs: LONG, ...more,
  });

  describe('mutex', () => {
    it('takes a free lock, refuses another token naming the holder, and reports the holder', async () => {
      const k = mutex();
      expect(await s.store.holderOwner(k.lock)).toBeNull();
      const taken = await s.store.acquireMutex(k, req('a', 'A'));
      expect(taken).toEqual({ acquired: true, token: 'a', fencingToken: expect.any(Number), pttlMs: LONG, reentered: false });
      expect(isToken((taken as { fencingToken: number }).fencingToken)).toBe(true);
      const refused = await s.store.acquireMutex(k, req('b', 'B'));
      expect(refused).toMatchObject({ acquired: false, holderOwner: 'A', position: -1 });
      expect(refused.pttlMs).toBeGreaterThan(LONG - 5_000);
      expect(refused.pttlMs).toBeLessThanOrEqual(LONG);
      expect(await s.store.holderOwner(k.lock)).toBe('A');
    });

    it('re-enters for the same owner only when asked, under the first token, and counts releases down', async () => {
      const k = mutex();
      const first = await s.store.acquireMutex(k, req('a', 'A', { reentrant: true }));
      expect(await s.store.acquireMutex(k, req('a2', 'A'))).toMatchObject({ acquired: false, holderOwner: 'A' });
      expect(await s.store.acquireMutex(k, req('a2', 'A', { reentrant: true }))).toMatchObject({
        acquired: true, token: 'a', fencingToken: (first as { fencingToken: number }).fencingToken, reentered: true,
      });
      expect(await s.store.acquireMutex(k, req('b', 'B', { reentrant: true }))).toMatchObject({ acquired: false, holderOwner: 'A' });
      expect(await s.store.releaseMutex(k, 'a2')).toBe('lost');
      expect(await s.store.releaseMutex(k, 'a')).toBe('held');
      expect(await s.store.holderOwner(k.lock)).toBe('A');
      expect(await s.store.releaseMutex(k, 'a')).toBe('released');
      expect(await s.store.holderOwner(k.lock)).toBeNull();
      expect(await s.store.releaseMutex(k, 'a')).toBe('lost');
    });

    it("extends only the holder's lock, and never shortens a lock held more than once", async () => {
      const k = mutex();
      await s.store.acquireMutex(k, req('a', 'A', { reentrant: true }));
      expect(await s.store.extendMutex(k, 'b', 1_000)).toBe(false);
      expect(await s.store.extendMutex(k, 'a', 30_000)).toBe(true);
      const pttl = async () => (await s.store.acquireMutex(k, req('x', 'X'))).pttlMs;
      expect(await pttl()).toBeLessThanOrEqual(30_000);
      expect(await pttl()).toBeGreaterThan(25_000);
      await s.store.acquireMutex(k, req('a2', 'A', { reentrant: true })); // held twice now, for LONG
      expect(await s.store.extendMutex(k, 'a', 1_000)).toBe(true);
      expect(await pttl()).toBeGreaterThan(LONG - 5_000);
    });

    it('expires at its TTL: the old token can neither extend nor release, the next holder gets a larger fencing token', async () => {
      const k = mutex();
      const first = await s.store.acquireMutex(k, req('a', 'A', { ttlMs: 50 }));
      await s.elapse(60);
      expect(await s.store.holderOwner(k.lock)).toBeNull();
      expect(await s.store.extendMutex(k, 'a', 1_000)).toBe(false);
      expect(await s.store.releaseMutex(k, 'a')).toBe('lost');
      const next = await s.store.acquireMutex(k, req('b', 'B'));
      expect(next).toMatchObject({ acquired: true, token: 'b' });
      expect(tokenOf(next)).toBeGreaterThan(tokenOf(first));
    });
  });

  describe('wait queue', () => {
    it('queues by priority, then arrival, and reports each position', async () => {
      const k = mutex();
      await s.store.acquireMutex(k, req('h', 'H'));
      const [w1, w2, w3, w4] = [req('w1', 'W1', { enqueue: true }), req('w2', 'W2', { enqueue: true }),
        req('w3', 'W3', { enqueue: true, priority: 5 }), req('w4', 'W4', { enqueue: true, priority: 5 })];
      expect(await s.store.acquireMutex(k, w1)).toMatchObject({ acquired: false, holderOwner: 'H', position: 0 });
      expect(await s.store.acquireMutex(k, w2)).toMatchObject({ acquired: false, position: 1 });
      expect(await s.store.acquireMutex(k, w3)).toMatchObject({ acquired: false, position: 0 });
      expect(await s.store.acquireMutex(k, w4)).toMatchObject({ acquired: false, position: 1 });
      expect(await s.store.acquireMutex(k, req('x', 'X'))).toMatchObject({ acquired: false, holderOwner: 'H', position: -1 });
      expect(await Promise.all([w3, w4, w1, w2].map((w) => position(k, w)))).toEqual([0, 1, 2, 3]);
    });

    it('hands the lock to the head on release: a new fencing token, a hand-off message, the holder the queue entry names', async () => {
      const k = mutex();
      const holder = await s.store.acquireMutex(k, req('h', 'H'));
      // An owner with the separator: the entry codec must keep it whole.
      const w1 = req('w1', 'worker|1', { enqueue: true, ttlMs: 5_000 });
      const w2 = req('w2', 'W2', { enqueue: true });
      await s.store.acquireMutex(k, w1);
      // Queued: the heartbeat finds the entry only if the codec kept `worker|1` whole.
      expect(await s.store.heartbeat(k, w1, LONG)).toBe(true);
      await s.store.acquireMutex(k, w2);
      expect(await s.store.releaseMutex(k, 'h')).toBe('released');
      expect(await s.store.holderOwner(k.lock)).toBe('worker|1');
      const handOff = await messageOn(k.channel, (m) => decodeHandOff(m)?.token === 'w1');
      const { fencingToken } = decodeHandOff(handOff.message)!;
      expect(fencingToken).toBeGreaterThan(tokenOf(holder));
      expect(decodeHandOff(handOff.message)).toEqual({ token: 'w1', fencingToken, ttlMs: 5_000, nextHead: 'w2' });
      const granted = await poll(k, w1);
      expect(granted).toMatchObject({ acquired: true, token: 'w1', fencingToken, reentered: false });
      expect(granted.pttlMs).toBeLessThanOrEqual(5_000);
      expect(granted.pttlMs).toBeGreaterThan(0);
      expect(await s.store.heartbeat(k, w1, LONG)).toBe(false);
      expect(await poll(k, w2)).toMatchObject({ acquired: false, holderOwner: 'worker|1', position: 0 });
    });

    it('gives a free lock with queued waiters to the head only', async () => {
      const k = mutex();
      // The holder's TTL must outlast the two enqueues below, even on a busy machine.
      await s.store.acquireMutex(k, req('h', 'H', { ttlMs: 1_000 }));
      const [w1, w2] = [req('w1', 'W1', { enqueue: true, ttlMs: 7_000 }), req('w2', 'W2', { enqueue: true })];
      await s.store.acquireMutex(k, w1);
      await s.store.acquireMutex(k, w2);
      await s.elapse(1_010);
      expect(await s.store.acquireMutex(k, req('x', 'X'))).toEqual({ acquired: false, holderOwner: null, pttlMs: -1, position: -1 });
      expect(await poll(k, w2)).toEqual({ acquired: false, holderOwner: null, pttlMs: -1, position: 1 });
      expect(await poll(k, w1)).toMatchObject({ acquired: true, token: 'w1', pttlMs: 7_000, reentered: false });
      expect(await s.store.holderOwner(k.lock)).toBe('W1');
    });

    it('lets a waiter leave; one leaving after a hand-off gets the lock back to release', async () => {
      const k = mutex();
      const holder = await s.store.acquireMutex(k, req('h', 'H'));
      const [w1, w2] = [req('w1', 'W1', { enqueue: true }), req('w2', 'W2', { enqueue: true })];
      await s.store.acquireMutex(k, w1);
      await s.store.acquireMutex(k, w2);
      expect(await s.store.leaveQueue(k, w1)).toBeNull();
      expect(await s.store.heartbeat(k, w1, LONG)).toBe(false);
      expect(await position(k, w2)).toBe(0);
      await s.store.releaseMutex(k, 'h');
      const handed = await s.store.leaveQueue(k, w2);
      expect(handed!.fencingToken).toBeGreaterThan(tokenOf(holder));
      expect(handed!.pttlMs).toBeGreaterThan(0);
      expect(await s.store.releaseMutex(k, 'w2')).toBe('released');
      expect(await s.store.holderOwner(k.lock)).toBeNull();
    });

    it('drops waiters whose lease ran out: the hand-off skips them', async () => {
      const k = mutex();
      await s.store.acquireMutex(k, req('h', 'H'));
      const [gone, alive] = [req('gone', 'GONE', { enqueue: true, leaseMs: 50 }), req('alive', 'ALIVE', { enqueue: true })];
      await s.store.acquireMutex(k, gone);
      await s.store.acquireMutex(k, alive);
      await s.elapse(60);
      expect(await s.store.releaseMutex(k, 'h')).toBe('released');
      expect(await s.store.holderOwner(k.lock)).toBe('ALIVE');
      expect(await s.store.heartbeat(k, gone, LONG)).toBe(false);
    });

    it("keeps a waiter whose heartbeat refreshed its lease in time", async () => {
      // Margins of half a lease: Redis time passes for real, and a loaded machine may overshoot.
      const k = mutex();
      await s.store.acquireMutex(k, req('h', 'H'));
      const waiter = req('w', 'W', { enqueue: true, leaseMs: 2_000 });
      await s.store.acquireMutex(k, waiter);
      await s.elapse(1_000);
      expect(await s.store.heartbeat(k, waiter, 2_000)).toBe(true);
      await s.elapse(1_300);
      await s.store.releaseMutex(k, 'h');
      expect(await s.store.holderOwner(k.lock)).toBe('W');
    });
  });

  describe('semaphore', () => {
    it('grants at most `permits` permits, each with a new fencing token; a holder re-acquiring refreshes its own', async () => {
      const k = semaphore();
      const first = await s.store.acquirePermit(k, { token: 'p1', permits: 2, ttlMs: LONG });
      expect(first).toEqual({ acquired: true, token: 'p1', fencingToken: expect.any(Number), pttlMs: LONG });
      const f = (first as { fencingToken: number }).fencingToken;
      expect(isToken(f)).toBe(true);
      const second = tokenOf(await s.store.acquirePermit(k, { token: 'p2', permits: 2, ttlMs: LONG }));
      expect(second).toBeGreaterThan(f);
      const refused = await s.store.acquirePermit(k, { token: 'p3', permits: 2, ttlMs: LONG });
      expect(refused.acquired).toBe(false);
      expect((refused as { retryInMs: number }).retryInMs).toBeGreaterThan(LONG - 5_000);
      const refreshed = await s.store.acquirePermit(k, { token: 'p1', permits: 2, ttlMs: LONG });
      expect(refreshed).toMatchObject({ acquired: true, token: 'p1' });
      expect(tokenOf(refreshed)).toBeGreaterThan(second);
      expect((await s.store.acquirePermit(k, { token: 'p3', permits: 2, ttlMs: LONG })).acquired).toBe(false);
    });

    it('returns a permit once, waking the waiters, and extends only a held one', async () => {
      const k = semaphore();
      await s.store.acquirePermit(k, { token: 'p1', permits: 1, ttlMs: LONG });
      expect(await s.store.extendPermit(k, 'p1', LONG)).toBe(true);
      expect(await s.store.extendPermit(k, 'other', LONG)).toBe(false);
      expect(await s.store.releasePermit(k, 'p1')).toBe('released');
      expect((await messageOn(k.channel)).message).toBe('f');
      expect(await s.store.releasePermit(k, 'p1')).toBe('lost');
      expect((await s.store.acquirePermit(k, { token: 'p2', permits: 1, ttlMs: LONG })).acquired).toBe(true);
    });

    it('lets an expired permit go: it can neither extend nor release, and its place is free', async () => {
      const k = semaphore();
      await s.store.acquirePermit(k, { token: 'p1', permits: 1, ttlMs: 50 });
      await s.elapse(60);
      expect(await s.store.extendPermit(k, 'p1', LONG)).toBe(false);
      expect(await s.store.releasePermit(k, 'p1')).toBe('lost');
      expect((await s.store.acquirePermit(k, { token: 'p2', permits: 1, ttlMs: LONG })).acquired).toBe(true);
    });
  });

  describe('read-write', () => {
    it('admits many readers or one writer; a waiting writer turns new readers away until it gives up', async () => {
      const k = readWrite();
      const first = await s.store.acquireReadWrite(k, rw('r', 'r1'));
      expect(first).toEqual({ acquired: true, token: 'r1', fencingToken: expect.any(Number), pttlMs: LONG });
      const f = (first as { fencingToken: number }).fencingToken;
      expect(isToken(f)).toBe(true);
      expect(tokenOf(await s.store.acquireReadWrite(k, rw('r', 'r2')))).toBeGreaterThan(f);
      const writer = await s.store.acquireReadWrite(k, rw('w', 'w1'));
      expect(writer.acquired).toBe(false);
      expect((writer as { retryInMs: number }).retryInMs).toBeGreaterThan(LONG - 5_000);
      expect((await s.store.acquireReadWrite(k, rw('r', 'r3'))).acquired).toBe(true);
      expect((await s.store.acquireReadWrite(k, rw('w', 'w1', { waiting: true }))).acquired).toBe(false);
      expect(await s.store.acquireReadWrite(k, rw('r', 'r4'))).toEqual({ acquired: false, retryInMs: -1 });
      await s.store.abandonWrite(k, 'someone-else');
      expect((await s.store.acquireReadWrite(k, rw('r', 'r4'))).acquired).toBe(false);
      await s.store.abandonWrite(k, 'w1');
      expect((await messageOn(k.channel)).message).toBe('f');
      expect((await s.store.acquireReadWrite(k, rw('r', 'r4'))).acquired).toBe(true);
    });

    it('gives the lock to a writer once the last reader left, waking the waiters then', async () => {
      const k = readWrite();
      await s.store.acquireReadWrite(k, rw('r', 'r1'));
      const f = tokenOf(await s.store.acquireReadWrite(k, rw('r', 'r2')));
      expect(await s.store.releaseReadWrite(k, 'r', 'r1')).toBe('released');
      expect(await s.store.releaseReadWrite(k, 'r', 'r1')).toBe('lost');
      expect(await s.store.releaseReadWrite(k, 'r', 'r2')).toBe('released');
      expect((await messageOn(k.channel)).message).toBe('f');
      // Messages of one channel arrive in order: a wake-up from the first release would be here by now.
      expect(messages.filter((m) => m.channel === k.channel)).toHaveLength(1);
      const writer = await s.store.acquireReadWrite(k, rw('w', 'w1', { waiting: true }));
      expect(writer).toMatchObject({ acquired: true, token: 'w1' });
      expect(tokenOf(writer)).toBeGreaterThan(f);
      const reader = await s.store.acquireReadWrite(k, rw('r', 'r3'));
      expect((reader as { retryInMs: number }).retryInMs).toBeGreaterThan(LONG - 5_000);
      expect((await s.store.acquireReadWrite(k, rw('w', 'w2'))).acquired).toBe(false);
      expect(await s.store.extendReadWrite(k, 'w', 'w1', LONG)).toBe(true);
      expect(await s.store.extendReadWrite(k, 'w', 'w2', LONG)).toBe(false);
      expect(await s.store.releaseReadWrite(k, 'w', 'w2')).toBe('lost');
      expect(await s.store.releaseReadWrite(k, 'w', 'w1')).toBe('released');
      expect((await s.store.acquireReadWrite(k, rw('r', 'r3'))).acquired).toBe(true);
    });

    it('lets expired readers, writers and writer-waiting flags go', async () => {
      const k = readWrite();
      await s.store.acquireReadWrite(k, rw('r', 'r1', { ttlMs: 50 }));
      const other = readWrite();
      await s.store.acquireReadWrite(other, rw('r', 'long'));
      await s.store.acquireReadWrite(other, rw('w', 'w1', { waiting: true, leaseMs: 50 }));
      const writer = readWrite();
      await s.store.acquireReadWrite(writer, rw('w', 'w2', { ttlMs: 50 }));
      await s.elapse(60);
      expect(await s.store.extendReadWrite(k, 'r', 'r1', LONG)).toBe(false);
      expect(await s.store.releaseReadWrite(k, 'r', 'r1')).toBe('lost');
      expect((await s.store.acquireReadWrite(k, rw('w', 'w3'))).acquired).toBe(true);
      expect((await s.store.acquireReadWrite(other, rw('r', 'r2'))).acquired).toBe(true);
      expect(await s.store.extendReadWrite(writer, 'w', 'w2', LONG)).toBe(false);
      expect((await s.store.acquireReadWrite(writer, rw('r', 'r3'))).acquired).toBe(true);
    });
  });

  it('accepts a fencing token at a resource unless it is older than the newest accepted', async () => {
    const guard = s.keys.fenceGuard(TENANT, resource());
    expect(await s.store.checkFence(guard, 5, LONG)).toBe(true);
    expect(await s.store.checkFence(guard, 4, LONG)).toBe(false);
    expect(await s.store.checkFence(guard, 5, LONG)).toBe(true);
    expect(await s.store.checkFence(guard, 6, LONG)).toBe(true);
    expect(await s.store.checkFence(guard, 5, LONG)).toBe(false);
  });

  it('keeps wait-for edges for their lease and counts waits', async () => {
    const [a, b] = [s.keys.waitEdge(TENANT, `A${resource()}`), s.keys.waitEdge(TENANT, `B${resource()}`)];
    expect(await s.store.getWaitEdge(a)).toBeNull();
    await s.store.setWaitEdge(a, 'lock-1', LONG);
    await s.store.setWaitEdge(b, 'lock-2', 50);
    expect(await s.store.getWaitEdge(a)).toBe('lock-1');
    expect(await s.store.getWaitEdge(b)).toBe('lock-2');
    await s.store.setWaitEdge(a, 'lock-1\n7', LONG);
    expect(await s.store.getWaitEdge(a)).toBe('lock-1\n7');
    await s.elapse(60);
    expect(await s.store.getWaitEdge(b)).toBeNull();
    await s.store.clearWaitEdge(a);
    expect(await s.store.getWaitEdge(a)).toBeNull();
    const counter = s.keys.waitSequence(`t${resource()}`);
    expect([await s.store.increment(counter, LONG), await s.store.increment(counter, LONG), await s.store.increment(counter, LONG)]).toEqual([1, 2, 3]);
  });
}
