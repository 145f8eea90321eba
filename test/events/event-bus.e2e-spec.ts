import type { INestApplicationContext } from '@nestjs/common';
import { ErrorCode, EventBus, InvalidArgumentError, SerializationError, TenantInvalidError, TenantRequiredError } from '@nest-coordination/core';
import { CoordinationCore } from '../support/internals.js';
import type { Redis } from 'ioredis';
import { EVENT_TRANSPORT, type EventTransport } from '../../libs/coordination/src/events/event-transport.interface.js';
import { DRIVERS, uniquePrefix } from '../support/drivers.js';
import { collect, eventsApp, eventually, expectEvents, MODULE_CHANNELS } from './event-test.helpers.js';
import { adminClients, closeAll, numsub, subscriberCounts } from './pubsub-admin.js';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

interface CrewRun {
  crewId: string;
  startedAt: Date;
  budget: Map<string, number>;
  tokens: bigint;
  tags: Set<string>;
}

describe.each(DRIVERS)('EventBus ($name)', (driver) => {
  let app: INestApplicationContext;
  let bus: EventBus;
  let core: CoordinationCore;
  let transport: EventTransport;
  const instanceId = `events-${uniquePrefix(driver.name)}`;

  beforeAll(async () => {
    app = await eventsApp({ ...driver.options(), prefix: uniquePrefix('events'), instanceId });
    bus = app.get(EventBus);
    core = app.get(CoordinationCore);
    transport = app.get(EVENT_TRANSPORT);
  });

  afterAll(async () => {
    await app?.close();
  });

  it('delivers payloads that need the serializer, with id, channel, tenant, timestamp and source', async () => {
    const run: CrewRun = {
      crewId: 'c1',
      startedAt: new Date('2024-05-01T10:00:00.000Z'),
      budget: new Map([['gpt', 3], ['claude', 5]]),
      tokens: 2n ** 70n,
      tags: new Set(['nightly']),
    };
    const { events } = await expectEvents(bus.on<CrewRun>('crew.started', { tenant: 'acme' }), 1);
    const before = Date.now();
    await bus.publish('crew.started', run, { tenant: 'acme' });
    const [event] = await events;

    expect(event.payload).toEqual(run);
    expect(event.payload.startedAt).toBeInstanceOf(Date);
    expect(event.payload.budget).toBeInstanceOf(Map);
    expect(typeof event.payload.tokens).toBe('bigint');
    expect(event).toMatchObject({ channel: 'crew.started', tenant: 'acme', source: instanceId });
    expect(event.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(event.timestamp).toBeGreaterThanOrEqual(before);
    expect(event.timestamp).toBeLessThanOrEqual(Date.now());
  });

  it('gives every event its own id, and no observer can change the payload another one receives', async () => {
    const stream = bus.on<{ n: number[] }>('copy.check', { tenant: 'acme' });
    const first = await expectEvents(stream, 2);
    const second = await expectEvents(stream, 2);
    await bus.publish('copy.check', { n: [1] }, { tenant: 'acme' });
    await bus.publish('copy.check', { n: [2] }, { tenant: 'acme' });
    const [a, b] = await Promise.all([first.events, second.events]);

    expect(new Set(a.map((e) => e.id)).size).toBe(2);
    expect(a.map((e) => e.id).sort()).toEqual(b.map((e) => e.id).sort());
    // Observers share one decoded, deeply frozen payload (decoded once per instance): changing it throws.
    expect(() => a[0].payload.n.push(99)).toThrow(TypeError);
    expect(b.find((e) => e.id === a[0].id)!.payload.n).not.toContain(99);
  });

  it('matches patterns: crew.* gets crew.started and crew.run.done but not agent.started', async () => {
    const crew = await collect(bus.on('crew.*', { tenant: 'acme' }));
    const agentWitness = await collect(bus.on('agent.started', { tenant: 'acme' }));
    await bus.publish('agent.started', { n: 0 }, { tenant: 'acme' });
    // One publish reaches every matching subscription of this instance in one go: once the
    // witness has it, crew.* would have it too if it matched.
    await agentWitness.waitFor(1);
    await bus.publish('crew.started', { n: 1 }, { tenant: 'acme' });
    await bus.publish('crew.run.done', { n: 2 }, { tenant: 'acme' });

    const received = await crew.waitFor(2);
    expect(received.map((e) => e.channel).sort()).toEqual(['crew.run.done', 'crew.started']);
    expect(crew.events).toHaveLength(2);
    crew.stop();
    agentWitness.stop();
  });

  it("never delivers another tenant's events, through channels or patterns", async () => {
    const acmeExact = await collect(bus.on('crew.started', { tenant: 'acme' }));
    const acmePattern = await collect(bus.on('crew.*', { tenant: 'acme' }));
    const acmeAll = await collect(bus.on('*', { tenant: 'acme' }));
    const otherWitness = await collect(bus.on('crew.started', { tenant: 'acme2' }));
    const sharedWitness = await collect(bus.on('crew.started'));

    await bus.publish('crew.started', { from: 'acme2' }, { tenant: 'acme2' });
    await bus.publish('crew.started', { from: 'shared' });
    await otherWitness.waitFor(1);
    await sharedWitness.waitFor(1);
    await core.tenants.run('acme', () => bus.publish('crew.started', { from: 'acme' }));

    for (const collector of [acmeExact, acmePattern, acmeAll]) {
      const [event] = await collector.waitFor(1);
      expect(collector.events).toHaveLength(1);
      expect(event).toMatchObject({ tenant: 'acme', payload: { from: 'acme' } });
    }
    expect(otherWitness.events.map((e) => e.tenant)).toEqual(['acme2']);
    expect(sharedWitness.events.map((e) => e.tenant)).toEqual(['_shared']);
    for (const c of [acmeExact, acmePattern, acmeAll, otherWitness, sharedWitness]) c.stop();
  });

  it('runs observers in the tenant context of the event', async () => {
    const stream = bus.on('ctx.check', { tenant: 'acme' });
    let seen: string | undefined;
    const subscription = stream.subscribe(() => (seen = core.tenants.current()));
    await stream.ready();
    await bus.publish('ctx.check', {}, { tenant: 'acme' });
    await eventually(async () => seen, 'acme');
    expect(seen).toBe('acme');
    subscription.unsubscribe();
  });

  it('never runs shared-namespace observers as the tenant whose request opened the subscriber connection', async () => {
    const fresh = await eventsApp({ ...driver.options(), prefix: uniquePrefix('events-ctx') });
    try {
      const freshBus = fresh.get(EventBus);
      const freshCore = fresh.get(CoordinationCore);
      // The first subscription (and so the subscriber connection) is made inside a request of acme.
      const acme = freshBus.on('ctx.opened', { tenant: 'acme' });
      const acmeSub = freshCore.tenants.run('acme', () => acme.subscribe(() => undefined));
      await acme.ready();
      const shared = freshBus.on('ctx.shared');
      const seen: Array<string | undefined> = [];
      const sharedSub = shared.subscribe(() => seen.push(freshCore.tenants.current()));
      await shared.ready();
      await freshBus.publish('ctx.shared', {});
      await eventually(async () => seen.length, 1);
      expect(seen).toEqual([undefined]);
      sharedSub.unsubscribe();
      acmeSub.unsubscribe();
    } finally {
      await fresh.close();
    }
  });

  it('holds one server subscription per channel or pattern and drops it when the last observer leaves', async () => {
    const admins: Redis[] = driver.name === 'memory' ? [] : adminClients(driver);
    const channel = core.keys.channel('acme', 'events', 'refcount.check');
    const server = () => (driver.name === 'memory' ? Promise.resolve(null) : numsub(admins, channel));
    const patterns = async () => (driver.name === 'memory' ? null : (await subscriberCounts(admins, instanceId)).psub);
    try {
      const baseline = transport.activeSubscriptions;
      const exact = bus.on('refcount.check', { tenant: 'acme' });
      const pattern = bus.on('refcount.*', { tenant: 'acme' });
      const a = await collect(exact);
      const b = await collect(exact);
      const p = await collect(pattern);
      expect(transport.activeSubscriptions).toBe(baseline + 2);
      if (driver.name !== 'memory') {
        expect(await server()).toBe(1);
        expect(await patterns()).toBe(1);
      }

      a.stop();
      expect(transport.activeSubscriptions).toBe(baseline + 2);
      await bus.publish('refcount.check', { n: 1 }, { tenant: 'acme' });
      expect((await b.waitFor(1))[0].payload).toEqual({ n: 1 });
      expect(a.events).toHaveLength(0);

      b.stop();
      p.stop();
      expect(transport.activeSubscriptions).toBe(baseline);
      if (driver.name !== 'memory') {
        expect(await eventually(server, 0)).toBe(0);
        expect(await eventually(patterns, 0)).toBe(0);
      }

      const again = await collect(exact);
      await bus.publish('refcount.check', { n: 2 }, { tenant: 'acme' });
      expect((await again.waitFor(1))[0].payload).toEqual({ n: 2 });
      again.stop();
    } finally {
      closeAll(admins);
    }
  });

  it('stays subscribed when an observer rejoins right after the last one left', async () => {
    const stream = bus.on('rejoin.check', { tenant: 'acme' });
    for (let i = 0; i < 3; i++) stream.subscribe().unsubscribe();
    const rejoined = await collect(stream);
    await bus.publish('rejoin.check', { n: 1 }, { tenant: 'acme' });
    expect((await rejoined.waitFor(1))[0].payload).toEqual({ n: 1 });
    rejoined.stop();
  });

  it('rejects invalid channel names with typed errors naming the argument, before touching Redis', async () => {
    const before = transport.activeSubscriptions;
    for (const channel of ['crew.*', 'crew:started', '', 'crew.{x}', 'crew.?', 'Crew', 'crew..x']) {
      const error = await bus.publish(channel, {}, { tenant: 'acme' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error).toMatchObject({ code: ErrorCode.InvalidArgument, argument: 'channel' });
    }
    for (const pattern of ['crew:*', '', 'crew.[a]', 'crew.{x}', 'crew.?', 'crew\\*']) {
      const error = thrown(() => bus.on(pattern, { tenant: 'acme' }));
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error).toMatchObject({ code: ErrorCode.InvalidArgument, argument: 'channelOrPattern' });
    }
    await expect(bus.publish('crew.started', {}, { tenant: 'a:b' })).rejects.toBeInstanceOf(TenantInvalidError);
    expect(() => bus.on('crew.*', { tenant: 'x*' })).toThrow(TenantInvalidError);
    await expect(bus.publish('crew.started', { f: () => 1 }, { tenant: 'acme' })).rejects.toBeInstanceOf(SerializationError);
    expect(transport.activeSubscriptions).toBe(before);
  });

  it('emit() never throws; failures are counted', async () => {
    const witness = await collect(bus.on('emit.ok', { tenant: 'acme' }));
    expect(() => bus.emit('emit.*', {}, { tenant: 'acme' })).not.toThrow();
    expect(() => bus.emit('emit.ok', { f: () => 1 }, { tenant: 'acme' })).not.toThrow();
    bus.emit('emit.ok', { fine: true }, { tenant: 'acme' });
    expect((await witness.waitFor(1))[0].payload).toEqual({ fine: true });
    const failures = () => Promise.resolve(core.metrics.counter('events_emit_failed_total', { channel: 'emit.*' }) + core.metrics.counter('events_emit_failed_total', { channel: 'emit.ok' }));
    expect(await eventually(failures, 2)).toBe(2);
    witness.stop();
  });
});

describe.each(DRIVERS)('EventBus tenancy and lifecycle ($name)', (driver) => {
  it('requires a tenant when tenancy.required is on', async () => {
    const app = await eventsApp({ ...driver.options(), prefix: uniquePrefix('events'), tenancy: { required: true } });
    try {
      const bus = app.get(EventBus);
      await expect(bus.publish('crew.started', {})).rejects.toBeInstanceOf(TenantRequiredError);
      expect(() => bus.on('crew.*')).toThrow(TenantRequiredError);
      const { events } = await expectEvents(bus.on('crew.started', { tenant: 'acme' }), 1);
      await app.get(CoordinationCore).tenants.run('acme', () => bus.publish('crew.started', { ok: 1 }));
      expect((await events)[0].tenant).toBe('acme');
    } finally {
      await app.close();
    }
  });

  it('completes open streams and drops their subscriptions on application shutdown', async () => {
    const app = await eventsApp({ ...driver.options(), prefix: uniquePrefix('events') });
    const stream = app.get(EventBus).on('crew.*', { tenant: 'acme' });
    let completed = false;
    stream.subscribe({ complete: () => (completed = true) });
    await stream.ready();
    const transport = app.get<EventTransport>(EVENT_TRANSPORT);
    expect(transport.activeSubscriptions).toBe(1 + MODULE_CHANNELS);
    await app.close();
    expect(completed).toBe(true);
    expect(transport.activeSubscriptions).toBe(0);
  });
});
