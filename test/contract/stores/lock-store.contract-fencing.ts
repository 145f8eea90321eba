import type { LockStore } from '../../../libs/coordination/src/locks/lock-store.interface.js';
import type { LockStoreUnderTest } from './lock-store.contract.js';

const TENANT = 'acme';
const LONG = 60_000;

/**
 * Fencing tokens follow the store's clock: each is at least the clock in microseconds when it
 * is issued (and above the previous one). So every kind of lock issues larger tokens after its
 * counter was lost (Redis restarted without persistence; a memory store's process restarted) or
 * brought back older (a promoted replica, an older snapshot: see the Redis-only test in
 * test/locks/lock-fencing-restart.e2e-spec.ts) than before it.
 *
 * @example
 * describe.each(DRIVERS)('LockStore fencing ($name)', (driver) => describeLockStoreFencingContract(() => storeFor(driver)));
 */
export function describeLockStoreFencingContract(createStore: () => Promise<LockStoreUnderTest>): void {
  let s: LockStoreUnderTest;
  beforeAll(async () => {
    s = await createStore();
  });
  afterAll(() => s.close());

  /** Three acquisitions (each released) of a mutex, a permit, a read and a write hold of `resource`; their tokens. */
  async function tokens(store: LockStore, resource: string, round: string): Promise<Record<string, number[]>> {
    const mutex = s.keys.mutex(TENANT, resource);
    const semaphore = s.keys.semaphore(TENANT, resource);
    const rw = s.keys.readWrite(TENANT, resource);
    const seen: Record<string, number[]> = { mutex: [], permit: [], read: [], write: [] };
    for (let i = 0; i < 3; i++) {
      const token = `${round}${i}`;
      const request = { token, owner: token, ttlMs: LONG, reentrant: false, enqueue: false, priority: 0, leaseMs: LONG };
      const m = await store.acquireMutex(mutex, request);
      const p = await store.acquirePermit(semaphore, { token, permits: 1, ttlMs: LONG });
      const r = await store.acquireReadWrite(rw, { mode: 'r', token, ttlMs: LONG, waiting: false, leaseMs: LONG });
      await store.releaseReadWrite(rw, 'r', token);
      const w = await store.acquireReadWrite(rw, { mode: 'w', token, ttlMs: LONG, waiting: false, leaseMs: LONG });
      for (const [kind, reply] of [['mutex', m], ['permit', p], ['read', r], ['write', w]] as const) {
        if (!reply.acquired) throw new Error(`${kind} ${token} was refused`);
        seen[kind].push(reply.fencingToken);
      }
      await store.releaseMutex(mutex, token);
      await store.releasePermit(semaphore, token);
      await store.releaseReadWrite(rw, 'w', token);
    }
    return seen;
  }

  it('issues every token at or above the clock in microseconds when it is issued, for every kind of lock', async () => {
    await tokens(s.store, 'clock', 'c'); // the counters exist from here on
    // A few ms later (a ManualClock jumps): a counter that merely counts on stays below the clock.
    await s.elapse(5);
    const floor = (await s.now()) * 1_000;
    const later = await tokens(s.store, 'clock', 'd');
    for (const kind of ['mutex', 'permit', 'read', 'write']) {
      expect(Math.min(...later[kind])).toBeGreaterThanOrEqual(floor);
      for (let i = 1; i < later[kind].length; i++) expect(later[kind][i]).toBeGreaterThan(later[kind][i - 1]);
    }
  });

  it('issues larger fencing tokens after the data was lost than before, for every kind of lock', async () => {
    const before = await tokens(s.store, 'ledger', 'a');
    // The new counter is seeded from the clock: it must have moved on by more microseconds than
    // tokens were issued since the first seed (a ManualClock only moves when told to).
    await s.elapse(1);
    const after = await tokens(await s.loseData(), 'ledger', 'b');
    for (const kind of ['mutex', 'permit', 'read', 'write']) {
      for (const token of [...before[kind], ...after[kind]]) expect(Number.isSafeInteger(token)).toBe(true);
      expect(Math.min(...after[kind])).toBeGreaterThan(Math.max(...before[kind]));
    }
  });
}
