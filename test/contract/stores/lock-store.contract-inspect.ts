import type { MutexKeys, MutexRequest } from '../../../libs/coordination/src/locks/lock-store.interface.js';
import { decodeHandOff } from '../../../libs/coordination/src/locks/queue-codec.js';
import { until } from '../../support/wait.js';
import type { LockStoreUnderTest } from './lock-store.contract.js';

const TENANT = 'acme';
/** Long enough that nothing expires during a test unless the test lets it. */
const LONG = 60_000;
/**
 * A TTL or lease the test lets run out (with `elapse`): long enough to outlast the round trips
 * made before it on a loaded machine or a cluster (50 ms did not: the lock or the waiter was
 * gone before the test looked at it).
 */
const SHORT = 1_000;

/**
 * `inspectMutex`, the read behind `LockService.inspect()`: the holder (owner, fencing token, time
 * left) and the live waiters of a mutex, as every instance sees it. It only reads: a waiter whose
 * lease ran out is not counted, whether or not anything has dropped it from the queue yet.
 *
 * @example
 * describe.each(DRIVERS)('LockStore inspect ($name)', (driver) => describeLockStoreInspectContract(() => storeFor(driver)));
 */
export function describeLockStoreInspectContract(createStore: () => Promise<LockStoreUnderTest>): void {
  let s: LockStoreUnderTest;
  let n = 0;
  beforeAll(async () => {
    s = await createStore();
  });
  afterAll(() => s.close());

  const mutex = (): MutexKeys => s.keys.mutex(TENANT, `inspect-${++n}`);
  const req = (token: string, owner: string, more: Partial<MutexRequest> = {}): MutexRequest => ({
    token, owner, ttlMs: LONG, reentrant: false, enqueue: false, priority: 0, leaseMs: LONG, queued: false, ...more,
  });
  /** Takes the lock; its fencing token. */
  const take = async (k: MutexKeys, r: MutexRequest): Promise<number> => {
    const reply = await s.store.acquireMutex(k, r);
    if (!reply.acquired) throw new Error(`${r.token} was refused`);
    return reply.fencingToken;
  };
  /** Joins the wait queue of a held lock (refused, queued). */
  const queue = async (k: MutexKeys, r: MutexRequest): Promise<void> => {
    const reply = await s.store.acquireMutex(k, { ...r, enqueue: true });
    if (reply.acquired || reply.position < 0) throw new Error(`${r.token} did not join the queue`);
  };

  it('shows a lock nobody ever took as free with no waiters', async () => {
    expect(await s.store.inspectMutex(mutex())).toEqual({ holder: null, waiters: 0 });
  });

  it("shows a held lock's owner, its exact fencing token and the time left", async () => {
    const k = mutex();
    const fencingToken = await take(k, req('a', 'worker-A'));
    const seen = await s.store.inspectMutex(k);
    expect(seen).toEqual({ holder: { owner: 'worker-A', fencingToken, pttlMs: expect.any(Number) }, waiters: 0 });
    expect(seen.holder!.pttlMs).toBeGreaterThan(LONG - 5_000);
    expect(seen.holder!.pttlMs).toBeLessThanOrEqual(LONG);
  });

  it('keeps the first fencing token of a lock held twice by one owner', async () => {
    const k = mutex();
    const fencingToken = await take(k, req('a', 'A', { reentrant: true }));
    await take(k, req('a2', 'A', { reentrant: true }));
    expect((await s.store.inspectMutex(k)).holder).toMatchObject({ owner: 'A', fencingToken });
  });

  it('shows the lock free again after its release', async () => {
    const k = mutex();
    await take(k, req('a', 'A'));
    expect(await s.store.releaseMutex(k, 'a')).toBe('released');
    expect(await s.store.inspectMutex(k)).toEqual({ holder: null, waiters: 0 });
  });

  it('shows the lock free once its TTL ran out, unreleased', async () => {
    const k = mutex();
    await take(k, req('a', 'A', { ttlMs: SHORT }));
    await s.elapse(SHORT + 10);
    expect(await s.store.inspectMutex(k)).toEqual({ holder: null, waiters: 0 });
  });

  it('counts the queued waiters, and the new holder with its new fencing token after a hand-off', async () => {
    const k = mutex();
    const first = await take(k, req('a', 'A'));
    await queue(k, req('b', 'B'));
    await queue(k, req('c', 'C', { priority: 5 }));
    expect(await s.store.inspectMutex(k)).toMatchObject({ holder: { owner: 'A' }, waiters: 2 });
    // Queued again (a poll) is still one waiter.
    await s.store.acquireMutex(k, { ...req('b', 'B', { enqueue: true }), queued: true });
    expect((await s.store.inspectMutex(k)).waiters).toBe(2);

    // The hand-off message carries the fencing token the release issued to C.
    const grants: number[] = [];
    const handler = (channel: string, message: string) => {
      const grant = channel === k.channel ? decodeHandOff(message) : null;
      if (grant?.token === 'c') grants.push(grant.fencingToken);
    };
    const pattern = s.keys.channelPattern(TENANT, 'lock');
    await s.store.listen(pattern, handler);
    try {
      expect(await s.store.releaseMutex(k, 'a')).toBe('released');
      await until(() => grants.length > 0, { timeoutMs: 5_000, message: 'the hand-off to c' });
    } finally {
      await s.store.unlisten(pattern, handler);
    }
    const handedOff = await s.store.inspectMutex(k);
    expect(handedOff).toMatchObject({ holder: { owner: 'C', fencingToken: grants[0] }, waiters: 1 });
    expect(handedOff.holder!.fencingToken).toBeGreaterThan(first);
    expect(handedOff.holder!.pttlMs).toBeGreaterThan(LONG - 5_000);
  });

  it('leaves out waiters whose lease ran out, before anything dropped them from the queue', async () => {
    const k = mutex();
    await take(k, req('a', 'A'));
    await queue(k, req('b', 'B', { leaseMs: SHORT }));
    await queue(k, req('c', 'C'));
    expect((await s.store.inspectMutex(k)).waiters).toBe(2);
    await s.elapse(SHORT + 10);
    expect(await s.store.inspectMutex(k)).toMatchObject({ holder: { owner: 'A' }, waiters: 1 });
    // Whoever drops the stale head tells the waiter that leads now: reading must not drop it silently.
    const messages: string[] = [];
    const handler = (channel: string, message: string) => {
      if (channel === k.channel) messages.push(message);
    };
    const pattern = s.keys.channelPattern(TENANT, 'lock');
    await s.store.listen(pattern, handler);
    try {
      expect(await s.store.heartbeat(k, { token: 'c', ttlMs: LONG, owner: 'C' }, LONG)).toBe(true);
      await until(() => messages.some((m) => m.startsWith('h|c|')), { timeoutMs: 5_000, message: 'the new head c to be told it leads' });
    } finally {
      await s.store.unlisten(pattern, handler);
    }
    expect((await s.store.inspectMutex(k)).waiters).toBe(1);
  });

  it('shows a lock that expired while waiters queue as free, with its waiters', async () => {
    const k = mutex();
    await take(k, req('a', 'A', { ttlMs: SHORT }));
    await queue(k, req('b', 'B'));
    await s.elapse(SHORT + 10);
    expect(await s.store.inspectMutex(k)).toEqual({ holder: null, waiters: 1 });
  });

  it('shows a held lock free after the data was lost, and its next holder gets a larger fencing token', async () => {
    const k = mutex();
    const before = await take(k, req('a', 'A'));
    await queue(k, req('b', 'B'));
    expect(await s.store.inspectMutex(k)).toMatchObject({ holder: { owner: 'A', fencingToken: before }, waiters: 1 });
    // The lost fence counter is seeded from the clock in microseconds: let it move on (see lock-store.contract-fencing.ts).
    await s.elapse(1);
    const store = await s.loseData();
    expect(await store.inspectMutex(k)).toEqual({ holder: null, waiters: 0 });
    const reply = await store.acquireMutex(k, req('c', 'C'));
    if (!reply.acquired) throw new Error('c was refused after the data loss');
    expect(reply.fencingToken).toBeGreaterThan(before);
    expect(await store.inspectMutex(k)).toMatchObject({ holder: { owner: 'C', fencingToken: reply.fencingToken }, waiters: 0 });
  });

  it("keeps tenants apart: another tenant's lock of the same name is its own", async () => {
    const resource = `inspect-${++n}`;
    const acme = s.keys.mutex('acme', resource);
    const globex = s.keys.mutex('globex', resource);
    expect(globex.lock).not.toBe(acme.lock);
    await take(acme, req('a', 'A'));
    await queue(acme, req('b', 'B'));
    expect(await s.store.inspectMutex(globex)).toEqual({ holder: null, waiters: 0 });
    await take(globex, req('g', 'G'));
    expect(await s.store.inspectMutex(acme)).toMatchObject({ holder: { owner: 'A' }, waiters: 1 });
    expect(await s.store.inspectMutex(globex)).toMatchObject({ holder: { owner: 'G' }, waiters: 0 });
  });
}
