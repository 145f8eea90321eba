import 'reflect-metadata';
// Metrics of the Redis connection: command latency, reconnects, breaker state and openings.
import { CircuitOpenError, LockService, RedisUnavailableError } from '@nest-coordination/core';
import { bootModule, type BootedModule } from '../support/boot.js';
import { REDIS_DRIVERS } from '../support/drivers.js';
import type { CoordinationCore } from '../support/internals.js';
import { TestMeters } from '../support/otel-metrics.js';
import { privateServerPerTest } from '../support/private-server.js';
import { rejectionOf, until } from '../support/wait.js';

const WAIT = { timeoutMs: 15_000 };
/** The breaker's gauge levels (README "Metrics"). */
const CLOSED = 0;
const HALF_OPEN = 1;
const OPEN = 2;

/** The command latency histogram's count and sum in the module's registry. */
function commandLatency(core: CoordinationCore): { count: number; sum: number } {
  return core.metrics.snapshot().histograms.find((h) => h.name === 'redis_command_ms')!;
}

describe.each(REDIS_DRIVERS)('redis_command_ms on $name', (driver) => {
  let app: BootedModule;
  let otel: TestMeters;

  beforeEach(() => {
    otel = new TestMeters();
  });
  afterEach(async () => {
    await app?.close();
    await otel.shutdown();
  });

  it('observes every command and script the module runs while an OpenTelemetry SDK receives its metrics', async () => {
    app = await bootModule({ ...driver.options(), health: { pingIntervalMs: 0 }, telemetry: { meterProvider: otel.provider } });
    const connection = app.core.connection!;
    const key = app.core.keys.key('acme', 'probe', 'latency');
    const before = commandLatency(app.core).count;

    await connection.execute('set', (c) => c.set(key, 'v'));
    expect(await connection.execute('get', (c) => c.get(key))).toBe('v');
    // A reply error is a reply: the server answered, so the round trip counts.
    await rejectionOf(connection.execute('incr', (c) => c.incr(key)));
    expect(commandLatency(app.core).count).toBe(before + 3);

    // Scripts too: an uncontended acquire and its release are one EVALSHA each.
    const lock = await app.get(LockService).acquire('latency', { tenant: 'acme' });
    await lock.release();
    const after = commandLatency(app.core);
    expect(after.count).toBe(before + 5);
    expect(after.sum).toBeGreaterThan(0);
    expect(await otel.sum('coordination.redis.command.duration')).toBe(after.count);
  });

  it('reads no clock without an SDK, nor with telemetry.metrics off', async () => {
    app = await bootModule({ ...driver.options(), health: { pingIntervalMs: 0 } });
    await app.core.connection!.execute('ping', (c) => c.ping());
    expect(commandLatency(app.core).count).toBe(0);
    await app.close();

    app = await bootModule({ ...driver.options(), health: { pingIntervalMs: 0 }, telemetry: { metrics: false, meterProvider: otel.provider } });
    await app.core.connection!.execute('ping', (c) => c.ping());
    expect(commandLatency(app.core).count).toBe(0);
    expect(await otel.sum('coordination.redis.command.duration')).toBe(0);
  });
});

describe('redis_reconnects_total and the breaker on a private server', () => {
  const env = privateServerPerTest();

  it('counts a reconnect of the command and the subscriber connection once each is ready again after the server restarts', async () => {
    const app = await env.boot({ health: { pingIntervalMs: 0 } });
    const connection = app.core.connection!;
    const subscriber = connection.subscriber();
    await until(() => subscriber.status === 'ready', { ...WAIT, message: 'subscriber ready' });
    const reconnects = (role: string) => app.core.metrics.counter('redis_reconnects_total', { role });
    expect(reconnects('command')).toBe(0);
    expect(reconnects('subscriber')).toBe(0);

    await env.server.kill();
    await until(() => connection.client.status !== 'ready' && subscriber.status !== 'ready', { ...WAIT, message: 'both connections lost' });
    // Attempts against a dead server are no reconnect.
    expect(await rejectionOf(connection.execute('ping', (c) => c.ping()))).toBeInstanceOf(RedisUnavailableError);
    expect(reconnects('command')).toBe(0);

    await env.server.restart();
    await until(() => reconnects('command') === 1 && reconnects('subscriber') === 1, {
      ...WAIT, message: () => `one reconnect per connection (command ${reconnects('command')}, subscriber ${reconnects('subscriber')})`,
    });
    expect(await connection.execute('ping', (c) => c.ping())).toBe('PONG');
    expect(reconnects('command')).toBe(1);
  });

  it('reports the breaker state as a gauge (0 closed, 1 half-open probe, 2 open) and counts each opening', async () => {
    const openMs = 300;
    const app = await env.boot({
      breaker: { failureThreshold: 2, openMs },
      health: { pingIntervalMs: 0 },
    });
    const connection = app.core.connection!;
    const metrics = app.core.metrics;
    const state = () => metrics.gauge('redis_breaker_state');
    const openings = () => metrics.counter('redis_breaker_opened_total');
    const ping = () => connection.execute('ping', (c) => c.ping());
    await ping();
    expect(state()).toBe(CLOSED);
    expect(openings()).toBe(0);

    // A paused server times every command out (500 ms): two failures open the breaker.
    env.server.pause();
    await rejectionOf(ping());
    await rejectionOf(ping());
    expect(connection.breaker.state).toBe('open');
    expect(state()).toBe(OPEN);
    expect(openings()).toBe(1);
    expect(await rejectionOf(ping())).toBeInstanceOf(CircuitOpenError);

    // After openMs the next call is the probe: half-open while it waits on the paused server,
    // open again (a second opening) when it times out.
    await until(() => connection.breaker.state === 'half-open', { ...WAIT, message: 'the breaker to let a probe through' });
    const probe = rejectionOf(ping());
    expect(state()).toBe(HALF_OPEN);
    await probe;
    expect(state()).toBe(OPEN);
    expect(openings()).toBe(2);

    env.server.resume();
    await until(() => connection.breaker.state === 'half-open', { ...WAIT, message: 'the breaker to let a second probe through' });
    expect(await ping()).toBe('PONG');
    expect(state()).toBe(CLOSED);
    expect(openings()).toBe(2);
  });
});
