import type { INestApplicationContext } from '@nestjs/common';
import { CircuitOpenError, EventBus, RedisUnavailableError, type CoordinationModuleOptions } from '@nest-coordination/core';
import { CoordinationCore } from '../support/internals.js';
import { Redis } from 'ioredis';
import { firstValueFrom, take, timeout } from 'rxjs';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { uniquePrefix } from '../support/drivers.js';
import { sleep, until } from '../support/wait.js';
import { collect, EVENT_TIMEOUT_MS, eventsApp, eventually, MODULE_CHANNELS } from './event-test.helpers.js';
import { subscriberCounts } from './pubsub-admin.js';

/** Fast reconnects so a restart is noticed quickly; nothing here measures time. */
function faultOptions(server: RedisServerHandle, instanceId: string): CoordinationModuleOptions {
  return {
    connection: { url: server.url, commandTimeoutMs: 1_000 },
    prefix: uniquePrefix('evfault'),
    instanceId,
    reconnect: { baseDelayMs: 20, maxDelayMs: 200 },
    health: { pingIntervalMs: 100, degradedLatencyMs: 250 },
  };
}

/** Retries publish until Redis takes it again (the command connection reconnects in the background). */
async function publishWhenBack(bus: EventBus, channel: string, payload: unknown): Promise<void> {
  const published = () => bus.publish(channel, payload, { tenant: 'acme' }).then(() => true, (error: unknown) => {
    if (error instanceof RedisUnavailableError || error instanceof CircuitOpenError) return false;
    throw error;
  });
  await until(published, { timeoutMs: 10_000, intervalMs: 50, message: `Redis to take a publish to ${channel} again` });
}

describe('EventBus when Redis fails', () => {
  let server: RedisServerHandle;
  let app: INestApplicationContext;
  let admin: Redis;
  const instanceId = `evfault-${uniquePrefix()}`;

  beforeEach(async () => {
    server = await startRedisServer();
    app = await eventsApp(faultOptions(server, instanceId));
  });

  afterEach(async () => {
    admin?.disconnect();
    await app?.close();
    await server?.stop();
  });

  it('publish() rejects with RedisUnavailableError while Redis is down; emit() counts instead of throwing', async () => {
    const bus = app.get(EventBus);
    const metrics = app.get(CoordinationCore).metrics;
    await bus.publish('crew.started', {}, { tenant: 'acme' });
    await server.kill();

    const error = await bus.publish('crew.started', {}, { tenant: 'acme' }).catch((e: unknown) => e);
    expect(error instanceof RedisUnavailableError || error instanceof CircuitOpenError).toBe(true);
    expect(metrics.counter('events_publish_failed_total', { channel: 'crew.started' })).toBe(1);

    expect(() => bus.emit('lock.acquired', { resource: 'r' }, { tenant: 'acme' })).not.toThrow();
    const emitFailures = async () => metrics.counter('events_emit_failed_total', { channel: 'lock.acquired' });
    expect(await eventually(emitFailures, 1)).toBe(1);
    // Closing a client while it waits to reconnect leaves an ioredis timer behind: let it reconnect first.
    await server.restart();
    await eventually(async () => app.get(CoordinationCore).connection!.client.status, 'ready', 10_000);
  });

  it('resubscribes channels and patterns after Redis restarts, without double delivery', async () => {
    const bus = app.get(EventBus);
    const exact = await collect(bus.on<{ n: number }>('crew.started', { tenant: 'acme' }));
    const pattern = await collect(bus.on<{ n: number }>('crew.*', { tenant: 'acme' }));

    await server.kill();
    await server.restart();
    admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
    // The transport re-issues SUBSCRIBE and PSUBSCRIBE on the new connection.
    const expected = { sub: 1 + MODULE_CHANNELS, psub: 1 };
    expect(await eventually(() => subscriberCounts([admin], instanceId), expected, 10_000)).toEqual(expected);

    await publishWhenBack(bus, 'crew.started', { n: 1 });
    await bus.publish('crew.started', { n: 2 }, { tenant: 'acme' });
    // A standalone server delivers in publish order: a duplicate of n=1 would come before n=2.
    expect((await exact.waitFor(2)).map((e) => e.payload.n)).toEqual([1, 2]);
    expect((await pattern.waitFor(2)).map((e) => e.payload.n)).toEqual([1, 2]);
    const subscribers = ((await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string)
      .split('\n')
      .filter((line) => line.includes(`coord:${instanceId}:subscriber`));
    expect(subscribers).toHaveLength(1);
    exact.stop();
    pattern.stop();
  });

  it('a subscription the server refuses after a reconnect fails its stream, without an unhandled rejection', async () => {
    const bus = app.get(EventBus);
    const failure = new Promise<unknown>((resolve) => {
      bus.on('crew.started', { tenant: 'acme' }).subscribe({ error: resolve });
    });
    await bus.on('crew.started', { tenant: 'acme' }).ready();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
      // From now on SUBSCRIBE is refused (NOPERM); dropping the subscriber makes it come back and resubscribe.
      await admin.call('ACL', 'SETUSER', 'default', '-subscribe', '-psubscribe');
      await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      const error = await failure;
      expect(String(error)).toContain('NOPERM');
      // The refused SUBSCRIBE was sent once, by the transport, which handled its answer.
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('ready() of a listener joining a subscribed channel waits while the subscriber is down', async () => {
    const bus = app.get(EventBus);
    const subscriber = app.get(CoordinationCore).connection!.subscriber();
    const existing = await collect(bus.on<{ n: number }>('crew.started', { tenant: 'acme' }));

    await server.kill();
    expect(await eventually(async () => subscriber.status === 'ready', false)).toBe(false);
    const joined = bus.on<{ n: number }>('crew.started', { tenant: 'acme' });
    const received = firstValueFrom(joined.pipe(take(1), timeout(EVENT_TIMEOUT_MS)));
    received.catch(() => undefined);
    let confirmed = false;
    const ready = joined.ready().then(() => (confirmed = true));
    // The channel's earlier confirmation must not count: nothing is subscribed on a dead server.
    await sleep(100); // time to pass on purpose: a wrong confirmation would have come by now
    expect(confirmed).toBe(false);
    expect(existing.events).toHaveLength(0);

    await server.restart();
    await ready;
    // Confirmed means in place on the server right now, not eventually.
    admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
    expect(await subscriberCounts([admin], instanceId)).toEqual({ sub: 1 + MODULE_CHANNELS, psub: 0 });
    await publishWhenBack(bus, 'crew.started', { n: 1 });
    expect((await received).payload).toEqual({ n: 1 });
    expect((await existing.waitFor(1)).map((e) => e.payload.n)).toEqual([1]);
    existing.stop();
  });
});
