import { jest } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import { EventBus } from '@nest-coordination/core';
import { EVENT_TRANSPORT, type EventTransport } from '../../libs/coordination/src/events/event-transport.interface.js';
import { CoordinationCore } from '../support/internals.js';
import { DRIVERS, uniquePrefix } from '../support/drivers.js';
import { collect, eventsApp } from './event-test.helpers.js';

/**
 * The bus decodes a message once for all the observers it reaches in one dispatch, but must not
 * keep the decoded event (up to 64 MB) until the next message arrives: the cache lasts only
 * until the dispatch is over (issue #8 review, F8).
 */
describe.each(DRIVERS)('EventBus decode cache ($name)', (driver) => {
  let app: INestApplicationContext;

  beforeAll(async () => {
    app = await eventsApp({ ...driver.options(), prefix: uniquePrefix('dcache') });
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  afterAll(async () => {
    await app?.close();
  });

  it('decodes a message delivered again after its dispatch instead of handing out the event it kept', async () => {
    const bus = app.get(EventBus);
    const core = app.get(CoordinationCore);
    const transport = app.get<EventTransport>(EVENT_TRANSPORT);
    const collector = await collect(bus.on<{ n: number }>('cache.probe', { tenant: 'acme' }));
    try {
      const publish = jest.spyOn(transport, 'publish');
      await bus.publish('cache.probe', { n: 1 }, { tenant: 'acme' });
      const [[channel, text]] = publish.mock.calls as Array<[string, string]>;
      const [first] = await collector.waitFor(1);

      // The very same message once more (a replay): nothing of the first dispatch may answer it.
      const decode = jest.spyOn(core.serializer, 'decode');
      await transport.publish(channel, text);
      const [, second] = await collector.waitFor(2);

      expect(decode).toHaveBeenCalledTimes(1);
      expect(second).not.toBe(first);
      expect(second).toEqual(first);
    } finally {
      collector.stop();
    }
  });
});
