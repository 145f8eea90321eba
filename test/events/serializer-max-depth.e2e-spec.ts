import { EventBus, InvalidOptionsError, SerializationError } from '@nest-coordination/core';
import { bootModule, type BootedModule } from '../support/boot.js';
import { DRIVERS, uniquePrefix } from '../support/drivers.js';
import { collect } from './event-test.helpers.js';

/** `levels` objects nested one in another around a number. */
function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = { down: value };
  return value;
}

/**
 * `serializer.maxDepth` is a module option: an application that takes payloads from untrusted
 * clients can refuse deep ones well below the default. The event envelope adds one level: the
 * payload sits at depth 1 (issue #8 review, F9).
 */
describe.each(DRIVERS)('serializer.maxDepth option ($name)', (driver) => {
  let booted: BootedModule;

  beforeAll(async () => {
    booted = await bootModule({ ...driver.options(), prefix: uniquePrefix('maxdepth'), serializer: { maxDepth: 5 } });
  });

  afterAll(async () => {
    await booted?.close();
  });

  it('refuses to publish a payload whose objects, in the envelope, nest deeper than maxDepth', async () => {
    const bus = booted.get(EventBus);
    const collector = await collect(bus.on('deep.probe', { tenant: 'acme' }));
    try {
      // Five objects: the innermost at depth 5 in the envelope, the limit itself.
      await bus.publish('deep.probe', nested(5), { tenant: 'acme' });
      const [event] = await collector.waitFor(1);
      expect(event.payload).toEqual(nested(5));

      await expect(bus.publish('deep.probe', nested(6), { tenant: 'acme' })).rejects.toThrow(SerializationError);
    } finally {
      collector.stop();
    }
  });
});

describe('serializer.maxDepth option: invalid values', () => {
  it.each([0, -1, 1.5, 1_001, 'deep'])('fails at boot for %p, naming serializer.maxDepth', async (maxDepth) => {
    const boot = bootModule({ driver: 'memory', serializer: { maxDepth: maxDepth as number } });
    await expect(boot).rejects.toThrow(InvalidOptionsError);
    // Named as a known option out of its bounds, not as an unknown one.
    await expect(boot).rejects.toThrow(/serializer\.maxDepth: [^\n]*(integer|less than 1|greater than 1000)/);
  });
});
