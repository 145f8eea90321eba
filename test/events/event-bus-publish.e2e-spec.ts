import { jest } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import { EventBus } from '@nest-coordination/core';
import { MAX_PUBLISH_TARGETS } from '../../libs/coordination/src/events/library-event-emitter.js';
import { CoordinationCore } from '../support/internals.js';
import { DRIVERS, uniquePrefix } from '../support/drivers.js';
import { collect, eventsApp, eventually } from './event-test.helpers.js';

/**
 * publish() remembers, per tenant and channel, the full channel name and the counters it
 * updates, instead of building them on every call: what it remembers must never send an event
 * to another tenant's channel or count it under another channel, also once it forgot them all.
 */
describe.each(DRIVERS)('EventBus publish ($name)', (driver) => {
  let app: INestApplicationContext;
  let bus: EventBus;
  let core: CoordinationCore;

  beforeAll(async () => {
    app = await eventsApp({ ...driver.options(), prefix: uniquePrefix('publish') });
    bus = app.get(EventBus);
    core = app.get(CoordinationCore);
  });

  afterAll(async () => {
    await app?.close();
  });

  const published = (channel: string) => core.metrics.counter('events_published_total', { channel });

  it("counts each publish under its channel whatever the tenant, and one that cannot be encoded under neither counter", async () => {
    const acme = await collect(bus.on<{ n: number }>('count.probe', { tenant: 'acme' }));
    const other = await collect(bus.on<{ n: number }>('count.probe', { tenant: 'other' }));
    try {
      await bus.publish('count.probe', { n: 1 }, { tenant: 'acme' });
      await bus.publish('count.probe', { n: 2 }, { tenant: 'other' });
      await bus.publish('count.probe', { n: 3 }, { tenant: 'acme' });
      await expect(bus.publish('count.probe', { f: () => 1 }, { tenant: 'acme' })).rejects.toThrow();

      expect((await acme.waitFor(2)).map((e) => e.payload.n).sort()).toEqual([1, 3]);
      expect((await other.waitFor(1)).map((e) => e.payload.n)).toEqual([2]);
      expect(published('count.probe')).toBe(3);
      expect(core.metrics.counter('events_publish_failed_total', { channel: 'count.probe' })).toBe(0);
    } finally {
      acme.stop();
      other.stop();
    }
  });

  it("runs observers in their event's tenant context, whatever context the publisher ran in", async () => {
    const seen: Array<string | undefined> = [];
    const stream = bus.on<{ n: number }>('ctx.origin', { tenant: 'acme' });
    const subscription = stream.subscribe((event) => (seen[event.payload.n] = core.tenants.current()));
    try {
      await stream.ready();
      // The memory transport delivers in the publisher's async context; Redis in the subscriber connection's.
      await bus.publish('ctx.origin', { n: 0 }, { tenant: 'acme' });
      await core.tenants.run('acme', () => bus.publish('ctx.origin', { n: 1 }));
      await core.tenants.run('other', () => bus.publish('ctx.origin', { n: 2 }, { tenant: 'acme' }));
      await eventually(async () => seen.filter(Boolean).length, 3);
      expect(seen).toEqual(['acme', 'acme', 'acme']);
    } finally {
      subscription.unsubscribe();
    }
  });

  it('still publishes to the right tenant and channel after more channels than it remembers', async () => {
    const acme = await collect(bus.on<{ n: number }>('after.flush', { tenant: 'acme' }));
    const other = await collect(bus.on<{ n: number }>('after.flush', { tenant: 'other' }));
    try {
      await bus.publish('after.flush', { n: 1 }, { tenant: 'acme' });
      // Enough distinct channels (nobody listens to them) to make it forget every target once.
      for (let i = 0; i <= MAX_PUBLISH_TARGETS; i += 500) {
        await Promise.all(Array.from({ length: 500 }, (_, j) => bus.publish(`flush.c${i + j}`, {}, { tenant: 'acme' })));
      }
      // The bound itself: a target remembered before the flood was forgotten, so its channel name
      // is built again on its next publish, and remembered again for the one after.
      const built = jest.spyOn(core.keys, 'channel');
      try {
        await bus.publish('after.flush', { n: 2 }, { tenant: 'other' });
        await bus.publish('after.flush', { n: 3 }, { tenant: 'acme' });
        expect(built.mock.calls.filter(([tenant, , channel]) => tenant === 'acme' && channel === 'after.flush')).toHaveLength(1);
        await bus.publish('after.flush', { n: 4 }, { tenant: 'acme' });
        expect(built.mock.calls.filter(([tenant, , channel]) => tenant === 'acme' && channel === 'after.flush')).toHaveLength(1);
      } finally {
        built.mockRestore();
      }

      expect((await acme.waitFor(3)).map((e) => e.payload.n).sort()).toEqual([1, 3, 4]);
      expect((await other.waitFor(1)).map((e) => e.payload.n)).toEqual([2]);
      expect(published('after.flush')).toBe(4);
      expect(published('flush.c0')).toBe(1);
    } finally {
      acme.stop();
      other.stop();
    }
  });
});
