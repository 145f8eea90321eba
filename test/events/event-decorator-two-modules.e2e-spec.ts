import { Injectable, Module, type INestApplicationContext } from '@nestjs/common';
import { CoordinationModule, EventBus, OnCoordinationEvent, type CoordinationEvent } from '@nest-coordination/core';
import { CoordinationCore } from '../support/internals.js';
import { bootApp } from '../support/boot.js';
import { DRIVERS, uniquePrefix } from '../support/drivers.js';
import { collect } from './event-test.helpers.js';

interface Crew {
  from: string;
  n: number;
}

/** What each listener instance received, keyed by the instanceId of the core it was given. */
const seen = new Map<string, string[]>();

@Injectable()
class CrewListener {
  constructor(
    private readonly core: CoordinationCore,
    readonly bus: EventBus,
  ) {}

  @OnCoordinationEvent('crew.started', { tenant: 'acme' })
  onStarted(event: CoordinationEvent<Crew>): void {
    const received = seen.get(this.core.instanceId) ?? [];
    received.push(`${event.payload.from}${event.payload.n}`);
    seen.set(this.core.instanceId, received);
  }
}

// Cluster left out: PUBLISH goes to any node there, so two publishes need not arrive in order,
// and the "nothing more arrived" check below relies on that order.
describe.each(DRIVERS.filter((d) => d.name !== 'cluster'))('@OnCoordinationEvent with two CoordinationModule instances ($name)', (driver) => {
  let app: INestApplicationContext;
  const idA = `evtwo-a-${uniquePrefix()}`;
  const idB = `evtwo-b-${uniquePrefix()}`;

  @Module({
    imports: [CoordinationModule.forRoot({ ...driver.options(), prefix: uniquePrefix('evtwoa'), instanceId: idA })],
    providers: [CrewListener],
  })
  class FeatureA {}

  @Module({
    imports: [CoordinationModule.forRoot({ ...driver.options(), prefix: uniquePrefix('evtwob'), instanceId: idB, isGlobal: false })],
    providers: [CrewListener],
  })
  class FeatureB {}

  beforeAll(async () => {
    seen.clear();
    ({ app } = await bootApp(null, { imports: [FeatureA, FeatureB] }));
  });

  afterAll(async () => {
    await app?.close();
  });

  it('subscribes each handler once, on the bus of the module instance it injects', async () => {
    // The bus each feature module's providers get injected (module resolution, not a global lookup).
    const busA = app.select(FeatureA).get(CrewListener, { strict: true }).bus;
    const busB = app.select(FeatureB).get(CrewListener, { strict: true }).bus;
    expect(busA).not.toBe(busB);
    // Probes share the handlers' server subscription: once a probe has an event, every
    // listener on that bus has been handed it (and everything published there before).
    const probeA = await collect(busA.on<Crew>('crew.started', { tenant: 'acme' }));
    const probeB = await collect(busB.on<Crew>('crew.started', { tenant: 'acme' }));

    await busA.publish('crew.started', { from: 'a', n: 1 }, { tenant: 'acme' });
    await busB.publish('crew.started', { from: 'b', n: 1 }, { tenant: 'acme' });
    await busA.publish('crew.started', { from: 'a', n: 2 }, { tenant: 'acme' });
    await busB.publish('crew.started', { from: 'b', n: 2 }, { tenant: 'acme' });
    await probeA.waitFor(2);
    await probeB.waitFor(2);

    expect(seen.get(idA)).toEqual(['a1', 'a2']);
    expect(seen.get(idB)).toEqual(['b1', 'b2']);
    expect([...seen.keys()].sort()).toEqual([idA, idB].sort());
    probeA.stop();
    probeB.stop();
  });
});
