import { ManualClock } from './clock.js';
import { ExpiringMap } from './expiring-map.js';

describe('ExpiringMap', () => {
  it('reads an expired entry as absent and drops it', () => {
    const clock = new ManualClock(1_000);
    const map = new ExpiringMap<{ expiresAt: number }>(() => clock.now());
    map.write('k', { expiresAt: 1_500 });
    expect(map.live('k')).toEqual({ expiresAt: 1_500 });
    clock.advance(500);
    expect(map.live('k')).toBeUndefined();
    expect(map.has('k')).toBe(false);
  });

  it('sweeps entries never read again as writes come in, after every sweep (not only the first)', () => {
    const clock = new ManualClock(0);
    const map = new ExpiringMap<{ expiresAt: number }>(() => clock.now());
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 2_000; i++) map.write(`${round}-${i}`, { expiresAt: clock.now() + 1_000 });
      clock.advance(1_000);
    }
    expect(map.size).toBeLessThan(5_000); // 10 000 written, at most ~2 rounds' worth left unswept
  });
});
