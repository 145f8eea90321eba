import { ManualClock } from '../core/clock.js';
import { MemoryCacheStore } from './memory-cache.store.js';

describe('MemoryCacheStore', () => {
  it('is bounded: entries that expired without being read again are swept as new ones are written', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const store = new MemoryCacheStore(clock);
    const slots = (store as unknown as { slots: Map<string, unknown> }).slots;
    for (let i = 0; i < 3_000; i++) await store.set(`old-${i}`, 'v', 1_000);
    clock.advance(1_000);
    for (let i = 0; i < 3_000; i++) await store.set(`new-${i}`, 'v', 60_000);
    expect(slots.size).toBeLessThan(4_000);
    expect([...slots.keys()].filter((k) => k.startsWith('new-'))).toHaveLength(3_000);
  });
});
