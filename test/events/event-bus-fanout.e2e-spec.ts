import { jest } from '@jest/globals';
import { Logger, type INestApplicationContext } from '@nestjs/common';
import { EventBus } from '@nest-coordination/core';
import { EVENT_TRANSPORT, type EventTransport } from '../../libs/coordination/src/events/event-transport.interface.js';
import { CoordinationCore } from '../support/internals.js';
import { DRIVERS, uniquePrefix } from '../support/drivers.js';
import { collect, eventsApp, eventually, type Collector } from './event-test.helpers.js';

interface Report {
  marker: string;
  rows: Array<{ step: number; text: string }>;
  at: Date;
  tags: Set<string>;
  totals: Map<string, number>;
}

/**
 * One received message is decoded once per module instance, however many observers of its
 * channel and of patterns matching it there are: with 1000 streams of one user, a decode per
 * observer turned 100 events of 90 KB into gigabytes of work (issue #8, item 7). Observers
 * share the decoded event, which is frozen so that none can change it under the others.
 */
describe.each(DRIVERS)('EventBus fan-out ($name)', (driver) => {
  let app: INestApplicationContext;
  let bus: EventBus;
  let core: CoordinationCore;
  const collectors: Collector<Report>[] = [];

  beforeAll(async () => {
    app = await eventsApp({ ...driver.options(), prefix: uniquePrefix('fanout') });
    bus = app.get(EventBus);
    core = app.get(CoordinationCore);
  });

  afterEach(() => {
    for (const collector of collectors.splice(0)) collector.stop();
    jest.restoreAllMocks();
  });

  afterAll(async () => {
    await app?.close();
  });

  function report(marker: string): Report {
    return {
      marker,
      // Large enough to be compressed: the shared decode covers the inflate step too.
      rows: Array.from({ length: 200 }, (_, step) => ({ step, text: `step ${step} of ${marker}` })),
      at: new Date('2024-05-01T10:00:00.000Z'),
      tags: new Set(['nightly', 'eu']),
      totals: new Map([['tokens', 1234]]),
    };
  }

  it('decodes a message once for every observer of its channel and of matching patterns, which all receive it', async () => {
    for (let i = 0; i < 6; i++) collectors.push(await collect(bus.on<Report>('report.ready', { tenant: 'acme' })));
    for (let i = 0; i < 3; i++) collectors.push(await collect(bus.on<Report>('report.*', { tenant: 'acme' })));
    collectors.push(await collect(bus.on<Report>('*', { tenant: 'acme' })));
    const decode = jest.spyOn(core.serializer, 'decode');
    const sent = report(uniquePrefix('m'));

    await bus.publish('report.ready', sent, { tenant: 'acme' });
    const received = await Promise.all(collectors.map(async (c) => (await c.waitFor(1))[0]));

    expect(decode).toHaveBeenCalledTimes(1);
    for (const event of received) {
      expect(event).toMatchObject({ channel: 'report.ready', tenant: 'acme', id: received[0].id });
      expect(event.payload).toEqual(sent);
    }
  });

  it('decodes each of several messages once for every observer', async () => {
    for (let i = 0; i < 4; i++) collectors.push(await collect(bus.on<Report>('report.ready', { tenant: 'acme' })));
    collectors.push(await collect(bus.on<Report>('report.*', { tenant: 'acme' })));
    const decode = jest.spyOn(core.serializer, 'decode');
    const markers = [uniquePrefix('a'), uniquePrefix('b'), uniquePrefix('c')];

    for (const marker of markers) await bus.publish('report.ready', report(marker), { tenant: 'acme' });
    for (const collector of collectors) {
      // Sorted: on a cluster, publishes accepted by different nodes may arrive in any order.
      expect((await collector.waitFor(3)).map((e) => e.payload.marker).sort()).toEqual([...markers].sort());
    }
    expect(decode).toHaveBeenCalledTimes(3);
  });

  it('hands every observer of its channel and of matching patterns the very same frozen event object', async () => {
    for (let i = 0; i < 3; i++) collectors.push(await collect(bus.on<Report>('report.ready', { tenant: 'acme' })));
    for (let i = 0; i < 2; i++) collectors.push(await collect(bus.on<Report>('report.*', { tenant: 'acme' })));

    await bus.publish('report.ready', report(uniquePrefix('s')), { tenant: 'acme' });
    const [first, ...others] = await Promise.all(collectors.map(async (c) => (await c.waitFor(1))[0]));

    expect(Object.isFrozen(first)).toBe(true);
    for (const event of others) expect(event).toBe(first);
  });

  it('counts and logs a malformed message once however many observers it reaches, delivers nothing for it, and goes on', async () => {
    for (let i = 0; i < 3; i++) collectors.push(await collect(bus.on<Report>('report.ready', { tenant: 'acme' })));
    collectors.push(await collect(bus.on<Report>('report.*', { tenant: 'acme' })));
    const transport = app.get<EventTransport>(EVENT_TRANSPORT);
    const failures = () => core.metrics.counterOf('events_decode_failed_total', { channel: 'report.ready' }).value;
    const before = failures();
    const logged = jest.spyOn(Logger.prototype, 'error');

    await transport.publish(core.keys.channel('acme', 'events', 'report.ready'), 'not an event');
    // Every delivery of one message is dispatched at once: one failure per observer would jump past 1.
    await eventually(async () => failures() - before, 1);
    const marker = uniquePrefix('after');
    await bus.publish('report.ready', report(marker), { tenant: 'acme' });
    for (const collector of collectors) {
      const received = await collector.waitFor(1);
      expect(received.map((e) => e.payload.marker)).toEqual([marker]);
    }

    expect(failures() - before).toBe(1);
    const undecodable = logged.mock.calls.filter(([message]) => String(message).includes('undecodable event on report.ready'));
    expect(undecodable).toHaveLength(1);
  });

  it('shares a deeply frozen payload: an observer cannot change what the others receive', async () => {
    const first = await collect(bus.on<Report>('report.ready', { tenant: 'acme' }));
    const second = await collect(bus.on<Report>('report.*', { tenant: 'acme' }));
    collectors.push(first, second);
    const sent = report(uniquePrefix('f'));
    await bus.publish('report.ready', sent, { tenant: 'acme' });
    const [[a], [b]] = await Promise.all([first.waitFor(1), second.waitFor(1)]);

    expect(() => a.payload.rows.push({ step: -1, text: 'injected' })).toThrow(TypeError);
    expect(() => (a.payload.rows[0].text = 'changed')).toThrow(TypeError);
    expect(() => ((a as { channel: string }).channel = 'other')).toThrow(TypeError);
    expect(() => a.payload.tags.add('injected')).toThrow(TypeError);
    expect(() => a.payload.totals.set('tokens', 0)).toThrow(TypeError);
    expect(() => a.payload.totals.clear()).toThrow(TypeError);
    expect(b.payload).toEqual(sent);
    expect(b.payload.totals.get('tokens')).toBe(1234);
  });
});
