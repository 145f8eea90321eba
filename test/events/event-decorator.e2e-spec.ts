import { jest } from '@jest/globals';
import { Controller, Injectable, Logger, Scope, type INestApplicationContext } from '@nestjs/common';
import { EventBus, InvalidArgumentError, OnCoordinationEvent, TenantInvalidError, type CoordinationEvent } from '@nest-coordination/core';
import { CoordinationCore } from '../support/internals.js';
import { EVENT_TRANSPORT, type EventTransport } from '../../libs/coordination/src/events/event-transport.interface.js';
import { DRIVERS, uniquePrefix } from '../support/drivers.js';
import { collect, eventsApp, eventually, MODULE_CHANNELS } from './event-test.helpers.js';

/** Records what each handler saw; shared by the providers below (one app per test). */
const seen = {
  crew: [] as CoordinationEvent[],
  tenants: [] as Array<string | undefined>,
  stacked: [] as string[],
  throwing: 0,
  rejecting: 0,
  controller: [] as string[],
  requestScoped: 0,
};

@Injectable()
class CrewListener {
  constructor(private readonly core: CoordinationCore) {}

  @OnCoordinationEvent('crew.*', { tenant: 'acme' })
  onCrew(event: CoordinationEvent): void {
    seen.crew.push(event);
    seen.tenants.push(this.core.tenants.current());
  }

  @OnCoordinationEvent('crew.*', { tenant: 'acme' })
  explode(event: CoordinationEvent): void {
    seen.throwing += 1;
    throw new Error(`sync failure on ${event.channel}`);
  }

  @OnCoordinationEvent('crew.*', { tenant: 'acme' })
  async reject(event: CoordinationEvent): Promise<void> {
    seen.rejecting += 1;
    await Promise.resolve();
    throw new Error(`async failure on ${event.channel}`);
  }

  @OnCoordinationEvent('agent.started', { tenant: 'acme' })
  @OnCoordinationEvent('agent.stopped', { tenant: 'acme' })
  stacked(event: CoordinationEvent): void {
    seen.stacked.push(event.channel);
  }
}

@Controller()
class CrewController {
  @OnCoordinationEvent('crew.started', { tenant: 'acme' })
  onStarted(event: CoordinationEvent): void {
    seen.controller.push(event.channel);
  }
}

@Injectable({ scope: Scope.REQUEST })
class RequestScopedListener {
  @OnCoordinationEvent('crew.*', { tenant: 'acme' })
  onCrew(): void {
    seen.requestScoped += 1;
  }
}

describe.each(DRIVERS)('@OnCoordinationEvent ($name)', (driver) => {
  let app: INestApplicationContext;
  let bus: EventBus;
  let errorSpy: jest.SpiedFunction<Logger['error']>;
  let warnSpy: jest.SpiedFunction<Logger['warn']>;

  beforeAll(async () => {
    errorSpy = jest.spyOn(Logger.prototype, 'error');
    warnSpy = jest.spyOn(Logger.prototype, 'warn');
    // Boot resolves only once the decorated handlers' subscriptions are confirmed.
    app = await eventsApp(
      { ...driver.options(), prefix: uniquePrefix('evdeco') },
      { providers: [CrewListener, RequestScopedListener], controllers: [CrewController] },
    );
    bus = app.get(EventBus);
  });

  beforeEach(() => {
    seen.crew = [];
    seen.tenants = [];
    seen.stacked = [];
    seen.controller = [];
    seen.throwing = 0;
    seen.rejecting = 0;
    seen.requestScoped = 0;
    errorSpy.mockClear();
  });

  afterAll(async () => {
    await app?.close();
    errorSpy.mockRestore();
    warnSpy.mockRestore();
  });

  it('delivers matching events to decorated provider and controller methods, in the event tenant context', async () => {
    await bus.publish('crew.started', { crewId: 'c1' }, { tenant: 'acme' });
    await bus.publish('crew.finished', { crewId: 'c1' }, { tenant: 'acme' });

    await eventually(async () => seen.crew.length, 2);
    expect(seen.crew.map((e) => e.channel).sort()).toEqual(['crew.finished', 'crew.started']);
    expect(seen.crew[0]).toMatchObject({ tenant: 'acme', payload: { crewId: 'c1' } });
    expect(seen.tenants).toEqual(['acme', 'acme']);
    await eventually(async () => seen.controller, ['crew.started']);
    expect(seen.controller).toEqual(['crew.started']);
  });

  it('keeps delivering after a handler throws or rejects, and logs each failure', async () => {
    const metrics = app.get(CoordinationCore).metrics;
    const failuresBefore = metrics.counter('events_handler_failed_total', { handler: 'CrewListener.explode' });
    for (let i = 0; i < 3; i++) await bus.publish('crew.started', { i }, { tenant: 'acme' });

    await eventually(async () => [seen.crew.length, seen.throwing, seen.rejecting], [3, 3, 3]);
    expect([seen.crew.length, seen.throwing, seen.rejecting]).toEqual([3, 3, 3]);
    await eventually(async () => errorSpy.mock.calls.length, 6);
    const messages = errorSpy.mock.calls.map((call) => String(call[0]));
    expect(messages.filter((m) => m.includes('CrewListener.explode') && m.includes('sync failure'))).toHaveLength(3);
    expect(messages.filter((m) => m.includes('CrewListener.reject') && m.includes('async failure'))).toHaveLength(3);
    expect(metrics.counter('events_handler_failed_total', { handler: 'CrewListener.explode' })).toBe(failuresBefore + 3);
  });

  it('subscribes a method once per stacked decorator', async () => {
    await bus.publish('agent.started', {}, { tenant: 'acme' });
    await bus.publish('agent.stopped', {}, { tenant: 'acme' });
    await bus.publish('agent.paused', {}, { tenant: 'acme' });
    const witness = await collect(bus.on('agent.paused', { tenant: 'acme' }));
    await bus.publish('agent.paused', {}, { tenant: 'acme' });
    await witness.waitFor(1);
    await eventually(async () => seen.stacked.length, 2);
    expect(seen.stacked.sort()).toEqual(['agent.started', 'agent.stopped']);
    witness.stop();
  });

  it('skips request-scoped providers with a warning', async () => {
    const warnings = warnSpy.mock.calls.map((call) => String(call[0]));
    expect(warnings.some((w) => w.includes('RequestScopedListener.onCrew') && w.includes('not a singleton'))).toBe(true);
    await bus.publish('crew.started', {}, { tenant: 'acme' });
    // Once the singleton handler has the event, the request-scoped one would have it too if it were subscribed.
    expect(await eventually(async () => seen.crew.length, 1)).toBe(1);
    expect(seen.requestScoped).toBe(0);
  });

  it('unsubscribes every handler when the application shuts down', async () => {
    const other = await eventsApp(
      { ...driver.options(), prefix: uniquePrefix('evdeco') },
      { providers: [CrewListener] },
    );
    const transport = other.get<EventTransport>(EVENT_TRANSPORT);
    expect(transport.activeSubscriptions).toBe(3 + MODULE_CHANNELS); // crew.*, agent.started, agent.stopped
    await other.close();
    expect(transport.activeSubscriptions).toBe(0);
  });
});

describe('@OnCoordinationEvent arguments', () => {
  it('rejects a malformed channel or tenant when the class is defined', () => {
    expect(() => OnCoordinationEvent('crew:*')).toThrow(InvalidArgumentError);
    expect(() => OnCoordinationEvent('')).toThrow(InvalidArgumentError);
    expect(() => OnCoordinationEvent('crew.*', { tenant: '_shared' })).toThrow(TenantInvalidError);
  });
});
