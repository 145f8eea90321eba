import * as api from '@nest-coordination/core';
import { EventBus, InvalidArgumentError, TenantInvalidError } from '@nest-coordination/core';
import { bootModule, type BootedModule } from '../support/boot.js';
import { DRIVERS, uniquePrefix } from '../support/drivers.js';

/**
 * The library publishes its own events (locks, rate limits) under the tenant they are about,
 * `_shared` included, through an internal emitter: the public EventBus offers no way into the
 * shared namespace (issue #8 review, F7).
 */
describe.each(DRIVERS)('EventBus has no way into the _shared namespace ($name)', (driver) => {
  let booted: BootedModule;
  let bus: EventBus;

  beforeAll(async () => {
    booted = await bootModule({ ...driver.options(), prefix: uniquePrefix('libev'), tenancy: { required: false } });
    bus = booted.get(EventBus);
  });

  afterAll(async () => {
    await booted?.close();
  });

  it('has no emitAs, and publish / emit / on refuse the _shared tenant', async () => {
    expect('emitAs' in bus).toBe(false);
    // What the bus offers to publish with: the two public methods, both validating the tenant.
    expect(Object.getOwnPropertyNames(EventBus.prototype).filter((name) => /publish|emit|send/i.test(name)).sort()).toEqual(['emit', 'publish']);
    await expect(bus.publish('crew.started', {}, { tenant: '_shared' })).rejects.toThrow(TenantInvalidError);
    expect(() => bus.on('crew.*', { tenant: '_shared' })).toThrow(TenantInvalidError);
    await expect(bus.publish('lock.acquired', {}, { tenant: '_shared' })).rejects.toThrow(TenantInvalidError);
    await expect(bus.publish('bad channel', {}, { tenant: 'acme' })).rejects.toThrow(InvalidArgumentError);
  });

  it('does not export the internal emitter from the public API', () => {
    expect(Object.keys(api).filter((name) => /emitter/i.test(name))).toEqual([]);
  });
});
