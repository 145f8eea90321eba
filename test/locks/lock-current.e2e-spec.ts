import { LockService, type Lock } from '@nest-coordination/core';
import { bootModule, type BootedModule } from '../support/boot.js';

describe('LockService.current()', () => {
  let booted: BootedModule;
  let locks: LockService;
  beforeAll(async () => {
    booted = await bootModule({ driver: 'memory' });
    locks = booted.get(LockService);
  });
  afterAll(() => booted.close());

  it('is undefined outside withLock', async () => {
    expect(locks.current()).toBeUndefined();
    const lock = await locks.acquire('plain');
    // acquire() alone enters no section.
    expect(locks.current()).toBeUndefined();
    await lock.release();
  });

  it('is the innermost lock of nested withLock calls, and the outer one again after the inner returns', async () => {
    const seen: Array<[string, Lock | undefined, Lock]> = [];
    await locks.withLock('outer', async (outer) => {
      seen.push(['outer', locks.current(), outer]);
      await locks.withLock('inner', async (inner) => {
        await Promise.resolve();
        seen.push(['inner', locks.current(), inner]);
      });
      seen.push(['outer again', locks.current(), outer]);
    });
    expect(seen.map(([label, current, expected]) => [label, current === expected])).toEqual([
      ['outer', true], ['inner', true], ['outer again', true],
    ]);
    expect(seen[1][1]?.key).toBe('inner');
    expect(locks.current()).toBeUndefined();
  });

  it('is undefined for the caller once the section returned, and the released lock for work that outlived it', async () => {
    let go!: () => void;
    const later = new Promise<void>((resolve) => (go = resolve));
    let outlived!: Promise<Lock | undefined>;
    const lock = await locks.withLock('outlived', async (held) => {
      outlived = later.then(() => locks.current());
      return held;
    });
    expect(locks.current()).toBeUndefined();
    go();
    expect(await outlived).toBe(lock);
    // Released by then, as documented: the work has to check before relying on it.
    expect(lock.isHeld()).toBe(false);
    expect(await locks.isLocked('outlived')).toBe(false);
  });

  it('is the inner hold of a reentrant nesting of the same key, and the outer one, still held, after it returns', async () => {
    const seen: Array<Lock | undefined> = [];
    const outer = await locks.withLock('again', async (held) => {
      seen.push(locks.current());
      const inner = await locks.withLock('again', async (nested) => {
        seen.push(locks.current());
        return nested;
      }, { reentrant: true });
      seen.push(locks.current());
      expect(inner).not.toBe(held);
      expect([inner.owner, inner.fencingToken]).toEqual([held.owner, held.fencingToken]);
      expect([inner.isHeld(), held.isHeld(), await locks.isLocked('again')]).toEqual([false, true, true]);
      return [held, inner] as const;
    });
    // By identity: the two holds look alike field by field.
    const [held, inner] = outer;
    expect(seen.map((lock) => (lock === held ? 'outer' : lock === inner ? 'inner' : lock))).toEqual(['outer', 'inner', 'outer']);
    expect(locks.current()).toBeUndefined();
    expect(await locks.isLocked('again')).toBe(false);
  });

  it('gives parallel sections each their own lock', async () => {
    let arrived = 0;
    let go!: () => void;
    const together = new Promise<void>((resolve) => (go = resolve));
    const section = (key: string) =>
      locks.withLock(key, async (lock) => {
        if (++arrived === 2) go();
        await together; // both sections are inside at once from here on
        return locks.current() === lock ? locks.current()!.key : 'wrong lock';
      });
    expect(await Promise.all([section('left'), section('right')])).toEqual(['left', 'right']);
  });

  it('keeps the lock current under runAsOwner, which only changes the owner', async () => {
    await locks.withLock('owned', async (lock) => {
      await locks.runAsOwner('someone-else', async () => {
        expect(locks.current()).toBe(lock);
        const nested = await locks.acquire('by-owner');
        expect(nested.owner).toBe('someone-else');
        await nested.release();
      });
    });
    await locks.runAsOwner('nobody', async () => expect(locks.current()).toBeUndefined());
  });
});
