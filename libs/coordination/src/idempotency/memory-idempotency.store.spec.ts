import { ManualClock } from '../core/clock.js';
import { MemoryIdempotencyStore } from './memory-idempotency.store.js';

describe('MemoryIdempotencyStore', () => {
  it('is bounded: records that expired without being read again are swept as new ones are written', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const store = new MemoryIdempotencyStore(clock);
    const records = (store as unknown as { records: Map<string, unknown> }).records;
    for (let i = 0; i < 3_000; i++) await store.begin(`old-${i}`, 'fp', 'o', 1_000);
    clock.advance(1_000);
    for (let i = 0; i < 3_000; i++) await store.begin(`new-${i}`, 'fp', 'o', 60_000);
    expect(records.size).toBeLessThan(4_000);
    expect([...records.keys()].filter((k) => k.startsWith('new-'))).toHaveLength(3_000);
  });

  it('drops an expired record when it meets it', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const store = new MemoryIdempotencyStore(clock);
    const records = (store as unknown as { records: Map<string, unknown> }).records;
    await store.begin('k', 'fp', 'o', 1_000);
    clock.advance(1_000);
    expect(await store.renew('k', 'o', 1_000)).toBe(false);
    expect(records.has('k')).toBe(false);
  });
});
