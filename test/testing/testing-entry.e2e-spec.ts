import { Injectable } from '@nestjs/common';
import { LockService, RateLimitService } from '@nest-coordination/core';
import { ManualClock, createCoordinationTestingModule } from '@nest-coordination/core/testing';

@Injectable()
class QuotaService {
  constructor(private readonly limits: RateLimitService) {}
  async tryCall(userId: string): Promise<boolean> {
    return (await this.limits.consume(`user:${userId}`, { limit: 2, windowMs: 1_000 })).allowed;
  }
}

/** The `@nest-coordination/core/testing` entry, used as an application's own tests would. */
describe('@nest-coordination/core/testing', () => {
  it('boots the memory driver around the app providers, on a ManualClock that only moves when told', async () => {
    const t = await createCoordinationTestingModule({ providers: [QuotaService] });
    try {
      const quota = t.get(QuotaService);
      const calls = () => t.asTenant('acme', () => quota.tryCall('u1'));
      expect([await calls(), await calls(), await calls()]).toEqual([true, true, false]);
      t.clock!.advance(1_000);
      expect(await calls()).toBe(true);
      // Another tenant has its own counters.
      expect(await t.asTenant('globex', () => quota.tryCall('u1'))).toBe(true);
    } finally {
      await t.close();
    }
  });

  it('gives each module its own state and accepts a clock of the test', async () => {
    const clock = new ManualClock(5_000);
    const a = await createCoordinationTestingModule({ clock });
    const b = await createCoordinationTestingModule();
    try {
      expect(a.clock).toBe(clock);
      const held = await a.get(LockService).acquire('report', { tenant: 'acme', ttlMs: 1_000 });
      expect(await a.get(LockService).isLocked('report', { tenant: 'acme' })).toBe(true);
      expect(await b.get(LockService).isLocked('report', { tenant: 'acme' })).toBe(false);
      await held.release();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('runs on real time when asked', async () => {
    const t = await createCoordinationTestingModule({ clock: 'system' });
    try {
      expect(t.clock).toBeUndefined();
      const lock = await t.get(LockService).acquire('x', { tenant: 'acme', ttlMs: 60_000 });
      expect(lock.expiresAt).toBeGreaterThan(Date.now());
      await lock.release();
    } finally {
      await t.close();
    }
  });
});
