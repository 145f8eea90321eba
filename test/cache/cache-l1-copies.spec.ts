import 'reflect-metadata';
import { DRIVERS } from '../support/drivers.js';
import { cacheApp, warmL1, type CacheTestApp } from './cache-test-app.js';

interface Crew {
  id: string;
  agents: Array<{ role: string; limits: { tokens: number } }>;
  tags: string[];
}

/**
 * L1 hits of plain JSON values are deep copies of a value the L1 parsed itself: neither the
 * object a writer passed to `set` (which it may go on mutating) nor a copy handed to another
 * reader ever reaches a later caller.
 */
describe.each(DRIVERS)('CacheService L1 copies of plain JSON values ($name)', (driver) => {
  let app: CacheTestApp;
  beforeEach(async () => (app = await cacheApp(driver)));
  afterEach(() => app.close());

  const crew = (): Crew => ({ id: 'c1', agents: [{ role: 'planner', limits: { tokens: 4096 } }], tags: ['research'] });

  it('does not keep the object given to set: mutating it afterwards changes no hit', async () => {
    const written = crew();
    await app.cache.set('crew', written);
    written.agents[0].limits.tokens = 1;
    written.tags.push('mutated');
    await warmL1(app.cache, 'crew');
    expect(await app.cache.get<Crew>('crew')).toEqual(crew());
    expect(app.cache.stats().l1Hits).toBeGreaterThanOrEqual(2);
  });

  it('hands every L1 hit its own deep copy', async () => {
    await app.cache.set('crew', crew());
    await warmL1(app.cache, 'crew');
    const first = (await app.cache.get<Crew>('crew'))!;
    const second = (await app.cache.get<Crew>('crew'))!;
    expect(first.agents).not.toBe(second.agents);
    first.agents[0].limits.tokens = 1;
    first.tags.length = 0;
    expect(await app.cache.get<Crew>('crew')).toEqual(crew());
    expect(await app.cache.getOrSet<Crew>('crew', () => crew())).toEqual(crew());
    expect(app.cache.stats()).toMatchObject({ loaderCalls: 0 });
  });

  it('keeps an own "__proto__" key of a cached object an own property on every hit', async () => {
    await app.cache.set('hostile', JSON.parse('{"__proto__":{"isAdmin":true},"name":"x"}'));
    await warmL1(app.cache, 'hostile');
    const hit = (await app.cache.get<Record<string, unknown>>('hostile'))!;
    expect(Object.getPrototypeOf(hit)).toBe(Object.prototype);
    expect((hit as { isAdmin?: boolean }).isAdmin).toBeUndefined();
    expect(Object.keys(hit)).toEqual(['__proto__', 'name']);
  });
});
