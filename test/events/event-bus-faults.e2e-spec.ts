import type { INestApplicationContext } from '@nestjs/common';
import {
  CircuitOpenError, CoordinationCore, EventBus, RedisUnavailableError, type CoordinationModuleOptions,
} from '@nest-coordination/core';
import { Redis } from 'ioredis';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { uniquePrefix } from '../support/drivers.js';
import { collect, eventsApp, eventually, subscriberCounts } from './event-test.helpers.js';

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
  for (let attempt = 0; ; attempt++) {
    try {
      return await bus.publish(channel, payload, { tenant: 'acme' });
    } catch (error) {
      const unavailable = error instanceof RedisUnavailableError || error instanceof CircuitOpenError;
      if (!unavailable || attempt >= 200) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
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
    await eventually(async () => app.get(CoordinationCore).connection!.client.status, 'ready', 200);
  });

  it('resubscribes channels and patterns after Redis restarts, without double delivery', async () => {
    const bus = app.get(EventBus);
    const exact = await collect(bus.on<{ n: number }>('crew.started', { tenant: 'acme' }));
    const pattern = await collect(bus.on<{ n: number }>('crew.*', { tenant: 'acme' }));

    await server.kill();
    await server.restart();
    admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
    // ioredis re-issues SUBSCRIBE and PSUBSCRIBE on the new connection by itself.
    expect(await eventually(() => subscriberCounts([admin], instanceId), { sub: 1, psub: 1 }, 200)).toEqual({ sub: 1, psub: 1 });

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
});
