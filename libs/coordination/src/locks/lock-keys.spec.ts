import { KeyBuilder } from '../keys/key-builder.js';
import { LockKeys } from './lock-keys.js';
import { LOCK_SCRIPTS } from './lock.scripts.js';
import { resolveLockKey } from './with-lock.decorator.js';

describe('LockKeys', () => {
  const builder = new KeyBuilder('coord');
  const keys = new LockKeys(builder);

  it('derives exactly the keys KeyBuilder builds, all under one hash tag', () => {
    const mutex = keys.mutex('acme', 'invoice:42{x}');
    expect(mutex.lock).toBe(builder.key('acme', 'lock', 'invoice:42{x}'));
    for (const suffix of ['fence', 'queue', 'queue-exp', 'queue-seq'] as const) {
      const field = { fence: 'fence', queue: 'queue', 'queue-exp': 'queueExp', 'queue-seq': 'queueSeq' }[suffix] as keyof typeof mutex;
      expect(mutex[field]).toBe(builder.key('acme', 'lock', 'invoice:42{x}', { suffix }));
    }
    const rw = keys.readWrite('acme', 'doc');
    expect(rw.writerWaiting).toBe(builder.key('acme', 'rwlock', 'doc', { suffix: 'writer-waiting' }));
    expect(keys.semaphore('acme', 'pool').fence).toBe(builder.key('acme', 'semaphore', 'pool', { suffix: 'fence' }));
    const all = [mutex.lock, mutex.fence, mutex.queue, mutex.queueExp, mutex.queueSeq, mutex.channel];
    const tags = new Set(all.map((k) => /\{[^}]*\}/.exec(k)![0]));
    expect(tags.size).toBe(1);
  });

  it('matches the keys the uncontended scripts derive from the lock key when only it is sent (standalone)', () => {
    const mutex = keys.mutex('acme', 'doc');
    const derived = (lua: string, declared: number) => {
      const match = new RegExp(`KEYS\\[${declared}\\] or lockKey \\.\\. '([^']+)'`).exec(lua);
      return match ? mutex.lock + match[1] : undefined;
    };
    for (const script of [LOCK_SCRIPTS.tryAcquire, LOCK_SCRIPTS.release]) {
      const order = script === LOCK_SCRIPTS.tryAcquire ? [mutex.fence, mutex.queueExp] : [mutex.fence, mutex.queue, mutex.queueExp, mutex.queueSeq];
      expect(order.map((_, i) => derived(script.lua, i + 2))).toEqual(order);
    }
  });
});

describe('resolveLockKey', () => {
  it('fills positional placeholders and property paths', () => {
    expect(resolveLockKey('crew:{0}:{1.id}', ['c1', { id: 7 }])).toBe('crew:c1:7');
    expect(resolveLockKey((a: string) => `x:${a}`, ['y'])).toBe('x:y');
  });

  it('rejects a placeholder that resolves to nothing', () => {
    expect(() => resolveLockKey('crew:{0.missing}', [{}])).toThrow(/placeholder/);
  });
});
