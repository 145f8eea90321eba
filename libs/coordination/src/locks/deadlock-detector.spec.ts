import { ManualClock } from '../core/clock.js';
import { KeyBuilder } from '../keys/key-builder.js';
import { DeadlockDetector } from './deadlock-detector.js';
import { LockKeys } from './lock-keys.js';
import { MemoryLockStore } from './memory-lock.store.js';

describe('DeadlockDetector', () => {
  const keys = new LockKeys(new KeyBuilder('dd'));
  const lock = (name: string) => keys.mutex('acme', name);
  const request = (owner: string, token: string) => ({ token, owner, ttlMs: 10_000, reentrant: false, enqueue: false, priority: 0, leaseMs: 10_000 });

  it('sees no cycle when the chain comes back through the lock the owner waits for (a hand-off in flight)', async () => {
    const store = new MemoryLockStore(new ManualClock(0));
    const detector = new DeadlockDetector(store, keys, 16, 60_000);
    // B waited for L and still has its edge (it has not heard of its hand-off yet); meanwhile L
    // passed on to A, who waits for L too: A -> B -> (L) -> A is not a deadlock.
    await detector.recordWait('acme', 'B', lock('L').lock, 10_000);
    await store.acquireMutex(lock('L'), request('A', 'a1'));
    expect(await detector.findCycle('acme', 'A', 'B', lock('L').lock)).toBeNull();
  });

  it('still finds a real cycle that closes through another lock', async () => {
    const store = new MemoryLockStore(new ManualClock(0));
    const detector = new DeadlockDetector(store, keys, 16, 60_000);
    // A holds X and waits for L (held by B); B waits for X.
    await store.acquireMutex(lock('X'), request('A', 'a1'));
    await store.acquireMutex(lock('L'), request('B', 'b1'));
    await detector.recordWait('acme', 'B', lock('X').lock, 10_000);
    await detector.recordWait('acme', 'A', lock('L').lock, 10_000);
    expect(await detector.findCycle('acme', 'A', 'B', lock('L').lock)).toEqual(['A', 'B']);
  });
});
