import { KeyBuilder } from '../keys/key-builder.js';
import { LockKeys } from './lock-keys.js';
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
    const tags = new Set(Object.values(mutex).map((k) => /\{[^}]*\}/.exec(k)![0]));
    expect(tags.size).toBe(1);
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
