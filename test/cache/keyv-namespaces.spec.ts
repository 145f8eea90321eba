import 'reflect-metadata';
import { Keyv } from 'keyv';
import { CacheService, CoordinationKeyvStore } from '@nest-coordination/core';
import { bootModule, type BootedModule } from '../support/boot.js';
import { DRIVERS, uniquePrefix } from '../support/drivers.js';

/**
 * Keyv namespaces over CoordinationKeyvStore: the store prefixes keys with its namespace itself
 * (as @keyv/redis does), so namespaces stay apart and `clear()` removes exactly its own entries,
 * whether Keyv prefixes keys too (`useKeyPrefix`, its default) or not; a namespace is literal
 * text, never a pattern.
 */
describe.each(DRIVERS)('CoordinationKeyvStore namespaces ($name)', (driver) => {
  let booted: BootedModule;
  let cache: CacheService;
  const keyv = (namespace: string, useKeyPrefix = true) => new Keyv({ store: new CoordinationKeyvStore(cache, { tenant: 'acme' }), namespace, useKeyPrefix });

  beforeEach(async () => {
    booted = await bootModule({ ...driver.options(), prefix: uniquePrefix('keyvn'), health: { pingIntervalMs: 0 } });
    cache = booted.get(CacheService);
  });

  afterEach(async () => {
    await booted.close();
  });

  it('keeps two namespaces apart when Keyv does not prefix keys (useKeyPrefix: false)', async () => {
    const [a, b] = [keyv('a', false), keyv('b', false)];
    await a.set('k', 'from a', 60_000);
    await b.set('k', 'from b', 60_000);
    await expect(a.get('k')).resolves.toBe('from a');
    await expect(b.get('k')).resolves.toBe('from b');
    await expect(a.getMany(['k', 'other'])).resolves.toEqual(['from a', undefined]);
    await expect(a.has('k')).resolves.toBe(true);
  });

  it('clear() removes its namespace entries when Keyv does not prefix keys, and only those', async () => {
    const [a, b] = [keyv('a', false), keyv('b', false)];
    await a.set('k1', 1, 60_000);
    await a.setMany([{ key: 'k2', value: 2, ttl: 60_000 }]);
    await b.set('k1', 'b1', 60_000);
    await cache.set('unrelated', 'x', { tenant: 'acme' });
    await a.clear();
    await expect(a.getMany(['k1', 'k2'])).resolves.toEqual([undefined, undefined]);
    await expect(b.get('k1')).resolves.toBe('b1');
    await expect(cache.get('unrelated', { tenant: 'acme' })).resolves.toBe('x');
  });

  it('treats a namespace as literal text: a * in it matches nothing else', async () => {
    const [star, xy] = [keyv('x*'), keyv('xy')];
    await star.set('k', 'star', 60_000);
    await xy.set('k', 'xy', 60_000);
    await star.clear();
    await expect(star.get('k')).resolves.toBeUndefined();
    await expect(xy.get('k')).resolves.toBe('xy');
  });

  it('a namespace with a colon cannot reach into another one', async () => {
    const [ab, a] = [keyv('a:b', false), keyv('a', false)];
    await ab.set('c', 'ab', 60_000);
    await expect(a.get('b:c')).resolves.toBeUndefined();
    await a.set('b:c', 'a', 60_000);
    await expect(ab.get('c')).resolves.toBe('ab');
    await ab.clear();
    await expect(a.get('b:c')).resolves.toBe('a');
  });

  it('deletes through its namespace', async () => {
    const [a, b] = [keyv('a', false), keyv('b', false)];
    await a.set('k', 1, 60_000);
    await b.set('k', 2, 60_000);
    await expect(a.delete('k')).resolves.toBe(true);
    await expect(a.get('k')).resolves.toBeUndefined();
    await expect(b.get('k')).resolves.toBe(2);
  });
});
