import type { INestApplicationContext } from '@nestjs/common';
import { EventBus } from '@nest-coordination/core';
import { REDIS_DRIVERS, uniquePrefix } from '../support/drivers.js';
import { collect, eventsApp } from './event-test.helpers.js';

describe.each(REDIS_DRIVERS)('EventBus across two Nest apps ($name)', (driver) => {
  let appA: INestApplicationContext;
  let appB: INestApplicationContext;
  let busA: EventBus;
  let busB: EventBus;
  const prefix = uniquePrefix('events2');
  const idA = `app-a-${uniquePrefix()}`;
  const idB = `app-b-${uniquePrefix()}`;

  beforeAll(async () => {
    appA = await eventsApp({ ...driver.options(), prefix, instanceId: idA });
    appB = await eventsApp({ ...driver.options(), prefix, instanceId: idB });
    busA = appA.get(EventBus);
    busB = appB.get(EventBus);
  });

  afterAll(async () => {
    await appA?.close();
    await appB?.close();
  });

  it("delivers A's events to B with A's instance id as source, by channel and by pattern", async () => {
    const exact = await collect(busB.on<{ at: Date }>('crew.started', { tenant: 'acme' }));
    const pattern = await collect(busB.on('crew.*', { tenant: 'acme' }));
    const at = new Date('2024-01-02T03:04:05.000Z');
    await busA.publish('crew.started', { at }, { tenant: 'acme' });
    await busA.publish('crew.finished', { ok: true }, { tenant: 'acme' });

    const [event] = await exact.waitFor(1);
    expect(event).toMatchObject({ channel: 'crew.started', tenant: 'acme', source: idA, payload: { at } });
    expect(event.payload.at).toBeInstanceOf(Date);
    const viaPattern = await pattern.waitFor(2);
    expect(viaPattern.map((e) => e.channel).sort()).toEqual(['crew.finished', 'crew.started']);
    expect(viaPattern.every((e) => e.source === idA && e.tenant === 'acme')).toBe(true);
    expect(viaPattern.find((e) => e.channel === 'crew.started')!.id).toBe(event.id);
    exact.stop();
    pattern.stop();
  });

  it("keeps tenants apart across apps: B's subscriber for acme never sees A's acme2 events", async () => {
    const acme = await collect(busB.on('crew.*', { tenant: 'acme' }));
    const acmeAll = await collect(busB.on('*', { tenant: 'acme' }));
    const witness = await collect(busB.on('crew.started', { tenant: 'acme2' }));
    await busA.publish('crew.started', { from: 'acme2' }, { tenant: 'acme2' });
    // Every subscription of B's one subscriber connection gets a publish together: once the
    // witness has it, acme's would have it too if it leaked.
    await witness.waitFor(1);
    await busA.publish('crew.started', { from: 'acme' }, { tenant: 'acme' });

    for (const collector of [acme, acmeAll]) {
      await collector.waitFor(1);
      expect(collector.events.map((e) => [e.tenant, e.payload])).toEqual([['acme', { from: 'acme' }]]);
    }
    expect(witness.events.map((e) => [e.tenant, e.source])).toEqual([['acme2', idA]]);
    for (const c of [acme, acmeAll, witness]) c.stop();
  });
});

describe('EventBus on the memory driver across two Nest apps', () => {
  it('stays inside its own module instance', async () => {
    const appA = await eventsApp({ driver: 'memory', prefix: 'same' });
    const appB = await eventsApp({ driver: 'memory', prefix: 'same' });
    try {
      const inB = await collect(appB.get(EventBus).on('crew.*', { tenant: 'acme' }));
      const inA = await collect(appA.get(EventBus).on('crew.*', { tenant: 'acme' }));
      await appA.get(EventBus).publish('crew.started', { from: 'a' }, { tenant: 'acme' });
      await appB.get(EventBus).publish('crew.started', { from: 'b' }, { tenant: 'acme' });
      await inA.waitFor(1);
      await inB.waitFor(1);
      expect(inA.events.map((e) => e.payload)).toEqual([{ from: 'a' }]);
      expect(inB.events.map((e) => e.payload)).toEqual([{ from: 'b' }]);
    } finally {
      await appA.close();
      await appB.close();
    }
  });
});
