import { Test, type TestingModule } from '@nestjs/testing';
import { CoordinationModule, EventBus } from '@nest-coordination/core';
import { CoordinationCore } from '../support/internals.js';
import { REDIS_DRIVERS, uniquePrefix } from '../support/drivers.js';
import { eventually } from './event-test.helpers.js';

const SILENT = { log() {}, error() {}, warn() {}, debug() {}, verbose() {} };

/**
 * On Redis, messages arrive in the async context the subscriber connection was opened in: the
 * first subscription of the module instance, the cache bus's, made while the module initialises.
 * A module initialised inside tenant 'acme' therefore receives every message as 'acme': an acme
 * observer is then called directly (EventBus skips entering a context it is already in), and an
 * observer of the shared namespace must still run outside any tenant.
 */
describe.each(REDIS_DRIVERS)('EventBus tenant context, subscriber connection opened inside a tenant ($name)', (driver) => {
  let moduleRef: TestingModule;
  let bus: EventBus;
  let core: CoordinationCore;

  beforeAll(async () => {
    moduleRef = await Test.createTestingModule({ imports: [CoordinationModule.forRoot({ ...driver.options(), prefix: uniquePrefix('ctx') })] })
      .setLogger(SILENT)
      .compile();
    core = moduleRef.get(CoordinationCore);
    // A fresh module: its first subscription, hence its subscriber connection, is made in here.
    await core.tenants.run('acme', () => moduleRef.init());
    bus = moduleRef.get(EventBus);
  });

  afterAll(async () => {
    await moduleRef?.close();
  });

  it("runs acme observers as 'acme' and shared-namespace observers as no tenant", async () => {
    const acmeSeen: Array<string | undefined> = [];
    const sharedSeen: Array<string | undefined> = [];
    const acme = bus.on<{ n: number }>('ctx.fast', { tenant: 'acme' });
    const acmeSubscription = acme.subscribe(() => acmeSeen.push(core.tenants.current()));
    const shared = bus.on<{ n: number }>('ctx.fast');
    const sharedSubscription = shared.subscribe(() => sharedSeen.push(core.tenants.current()));
    try {
      await acme.ready();
      await shared.ready();

      await bus.publish('ctx.fast', { n: 1 }, { tenant: 'acme' });
      await core.tenants.run('other', () => bus.publish('ctx.fast', { n: 2 }, { tenant: 'acme' }));
      await bus.publish('ctx.fast', { n: 3 });
      await eventually(async () => [acmeSeen.length, sharedSeen.length], [2, 1]);

      expect(acmeSeen).toEqual(['acme', 'acme']);
      expect(sharedSeen).toEqual([undefined]);
    } finally {
      acmeSubscription.unsubscribe();
      sharedSubscription.unsubscribe();
    }
  });
});
