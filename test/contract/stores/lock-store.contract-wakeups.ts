import type { MutexKeys, MutexReply, MutexRequest } from '../../../libs/coordination/src/locks/lock-store.interface.js';
import { decodeHandOff, decodeNewHead } from '../../../libs/coordination/src/locks/queue-codec.js';
import { until } from '../../support/wait.js';
import type { LockStoreUnderTest } from './lock-store.contract.js';

/** A holder's TTL in the tests where waiters queue behind it: long enough to outlast their enqueues on a busy machine. */
const HOLDER_TTL_MS = 1_000;
/**
 * A waiter's lease in the tests where it must run out behind other waiters: long enough to outlast
 * their enqueues on a busy machine (with 50 ms, the next enqueue sometimes dropped it itself, and
 * the step under test then had nothing to drop).
 */
const SHORT_LEASE_MS = 1_000;

const TENANT = 'acme';
const LONG = 60_000;

/**
 * The wake-up messages of a mutex's wait queue and the subscriptions that carry them. Whatever
 * moves the head of the queue names the new head (a grant, also one taken by polling; a leave;
 * a drop of waiters whose lease ran out), with the time until the lock expires, so the head can
 * poll right then instead of after fallbackPollMs. Run against every store, like the main
 * contract (see lock-store.contract.ts).
 *
 * @example
 * describe.each(DRIVERS)('LockStore wake-ups ($name)', (driver) => describeLockStoreWakeupContract(() => storeFor(driver)));
 */
export function describeLockStoreWakeupContract(createStore: () => Promise<LockStoreUnderTest>): void {
  let s: LockStoreUnderTest;
  let n = 0;
  const messages: Array<{ channel: string; message: string }> = [];
  const collect = (channel: string, message: string) => messages.push({ channel, message });
  beforeAll(async () => {
    s = await createStore();
    await s.store.listen(s.keys.channelPattern(TENANT, 'lock'), collect);
  });
  afterAll(() => s.close());

  const mutex = (): MutexKeys => s.keys.mutex(TENANT, `wake${++n}`);
  const req = (token: string, more: Partial<MutexRequest> = {}): MutexRequest => ({
    token, owner: token.toUpperCase(), ttlMs: LONG, reentrant: false, enqueue: true, priority: 0, leaseMs: LONG, queued: false, ...more,
  });
  const poll = (k: MutexKeys, r: MutexRequest) => s.store.acquireMutex(k, { ...r, queued: true });
  const on = (channel: string) => messages.filter((m) => m.channel === channel).map((m) => m.message);
  const messageOn = (channel: string, matches: (message: string) => boolean) =>
    until(() => on(channel).find(matches), { timeoutMs: 5_000, message: `a matching wake-up message on ${channel}, got ${on(channel).join(', ')}` });
  const newHead = (channel: string, head: string) => messageOn(channel, (m) => decodeNewHead(m)?.head === head).then((m) => decodeNewHead(m)!);

  it('names the next head when the head takes the free lock of an expired holder by polling', async () => {
    const k = mutex();
    await s.store.acquireMutex(k, req('h', { enqueue: false, ttlMs: HOLDER_TTL_MS }));
    const [w1, w2] = [req('w1', { ttlMs: 7_000 }), req('w2')];
    await s.store.acquireMutex(k, w1);
    await s.store.acquireMutex(k, w2);
    await s.elapse(HOLDER_TTL_MS + 10);
    const taken = (await poll(k, w1)) as Extract<MutexReply, { acquired: true }>;
    expect(taken).toMatchObject({ acquired: true, token: 'w1' });
    const grant = await messageOn(k.channel, (m) => decodeHandOff(m)?.token === 'w1');
    expect(decodeHandOff(grant)).toEqual({ token: 'w1', fencingToken: taken.fencingToken, ttlMs: 7_000, nextHead: 'w2' });
  });

  it('tells the new head, with the time the holder has left, when the head leaves; a waiter behind it leaves silently', async () => {
    const k = mutex();
    await s.store.acquireMutex(k, req('h', { enqueue: false }));
    const [w1, w2, w3] = [req('w1'), req('w2'), req('w3')];
    for (const w of [w1, w2, w3]) await s.store.acquireMutex(k, w);
    expect(await s.store.leaveQueue(k, w3)).toBeNull();
    expect(await s.store.leaveQueue(k, w1)).toBeNull();
    const told = await newHead(k.channel, 'w2');
    expect(told.pttlMs).toBeGreaterThan(LONG - 5_000);
    expect(told.pttlMs).toBeLessThanOrEqual(LONG);
    // Messages of one channel arrive in order: one for w3's leave would have come first.
    expect(on(k.channel)).toHaveLength(1);
  });

  it('tells the new head to take a free lock at once when the head leaves', async () => {
    const k = mutex();
    await s.store.acquireMutex(k, req('h', { enqueue: false, ttlMs: HOLDER_TTL_MS }));
    const [w1, w2] = [req('w1'), req('w2')];
    await s.store.acquireMutex(k, w1);
    await s.store.acquireMutex(k, w2);
    await s.elapse(HOLDER_TTL_MS + 10);
    await s.store.leaveQueue(k, w1);
    expect((await newHead(k.channel, 'w2')).pttlMs).toBeLessThan(0);
    expect(await poll(k, w2)).toMatchObject({ acquired: true, token: 'w2' });
  });

  it("drops a head whose lease ran out on another waiter's heartbeat, telling the new head", async () => {
    const k = mutex();
    await s.store.acquireMutex(k, req('h', { enqueue: false }));
    const [gone, alive] = [req('gone', { leaseMs: SHORT_LEASE_MS }), req('alive')];
    await s.store.acquireMutex(k, gone);
    await s.store.acquireMutex(k, alive);
    await s.elapse(SHORT_LEASE_MS + 10);
    expect(await s.store.heartbeat(k, alive, LONG)).toBe(true);
    expect((await newHead(k.channel, 'alive')).pttlMs).toBeGreaterThan(0);
    expect(await s.store.heartbeat(k, gone, LONG)).toBe(false);
  });

  it('tells the new head when a poll of another waiter drops an expired head', async () => {
    const k = mutex();
    await s.store.acquireMutex(k, req('h', { enqueue: false }));
    const [gone, w2, w3] = [req('gone', { leaseMs: SHORT_LEASE_MS }), req('w2'), req('w3')];
    for (const w of [gone, w2, w3]) await s.store.acquireMutex(k, w);
    await s.elapse(SHORT_LEASE_MS + 10);
    expect(await poll(k, w3)).toMatchObject({ acquired: false, holderOwner: 'H', position: 1 });
    expect((await newHead(k.channel, 'w2')).pttlMs).toBeGreaterThan(0);
  });

  it('stops delivering to a handler that unlistened; one that listens while that unsubscribe is in flight is delivered to', async () => {
    const tenant = `t${++n}`;
    const pattern = s.keys.channelPattern(tenant, 'lock');
    const [first, second]: string[][] = [[], []];
    const firstHandler = (_channel: string, message: string) => first.push(message);
    await s.store.listen(pattern, firstHandler);
    const unlistening = s.store.unlisten(pattern, firstHandler);
    const listening = s.store.listen(pattern, (_channel, message) => second.push(message));
    await Promise.all([unlistening, listening]);

    const k = s.keys.mutex(tenant, 'late');
    await s.store.acquireMutex(k, req('h', { enqueue: false }));
    await s.store.acquireMutex(k, req('w'));
    await s.store.releaseMutex(k, 'h');
    await until(() => second.length > 0, { timeoutMs: 5_000, message: 'the hand-off on the re-subscribed pattern' });
    expect(decodeHandOff(second[0])).toMatchObject({ token: 'w' });
    expect(first).toEqual([]);
  });
}
