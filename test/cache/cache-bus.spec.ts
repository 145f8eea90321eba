import { CacheBus } from '../../libs/coordination/src/cache/cache-bus.js';
import { CacheL1, type L1Entry } from '../../libs/coordination/src/cache/cache-l1.js';
import { EVENT_TRANSPORT, type EventTransport } from '../../libs/coordination/src/events/event-transport.interface.js';
import { SHARED_TENANT } from '../../libs/coordination/src/keys/key-builder.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { DRIVERS, uniquePrefix } from '../support/drivers.js';
import { until } from '../support/wait.js';
import type { CoordinationCore } from '../support/internals.js';

/** Generous: a message that must arrive fails the test instead of hanging it; nothing is timed. */
const ARRIVAL_MS = 5_000;
const L1_OPTIONS = { enabled: true, maxEntries: 1_000, maxBytes: 1_000_000, ttlMs: 60_000, shareValues: false };

/** One module instance's view of the bus: its own L1 and CacheBus over the module's transport. */
interface Node {
  readonly core: CoordinationCore;
  readonly transport: EventTransport;
  readonly l1: CacheL1;
  readonly bus: CacheBus;
  /** Stores an entry in this node's L1 (no drop raced it). */
  put(fullKey: string, tenant: string, tagKeys?: string[]): void;
  /** Which of `fullKeys` this node's L1 holds. */
  held(...fullKeys: string[]): string[];
}

function node(core: CoordinationCore, transport: EventTransport, l1: CacheL1, bus: CacheBus): Node {
  const entry = (tagKeys: string[]): L1Entry => ({ text: 'v', freshUntil: core.clock.now() + 60_000, tagKeys, hasValue: false });
  return {
    core, transport, l1, bus,
    put: (fullKey, tenant, tagKeys = []) => l1.set(fullKey, tenant, entry(tagKeys), l1.generation),
    held: (...fullKeys) => fullKeys.filter((k) => l1.get(k) !== undefined),
  };
}

/** The L1 and bus the module instance itself runs (CacheService started the bus at init). */
function moduleNode(booted: BootedModule): Node {
  return node(booted.core, booted.get<EventTransport>(EVENT_TRANSPORT), booted.get(CacheL1), booted.get(CacheBus));
}

/**
 * A bus the test makes: the core (instance id, metrics) of `booted` on the transport of
 * `carrier`. On memory the transport stays inside one module instance, so a second instance
 * there rides the first one's.
 */
function extraNode(booted: BootedModule, carrier: BootedModule = booted): Node {
  const transport = carrier.get<EventTransport>(EVENT_TRANSPORT);
  const l1 = new CacheL1(L1_OPTIONS, booted.core.clock);
  return node(booted.core, transport, l1, new CacheBus(booted.core, transport, l1));
}

describe.each(DRIVERS)('CacheBus ($name)', (driver) => {
  const modules: BootedModule[] = [];
  let a: Node;
  let b: Node;
  const key = (tenant: string, id: string) => a.core.keys.key(tenant, 'cache', id);
  const tag = (tenant: string, name: string) => a.core.keys.key(tenant, 'cache-tag', name);

  beforeEach(async () => {
    const prefix = uniquePrefix('cbus');
    const boot = () => bootModule({ ...driver.options(), prefix, health: { pingIntervalMs: 0 } });
    modules.push(await boot(), await boot());
    a = moduleNode(modules[0]);
    b = driver.name === 'memory' ? extraNode(modules[1], modules[0]) : moduleNode(modules[1]);
    for (const n of [a, b]) n.bus.start();
    expect(await Promise.all([a.bus.ready(ARRIVAL_MS), b.bus.ready(ARRIVAL_MS)])).toEqual([true, true]);
  });

  afterEach(async () => {
    a?.bus.close();
    b?.bus.close();
    for (const booted of modules.splice(0)) await booted.close();
  });

  it("a 'keys' message from one instance drops those keys from another's L1 and wakes waiters on every instance", async () => {
    b.put(key('acme', 'a'), 'acme');
    b.put(key('acme', 'b'), 'acme');
    const there = b.bus.waitFor(key('acme', 'a'), ARRIVAL_MS);
    const here = a.bus.waitFor(key('acme', 'a'), ARRIVAL_MS);
    const unrelated = b.bus.waitFor(key('acme', 'b'), ARRIVAL_MS);

    await a.bus.publish('acme', 'keys', [key('acme', 'a')]);
    expect(await Promise.all([there.promise, here.promise])).toEqual(['changed', 'changed']);
    expect(b.held(key('acme', 'a'), key('acme', 'b'))).toEqual([key('acme', 'b')]);
    unrelated.cancel();
    expect(await unrelated.promise).toBe('ended');
  });

  it('publishNoValue wakes the waiters of those keys on every instance with no-value, and drops nothing', async () => {
    a.put(key('acme', 'a'), 'acme');
    b.put(key('acme', 'a'), 'acme');
    const generations = [a.l1.generation, b.l1.generation];
    const there = b.bus.waitFor(key('acme', 'a'), ARRIVAL_MS);
    const here = a.bus.waitFor(key('acme', 'a'), ARRIVAL_MS);
    const unrelated = b.bus.waitFor(key('acme', 'b'), ARRIVAL_MS);

    await a.bus.publishNoValue('acme', [key('acme', 'a')]);
    expect(await Promise.all([there.promise, here.promise])).toEqual(['no-value', 'no-value']);
    expect([a.held(key('acme', 'a')), b.held(key('acme', 'a'))]).toEqual([[key('acme', 'a')], [key('acme', 'a')]]);
    expect([a.l1.generation, b.l1.generation]).toEqual(generations);
    unrelated.cancel();
    expect(await unrelated.promise).toBe('ended');
  });

  it('publish drops the keys from its own L1 before the message goes out', async () => {
    a.put(key('acme', 'a'), 'acme');
    const generation = a.l1.generation;
    const published = a.bus.publish('acme', 'keys', [key('acme', 'a')]);
    expect(a.held(key('acme', 'a'))).toEqual([]);
    expect(a.l1.generation).toBeGreaterThan(generation);
    await published;
  });

  it('wakes waiters but drops nothing again when its own message comes back', async () => {
    const channel = a.core.keys.channel(SHARED_TENANT, 'cache', 'bus');
    const seen: string[] = [];
    // Joins after the bus's listener, so it sees each message after the bus handled it.
    const probe = a.transport.subscribe('channel', channel, { message: (_channel, text) => seen.push(text), failed: () => undefined });
    await probe.ready;
    const generation = a.l1.generation;
    await a.bus.publish('acme', 'keys', [key('acme', 'a')]);
    a.put(key('acme', 'a'), 'acme'); // what the writer does right after announcing its write
    await until(() => seen.length === 1, { timeoutMs: ARRIVAL_MS, message: 'the echo of our own message' });
    expect(a.l1.generation).toBe(generation + 1);
    expect(a.held(key('acme', 'a'))).toEqual([key('acme', 'a')]);
    probe.close();
  });

  it("a 'tags' message drops the tagged entries and wakes the waiters of its tenant only", async () => {
    b.put(key('acme', 'x1'), 'acme', [tag('acme', 'x')]);
    b.put(key('acme', 'y1'), 'acme', [tag('acme', 'y')]);
    const ofTenant = b.bus.waitFor(key('acme', 'loading'), ARRIVAL_MS);
    const ofOther = b.bus.waitFor(key('globex', 'loading'), ARRIVAL_MS);

    await a.bus.publish('acme', 'tags', [tag('acme', 'x')]);
    expect(await ofTenant.promise).toBe('changed');
    expect(b.held(key('acme', 'x1'), key('acme', 'y1'))).toEqual([key('acme', 'y1')]);
    ofOther.cancel();
    expect(await ofOther.promise).toBe('ended');
  });

  it("a 'pattern' message drops the matching keys of its tenant", async () => {
    for (const id of ['user:1', 'user:2', 'crew:1']) b.put(key('acme', id), 'acme');
    b.put(key('globex', 'user:1'), 'globex');
    const woken = b.bus.waitFor(key('acme', 'crew:2'), ARRIVAL_MS);

    await a.bus.publish('acme', 'pattern', [a.core.keys.pattern('acme', 'cache', 'user:*')]);
    expect(await woken.promise).toBe('changed');
    expect(b.held(key('acme', 'user:1'), key('acme', 'user:2'), key('acme', 'crew:1'), key('globex', 'user:1')))
      .toEqual([key('acme', 'crew:1'), key('globex', 'user:1')]);
  });

  it("a 'clear' message drops its tenant's entries and leaves another tenant's", async () => {
    b.put(key('acme', 'a'), 'acme');
    b.put(key('globex', 'a'), 'globex');
    const woken = b.bus.waitFor(key('acme', 'a'), ARRIVAL_MS);

    await a.bus.publish('acme', 'clear', []);
    expect(await woken.promise).toBe('changed');
    expect(b.held(key('acme', 'a'), key('globex', 'a'))).toEqual([key('globex', 'a')]);
  });

  it('waitFor resolves ended when its time is up, or on cancel, and leaves nothing registered', async () => {
    expect(await b.bus.waitFor(key('acme', 'never'), 20).promise).toBe('ended');
    const cancelled = b.bus.waitFor(key('acme', 'a'), ARRIVAL_MS);
    cancelled.cancel();
    const woken = b.bus.waitFor(key('acme', 'a'), ARRIVAL_MS);
    await a.bus.publish('acme', 'keys', [key('acme', 'a')]);
    expect(await Promise.all([cancelled.promise, woken.promise])).toEqual(['ended', 'changed']);
    expect(b.bus['waiters'].size).toBe(0);
  });

  it('counts and ignores malformed messages, and keeps applying valid ones', async () => {
    const channel = a.core.keys.channel(SHARED_TENANT, 'cache', 'bus');
    const malformed = ['not json', 'null', '{"o":"x","t":"acme","k":"keys","v":[1]}', '{"o":"x","t":"acme","k":"drop","v":[]}',
      '{"o":"x","t":"no tenant!","k":"clear","v":[]}', '{"o":"x","t":"acme","k":"clear","v":[],"n":true}', '{"o":"x","t":"acme","k":"keys","v":[],"n":1}'];
    b.put(key('acme', 'a'), 'acme');
    for (const message of malformed) await a.transport.publish(channel, message);
    const woken = b.bus.waitFor(key('acme', 'a'), ARRIVAL_MS);
    await a.transport.publish(channel, JSON.stringify({ o: 'other', t: 'acme', k: 'keys', v: [key('acme', 'a')] }));
    expect(await woken.promise).toBe('changed');
    // A cluster may deliver messages published through different nodes out of order: wait for all.
    await until(() => b.core.metrics.counter('cache_bus_malformed_total') === malformed.length, {
      timeoutMs: ARRIVAL_MS, message: () => `${malformed.length} malformed messages counted (${b.core.metrics.counter('cache_bus_malformed_total')})`,
    });
    expect(b.held(key('acme', 'a'))).toEqual([]);
  });

  it('keeps L1 bypassed until its subscription is confirmed', async () => {
    const fresh = extraNode(modules[0]);
    fresh.bus.start();
    fresh.put(key('acme', 'a'), 'acme');
    expect(fresh.held(key('acme', 'a'))).toEqual([]);
    expect(await fresh.bus.ready(ARRIVAL_MS)).toBe(true);
    fresh.put(key('acme', 'a'), 'acme');
    expect(fresh.held(key('acme', 'a'))).toEqual([key('acme', 'a')]);
    fresh.bus.close();
  });

  it('close resolves pending waiters ended, suspends L1 and unsubscribes', async () => {
    const before = b.transport.activeSubscriptions;
    const pending = b.bus.waitFor(key('acme', 'a'), ARRIVAL_MS);
    b.put(key('acme', 'b'), 'acme');
    b.bus.close();
    expect(await pending.promise).toBe('ended');
    expect(await b.bus.waitFor(key('acme', 'a'), ARRIVAL_MS).promise).toBe('ended');
    expect(await b.bus.ready(ARRIVAL_MS)).toBe(false);
    expect(b.held(key('acme', 'b'))).toEqual([]);
    // On memory `a` shares the transport and still holds the channel.
    expect(b.transport.activeSubscriptions).toBe(a.transport === b.transport ? before : before - 1);
  });
});
