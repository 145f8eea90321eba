import { CacheBus } from '../../libs/coordination/src/cache/cache-bus.js';
import { CacheL1 } from '../../libs/coordination/src/cache/cache-l1.js';
import { EVENT_TRANSPORT, type EventTransport, type TransportListener } from '../../libs/coordination/src/events/event-transport.interface.js';
import { MemoryEventTransport } from '../../libs/coordination/src/events/memory-event.transport.js';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../harness/tcp-proxy.js';
import { bootModule } from '../support/boot.js';
import { uniquePrefix } from '../support/drivers.js';
import { until } from '../support/wait.js';

/** Generous bounds on reconnects (fast reconnect options below); nothing here is timed. */
const RECOVERY_MS = 15_000;

interface Recorder extends TransportListener {
  readonly calls: string[];
  readonly messages: string[];
}

function recorder(): Recorder {
  const calls: string[] = [];
  const messages: string[] = [];
  return {
    calls, messages,
    message: (_channel, text) => messages.push(text),
    failed: () => calls.push('failed'),
    interrupted: () => calls.push('interrupted'),
    resumed: () => calls.push('resumed'),
  };
}

/** A module on `url` with fast reconnects, a listener on a channel of its transport, and a cache bus over an L1. */
async function setup(url: string) {
  const booted = await bootModule({
    connection: { url, commandTimeoutMs: 1_000 },
    prefix: uniquePrefix('interrupt'),
    reconnect: { baseDelayMs: 20, maxDelayMs: 200 },
    health: { pingIntervalMs: 0 },
  });
  const { core } = booted;
  const transport = booted.get<EventTransport>(EVENT_TRANSPORT);
  const channel = core.keys.channel('acme', 'events', 'probe');
  const listener = recorder();
  const subscription = transport.subscribe('channel', channel, listener);
  await subscription.ready;
  const l1 = new CacheL1({ enabled: true, maxEntries: 100, maxBytes: 100_000, ttlMs: 60_000, shareValues: false }, core.clock);
  const bus = new CacheBus(core, transport, l1);
  bus.start();
  expect(await bus.ready(RECOVERY_MS)).toBe(true);
  const entryKey = core.keys.key('acme', 'cache', 'a');
  const put = () => l1.set(entryKey, 'acme', { text: 'v', freshUntil: core.clock.now() + 60_000, tagKeys: [], hasValue: false }, l1.generation);
  const holds = () => l1.get(entryKey) !== undefined;
  return { booted, transport, channel, listener, subscription, l1, bus, put, holds };
}

/**
 * Drives one outage and checks what listeners and the L1 see: `interrupted` once the
 * connection is lost (L1 cleared, then bypassed), `resumed` once the subscription is confirmed
 * again (L1 cleared again, then used), and delivery afterwards.
 */
async function expectInterruptionAndResume(
  ctx: Awaited<ReturnType<typeof setup>>, fault: { lose(): Promise<void> | void; restore(): Promise<void> | void },
): Promise<void> {
  const { listener, l1, bus, put, holds } = ctx;
  put();
  expect(holds()).toBe(true);
  const beforeLoss = l1.generation;

  await fault.lose();
  await until(() => listener.calls.includes('interrupted'), { timeoutMs: RECOVERY_MS, message: () => `interrupted() (calls: ${listener.calls})` });
  expect(listener.calls).toEqual(['interrupted']);
  expect(holds()).toBe(false);
  const atLoss = l1.generation;
  expect(atLoss).toBeGreaterThan(beforeLoss);
  put(); // bypassed while the bus may miss invalidations
  expect([holds(), l1.size]).toEqual([false, 0]);

  await fault.restore();
  await until(() => listener.calls.includes('resumed'), { timeoutMs: RECOVERY_MS, message: () => `resumed() (calls: ${listener.calls})` });
  expect(listener.calls).toEqual(['interrupted', 'resumed']);
  expect(await bus.ready(RECOVERY_MS)).toBe(true);
  expect(l1.generation).toBeGreaterThan(atLoss); // cleared again on resume
  put();
  expect(holds()).toBe(true);

  // Confirmed again means delivered again: publish until the command connection is back too.
  await until(async () => {
    await ctx.transport.publish(ctx.channel, 'after').catch(() => undefined);
    return listener.messages.includes('after');
  }, { timeoutMs: RECOVERY_MS, intervalMs: 100, message: 'a message after the resume' });
}

describe('TransportListener interrupted() / resumed()', () => {
  let server: RedisServerHandle | undefined;
  let proxy: TcpProxy | undefined;
  let ctx: Awaited<ReturnType<typeof setup>> | undefined;

  afterEach(async () => {
    ctx?.bus.close();
    ctx?.subscription.close();
    await ctx?.booted.close();
    await proxy?.close();
    await server?.stop();
    ctx = undefined;
    proxy = undefined;
    server = undefined;
  });

  it('are called when a TCP proxy cuts the connections and lets them through again; L1 is cleared both times', async () => {
    server = await startRedisServer();
    proxy = await startTcpProxy(server);
    ctx = await setup(`redis://127.0.0.1:${proxy.port}`);
    const cutting = proxy;
    await expectInterruptionAndResume(ctx, { lose: () => cutting.cut(), restore: () => cutting.restore() });
  });

  it('are called when redis-server is killed and restarted; L1 is cleared both times', async () => {
    const running = (server = await startRedisServer());
    ctx = await setup(running.url);
    await expectInterruptionAndResume(ctx, { lose: () => running.kill(), restore: () => running.restart() });
  });

  it('are never called by the memory transport', async () => {
    const transport = new MemoryEventTransport();
    const listener = recorder();
    const subscription = transport.subscribe('channel', 'app:acme:events:probe', listener);
    await subscription.ready;
    await transport.publish('app:acme:events:probe', 'hello');
    await until(() => listener.messages.length === 1, { timeoutMs: 5_000, message: 'the message' });
    subscription.close();
    expect(listener.calls).toEqual([]);
  });
});
