import 'reflect-metadata';
import { EVENT_TRANSPORT, type EventTransport, type TransportSubscription } from '../../libs/coordination/src/events/event-transport.interface.js';
import { SHARED_TENANT } from '../../libs/coordination/src/keys/key-builder.js';
import { DRIVERS } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { ARRIVAL_MS, cacheApp, gate, type CacheTestApp } from './cache-test-app.js';

/**
 * Which bus messages keep a read from filling L1: a read (or a loader) overlapping the drop of
 * its own key must not fill L1 (its value may predate the write behind the drop), one
 * overlapping the drop of another key must (else L1 rarely fills under fleet write load). And
 * what this instance's own announcements do when they come back. Store answers and loaders are
 * held by gates, so every overlap is certain.
 */
describe.each(DRIVERS)('CacheService L1 and bus drops ($name)', (driver) => {
  let app: CacheTestApp;
  let transport: EventTransport;
  let channel: string;
  let listener: TransportSubscription;
  /** Every bus message, as this listener heard it: after the bus (subscribed first) handled it. */
  let heard: Array<{ o: string; k: string; v: string[] }>;
  beforeEach(async () => {
    app = await cacheApp(driver);
    transport = app.booted.get<EventTransport>(EVENT_TRANSPORT);
    channel = app.booted.core.keys.channel(SHARED_TENANT, 'cache', 'bus');
    heard = [];
    listener = transport.subscribe('channel', channel, { message: (_channel, text) => heard.push(JSON.parse(text)), failed: () => undefined });
    await listener.ready;
  });
  afterEach(async () => {
    listener.close();
    await app.close();
  });

  /** Another instance's 'keys' message naming `key`, handled by this instance's bus once this resolves. */
  async function droppedElsewhere(key: string): Promise<void> {
    const fullKey = app.entryKey(key);
    const seen = () => heard.filter((m) => m.o === 'another-instance' && m.v.includes(fullKey)).length;
    const before = seen();
    await transport.publish(channel, JSON.stringify({ o: 'another-instance', t: SHARED_TENANT, k: 'keys', v: [fullKey] }));
    await until(() => seen() > before, { timeoutMs: ARRIVAL_MS, message: `the drop of ${key} to arrive` });
  }

  /** Whether the next `get(key)` is answered by L1. */
  async function inL1(key: string): Promise<boolean> {
    const before = app.cache.stats().l1Hits;
    await app.cache.get(key);
    return app.cache.stats().l1Hits === before + 1;
  }

  /** Reads `key` with its store answer held while `during` runs; resolves with what the read returned. */
  async function readAround(key: string, during: () => Promise<void>): Promise<unknown> {
    const held = app.probe.holdNext('get');
    const reading = app.cache.get(key);
    await held.reached;
    await during();
    held.open();
    return reading;
  }

  it('a read overlapping the drop of another key still fills L1', async () => {
    await app.cache.set('a', 'A', { l1: false });
    expect(await readAround('a', () => droppedElsewhere('b'))).toBe('A');
    expect(await inL1('a')).toBe(true);
  });

  it('a read overlapping the drop of its own key does not fill L1', async () => {
    await app.cache.set('a', 'A', { l1: false });
    expect(await readAround('a', () => droppedElsewhere('a'))).toBe('A');
    expect(await inL1('a')).toBe(false);
  });

  it('a read overlapping a tag invalidation does not fill L1', async () => {
    await app.cache.set('a', 'A', { l1: false });
    expect(await readAround('a', () => app.cache.invalidateTags(['unrelated']))).toBe('A');
    expect(await inL1('a')).toBe(false);
  });

  it('keeps what a loader loaded in L1 when another key is dropped while it runs, not when its own key is', async () => {
    for (const [key, dropped, kept] of [['k1', 'other', true], ['k2', 'k2', false]] as const) {
      const started = gate();
      const release = gate<string>();
      const loading = app.cache.getOrSet(key, () => {
        started.open();
        return release.promise;
      });
      await started.promise;
      await droppedElsewhere(dropped);
      release.open('loaded');
      expect(await loading).toBe('loaded');
      expect(await inL1(key)).toBe(kept);
    }
  });

  it('keeps the value it wrote in L1 when its own announcement comes back (the echo drops nothing)', async () => {
    await app.cache.set('k', 'v');
    await until(() => heard.length === 1, { timeoutMs: ARRIVAL_MS, message: 'the echo of the set announcement' });
    expect(heard[0]).toMatchObject({ o: app.booted.core.instanceId, k: 'keys', v: [app.entryKey('k')] });
    expect(await inL1('k')).toBe(true);
  });

  it('with L1 off, a caller still joins a running load when another key was dropped, not when its own key was', async () => {
    const noL1 = await cacheApp(driver, { cache: { l1: { enabled: false } } });
    try {
      const held = gate<string>();
      let calls = 0;
      const loader = () => {
        calls++;
        return calls === 1 ? held.promise : Promise.resolve(`load ${calls}`);
      };
      const first = noL1.cache.getOrSet('k', loader);
      await until(() => calls === 1, { timeoutMs: ARRIVAL_MS, message: 'the first load to start' });
      await noL1.cache.delete('other');
      const joined = noL1.cache.getOrSet('k', loader);
      await until(() => noL1.cache.stats().coalesced === 1, { timeoutMs: ARRIVAL_MS, message: 'the second caller to join the load' });
      await noL1.cache.delete('k');
      const late = noL1.cache.getOrSet('k', loader);
      held.open('load 1');
      expect(await first).toBe('load 1');
      expect(await joined).toBe('load 1');
      expect(await late).toBe('load 2');
      expect(calls).toBe(2);
    } finally {
      await noL1.close();
    }
  });
});
