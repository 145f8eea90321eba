import { ManualClock } from '../core/clock.js';
import { MemorySessionStore } from './memory-session.store.js';

describe('MemorySessionStore', () => {
  it('is bounded: sessions that expired without being read again are swept as new ones are written', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const store = new MemorySessionStore(clock, { indexGraceMs: 1_000 });
    const held = (store as unknown as { held: Map<string, unknown> }).held;
    const create = (user: string, ttlMs: number) =>
      store.create({ index: `idx:${user}`, sessionPrefix: 's:', member: user, fields: { u: user }, idleTtlMs: ttlMs, absoluteTtlMs: ttlMs, maxPerUser: 0, onLimit: 'reject' });
    for (let i = 0; i < 1_500; i++) await create(`old-${i}`, 1_000);
    clock.advance(10_000); // past the sessions' expiry and their indexes' grace
    for (let i = 0; i < 1_500; i++) await create(`new-${i}`, 600_000);
    expect(held.size).toBeLessThan(4_000); // 3 000 keys for the live sessions and their indexes; 6 000 without sweeping
    expect([...held.keys()].filter((k) => k.startsWith('s:new-'))).toHaveLength(1_500);
  });
});
