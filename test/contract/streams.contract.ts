import { jest } from '@jest/globals';
import {
  DeadLetterNotFoundError, InvalidArgumentError, SerializationError, StreamService, StreamShutdownError, TenantInvalidError, defineStream,
  type StreamConsumeOptions, type StreamEntry, type StreamModuleOptions, type StreamRef,
} from '@nest-coordination/core';
import { CoordinationCore } from '../support/internals.js';
import { StreamKeys } from '../../libs/coordination/src/streams/stream-keys.js';
import { STREAM_STORE, type StreamStore } from '../../libs/coordination/src/streams/stream-store.interface.js';
import { bootModule } from '../support/boot.js';
import type { DriverCase } from '../support/drivers.js';
import { rejectionOf, until } from '../support/wait.js';

/** How long a test waits for deliveries, retries and acks: a bound for a broken behaviour, not a speed assertion. */
export const ARRIVAL_MS = 15_000;

/** A module with StreamService, and the internals the tests reach into (the store, the keys). */
export interface StreamsApp {
  readonly streams: StreamService;
  readonly core: CoordinationCore;
  readonly store: StreamStore;
  readonly keys: StreamKeys;
  close(): Promise<void>;
}

/**
 * Boots CoordinationModule on `driver` (a unique key prefix) with the `streams` options given.
 *
 * @example
 * const app = await streamsApp(driver, { shutdownTimeoutMs: 5_000 });
 */
export async function streamsApp(driver: DriverCase, streams: StreamModuleOptions = {}): Promise<StreamsApp> {
  const booted = await bootModule({ ...driver.options(), streams });
  let closed: Promise<void> | undefined;
  return {
    streams: booted.get(StreamService),
    core: booted.core,
    store: booted.get<StreamStore>(STREAM_STORE),
    keys: booted.get(StreamKeys),
    close: () => (closed ??= booted.close()),
  };
}

/**
 * Boots a StreamsApp before each test of the enclosing describe block and closes it after;
 * `use` receives it.
 *
 * @example
 * let app!: StreamsApp;
 * streamsAppEach(driver, (booted) => (app = booted));
 */
export function streamsAppEach(driver: DriverCase, use: (app: StreamsApp) => void): void {
  let app: StreamsApp;
  beforeEach(async () => {
    app = await streamsApp(driver, { shutdownTimeoutMs: 5_000 });
    use(app);
  });
  afterEach(() => app.close());
}

/** Whether entry id `a` comes after `b` in a stream. */
export function isAfter(a: string, b: string): boolean {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  return am === bm ? as > bs : am > bm;
}

/** A handler that records what it receives (and the tenant context it runs in), optionally failing or waiting first. */
export function recorder<T = unknown>(behaviour: (entry: StreamEntry<T>) => unknown = () => undefined) {
  const entries: Array<StreamEntry<T>> = [];
  const tenants: Array<string | undefined> = [];
  return {
    entries,
    tenants,
    ids: () => entries.map((e) => e.id),
    /** The handler to pass to `consume` (typed loosely: tests consume plain stream names). */
    attach(core: CoordinationCore) {
      return async (received: StreamEntry) => {
        const entry = received as StreamEntry<T>;
        entries.push(entry);
        tenants.push(core.tenants.current());
        await behaviour(entry);
      };
    },
  };
}

/** A promise and its resolver, to hold a handler until the test lets it go. */
export function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Appends `payloads` in order and returns their ids. */
export async function appendAll(streams: StreamService, stream: StreamRef, payloads: readonly unknown[], tenant = 'acme'): Promise<string[]> {
  const ids: string[] = [];
  for (const payload of payloads) ids.push(await streams.append(stream, payload, { tenant }));
  return ids;
}

/** Resolves once the group has no pending entry. */
export function drained(streams: StreamService, stream: StreamRef, group: string, tenant = 'acme'): Promise<unknown> {
  return until(async () => (await streams.pending(stream, group, { tenant })).count === 0, { timeoutMs: ARRIVAL_MS, message: `group ${group} to have nothing pending` });
}

/** The largest stream entry id: both parts 2^64 - 1. */
const LAST_ID = '18446744073709551615-18446744073709551615';
const ORDERS = defineStream<{ orderId: string; at: Date; lines: Map<string, number>; total: bigint }>('orders');
/** Consumer options of the tests: tenant acme, short blocking reads, entries reclaimed after 1 s. */
export const FAST: StreamConsumeOptions = { tenant: 'acme', blockMs: 200, claimIdleMs: 1_000 };

/**
 * What StreamService promises on every backend, through the Nest module: append and replay,
 * tenancy, input checks and the error types. Consumers: streams.contract-consumers.ts.
 */
export function describeStreamServiceContract(driver: DriverCase): void {
  let app!: StreamsApp;
  let streams!: StreamService;
  streamsAppEach(driver, (booted) => {
    app = booted;
    streams = booted.streams;
  });

  it('appends typed entries through the serializer and reads them back in order, from an id, after an id, by count', async () => {
    const first = { orderId: 'o-1', at: new Date(5), lines: new Map([['sku-1', 2]]), total: 10n };
    const second = { orderId: 'o-2', at: new Date(6), lines: new Map<string, number>(), total: 0n };
    const [id1, id2] = await appendAll(streams, ORDERS, [first, second]);
    expect(id1).toMatch(/^\d+-\d+$/);
    expect(id2).toMatch(/^\d+-\d+$/);
    expect(isAfter(id2, id1)).toBe(true);
    const all = await streams.read(ORDERS, { tenant: 'acme' });
    expect(all).toEqual([
      { id: id1, stream: 'orders', tenant: 'acme', payload: first, appendedAt: new Date(Number(id1.split('-')[0])), deliveries: 0 },
      { id: id2, stream: 'orders', tenant: 'acme', payload: second, appendedAt: new Date(Number(id2.split('-')[0])), deliveries: 0 },
    ]);
    expect(all[0].payload.at).toBeInstanceOf(Date);
    expect(all[0].payload.lines).toBeInstanceOf(Map);
    expect((await streams.read(ORDERS, { tenant: 'acme', after: id1 })).map((e) => e.id)).toEqual([id2]);
    expect((await streams.read(ORDERS, { tenant: 'acme', from: id2 })).map((e) => e.id)).toEqual([id2]);
    expect((await streams.read(ORDERS, { tenant: 'acme', count: 1 })).map((e) => e.id)).toEqual([id1]);
    expect(await streams.read(ORDERS, { tenant: 'acme', after: id2 })).toEqual([]);
    // Nothing can come after the largest id there is.
    expect(await streams.read(ORDERS, { tenant: 'acme', after: LAST_ID })).toEqual([]);
    expect(await streams.deadLetters(ORDERS, { tenant: 'acme', after: LAST_ID })).toEqual([]);
    expect((await streams.read(ORDERS, { tenant: 'acme', from: '0-0' })).map((e) => e.id)).toEqual([id1, id2]);
    expect(await streams.length(ORDERS, { tenant: 'acme' })).toBe(2);
    expect(await streams.length('never-written', { tenant: 'acme' })).toBe(0);
    expect(app.core.metrics.counter('streams_appended_total')).toBe(2);
  });

  it("keeps tenants apart: another tenant's stream, groups and dead letters are not visible; the tenant context picks the stream", async () => {
    await streams.append('audit', { n: 1 }, { tenant: 'acme' });
    await app.core.tenants.run('acme', () => streams.append('audit', { n: 2 }));
    await streams.consume('audit', 'g', () => Promise.reject(new Error('poison')), { ...FAST, maxDeliveries: 1 });
    await until(async () => (await streams.deadLetters('audit', { tenant: 'acme' })).length === 2, { timeoutMs: ARRIVAL_MS, message: 'two dead letters of acme' });
    expect((await streams.read('audit', { tenant: 'acme' })).map((e) => e.payload)).toEqual([{ n: 1 }, { n: 2 }]);
    expect(await streams.read('audit', { tenant: 'globex' })).toEqual([]);
    expect(await streams.length('audit', { tenant: 'globex' })).toBe(0);
    expect(await streams.deadLetters('audit', { tenant: 'globex' })).toEqual([]);
    expect(await streams.groups('audit', { tenant: 'globex' })).toEqual([]);
    expect(await app.core.tenants.run('globex', () => streams.read('audit'))).toEqual([]);
    const [letter] = await streams.deadLetters('audit', { tenant: 'acme' });
    await expect(streams.replayDeadLetter('audit', letter.id, { tenant: 'globex' })).rejects.toBeInstanceOf(DeadLetterNotFoundError);
    const globex = recorder();
    await streams.consume('audit', 'g', globex.attach(app.core), { ...FAST, tenant: 'globex' });
    await streams.append('audit', { n: 3 }, { tenant: 'globex' });
    await until(() => globex.entries.length === 1, { timeoutMs: ARRIVAL_MS, message: "globex's own entry" });
    expect(globex.entries[0]).toMatchObject({ tenant: 'globex', payload: { n: 3 } });
    expect(globex.tenants).toEqual(['globex']);
  });

  it('throws InvalidArgumentError naming the argument before any store call', async () => {
    const spies = (['append', 'range', 'length', 'ensureGroup', 'openReader', 'claim', 'pending', 'groups', 'deadLetters', 'replay'] as const).map((m) =>
      jest.spyOn(app.store, m),
    );
    const handler = () => undefined;
    const bad: Array<[string, () => Promise<unknown>]> = [
      ['stream', () => streams.append('', 1)],
      ['stream', () => streams.append('s'.repeat(513), 1)],
      ['stream', () => streams.read(42 as unknown as string)],
      ['stream', () => streams.length({ name: '' })],
      ['options', () => streams.append('s', 1, 'acme' as never)],
      ['maxLen', () => streams.append('s', 1, { maxLen: -1 })],
      ['maxLen', () => streams.append('s', 1, { maxLen: 1.5 })],
      ['from', () => streams.read('s', { from: 'abc' })],
      ['after', () => streams.read('s', { after: '-' })],
      ['count', () => streams.read('s', { count: 0 })],
      ['count', () => streams.read('s', { count: 10_001 })],
      ['group', () => streams.consume('s', '', handler)],
      ['group', () => streams.consume('s', 'g'.repeat(201), handler)],
      ['group', () => streams.consume('s', 'a\nb', handler)],
      ['handler', () => streams.consume('s', 'g', 'nope' as never)],
      ['consumer', () => streams.consume('s', 'g', handler, { consumer: '' })],
      ['consumer', () => streams.consume('s', 'g', handler, { consumer: 'x\u0007' })],
      ['concurrency', () => streams.consume('s', 'g', handler, { concurrency: 0 })],
      ['concurrency', () => streams.consume('s', 'g', handler, { concurrency: 1_001 })],
      ['batch', () => streams.consume('s', 'g', handler, { batch: 2.5 })],
      ['blockMs', () => streams.consume('s', 'g', handler, { blockMs: 0 })],
      ['maxDeliveries', () => streams.consume('s', 'g', handler, { maxDeliveries: 0 })],
      ['claimIdleMs', () => streams.consume('s', 'g', handler, { claimIdleMs: 99 })],
      ['startFrom', () => streams.consume('s', 'g', handler, { startFrom: 'middle' as never })],
      ['group', () => streams.pending('s', '')],
      ['count', () => streams.deadLetters('s', { count: 0 })],
      ['after', () => streams.deadLetters('s', { after: 'x' })],
      ['id', () => streams.replayDeadLetter('s', '12')],
      // Each part of an id is an unsigned 64-bit integer.
      ['from', () => streams.read('s', { from: '18446744073709551616-0' })],
      ['after', () => streams.read('s', { after: '0-99999999999999999999' })],
      ['after', () => streams.deadLetters('s', { after: '99999999999999999999-0' })],
      ['id', () => streams.replayDeadLetter('s', '18446744073709551616-0')],
      // A StreamDefinition built by hand, not by defineStream.
      ['stream', () => streams.append({ name: 's', maxLen: -1 } as StreamRef, 1)],
      ['stream', () => streams.replayDeadLetter({ name: 's', maxLen: 0.5 } as StreamRef, '1-0')],
    ];
    for (const [argument, call] of bad) {
      const error = await rejectionOf(call());
      expect([argument, error]).toEqual([argument, expect.any(InvalidArgumentError)]);
      expect([argument, (error as InvalidArgumentError).argument]).toEqual([argument, argument]);
    }
    expect(await rejectionOf(streams.append('s', { f: () => 1 }))).toBeInstanceOf(SerializationError);
    expect(await rejectionOf(streams.append('s', 1, { tenant: 'a*b' }))).toBeInstanceOf(TenantInvalidError);
    expect(await rejectionOf(streams.consume('s', 'g', handler, { tenant: '' }))).toBeInstanceOf(TenantInvalidError);
    for (const spy of spies) expect(spy).not.toHaveBeenCalled();
  });

  it('refuses a second consumer of the same name in one group, and any consumer once the application shuts down', async () => {
    const subscription = await streams.consume('s', 'g', () => undefined, { ...FAST, consumer: 'w1' });
    expect(subscription).toMatchObject({ stream: 's', group: 'g', consumer: 'w1', tenant: 'acme' });
    const twice = await rejectionOf(streams.consume('s', 'g', () => undefined, { ...FAST, consumer: 'w1' }));
    expect(twice).toBeInstanceOf(InvalidArgumentError);
    expect((twice as InvalidArgumentError).argument).toBe('consumer');
    await streams.consume('s', 'other-group', () => undefined, { ...FAST, consumer: 'w1' });
    await subscription.stop();
    await streams.consume('s', 'g', () => undefined, { ...FAST, consumer: 'w1' }); // free again once stopped
    const defaulted = await streams.consume('s', 'h', () => undefined, FAST);
    expect(defaulted.consumer).toBe(app.core.instanceId);
    await app.close();
    await expect(streams.consume('s', 'g', () => undefined, { ...FAST, consumer: 'w2' })).rejects.toBeInstanceOf(StreamShutdownError);
  });

  it('replays a dead letter to its group only (other groups ack it unhandled), once', async () => {
    let fixed = false;
    const a = recorder<{ n: number }>((entry) => {
      if (entry.payload.n === 2 && !fixed) throw new Error('not yet');
    });
    const b = recorder<{ n: number }>();
    await streams.consume('jobs', 'a', a.attach(app.core), { ...FAST, maxDeliveries: 1 });
    await streams.consume('jobs', 'b', b.attach(app.core), FAST);
    const [, id2] = await appendAll(streams, 'jobs', [{ n: 1 }, { n: 2 }]);
    const [letter] = await until(() => streams.deadLetters('jobs', { tenant: 'acme' }).then((l) => (l.length === 1 ? l : null)), { timeoutMs: ARRIVAL_MS, message: 'the dead letter' });
    expect(letter).toMatchObject({ stream: 'jobs', tenant: 'acme', entryId: id2, group: 'a', error: 'not yet', deliveries: 1, payload: { n: 2 } });
    await until(() => b.entries.length === 2, { timeoutMs: ARRIVAL_MS, message: 'group b to handle both entries' });
    fixed = true;
    const { entryId } = await streams.replayDeadLetter('jobs', letter.id, { tenant: 'acme' });
    expect(isAfter(entryId, id2)).toBe(true);
    await until(() => a.ids().includes(entryId), { timeoutMs: ARRIVAL_MS, message: 'group a to get the replayed entry' });
    expect(a.entries.at(-1)).toMatchObject({ id: entryId, payload: { n: 2 }, deliveries: 1 });
    await until(async () => (await streams.groups('jobs', { tenant: 'acme' })).every((g) => g.lastDeliveredId === entryId && g.pending === 0), {
      timeoutMs: ARRIVAL_MS, message: 'both groups to have taken and acked the replayed entry',
    });
    expect(b.ids()).not.toContain(entryId);
    expect(await streams.deadLetters('jobs', { tenant: 'acme' })).toEqual([]);
    await expect(streams.replayDeadLetter('jobs', letter.id, { tenant: 'acme' })).rejects.toBeInstanceOf(DeadLetterNotFoundError);
  });
}
