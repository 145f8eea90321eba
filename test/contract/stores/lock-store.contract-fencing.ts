import type { LockStore } from '../../../libs/coordination/src/locks/lock-store.interface.js';
import type { LockStoreUnderTest } from './lock-store.contract.js';

const TENANT = 'acme';
const LONG = 60_000;

/**
 * Fencing tokens across a loss of the store's data (Redis restarted without persistence; a
 * memory store's process restarted): a missing fence counter is seeded from the clock in
 * microseconds, so every kind of lock issues larger tokens after the loss than before it.
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
