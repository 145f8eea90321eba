import type { StreamService } from '@nest-coordination/core';
import type { DriverCase } from '../support/drivers.js';
import { sleep, until } from '../support/wait.js';
import { ARRIVAL_MS, FAST, appendAll, drained, gate, recorder, streamsAppEach, type StreamsApp } from './streams.contract.js';
const labels = (stream: string, group: string) => ({ stream, group });
/** The labels of a group gauge: one series per tenant. */
const gaugeLabels = (stream: string, group: string, tenant = 'acme') => ({ stream, group, tenant });

/**
 * Consumers of StreamService on every backend: at-least-once delivery and acks, order,
 * retries and dead letters, recovery of pending entries, shutdown, lag and pending.
 */
export function describeStreamConsumerContract(driver: DriverCase): void {
  let app!: StreamsApp;
  let streams!: StreamService;
  streamsAppEach(driver, (booted) => {
    app = booted;
    streams = booted.streams;
  });

  it('delivers every entry once, in its tenant context, and acks it', async () => {
    const ids = await appendAll(streams, 'work', Array.from({ length: 12 }, (_, n) => ({ n })));
    const seen = recorder<{ n: number }>();
    await streams.consume('work', 'g', seen.attach(app.core), { ...FAST, concurrency: 4, batch: 5 });
    const late = await appendAll(streams, 'work', [{ n: 12 }, { n: 13 }]);
    await until(() => seen.entries.length >= 14, { timeoutMs: ARRIVAL_MS, message: 'all 14 entries' });
    await drained(streams, 'work', 'g');
    expect(seen.ids().sort()).toEqual([...ids, ...late].sort());
    expect(new Set(seen.ids()).size).toBe(14);
    expect(seen.entries.every((e) => e.deliveries === 1 && e.stream === 'work' && e.tenant === 'acme')).toBe(true);
    expect(seen.tenants.every((t) => t === 'acme')).toBe(true);
    const { metrics } = app.core;
    expect(metrics.counter('streams_delivered_total', labels('work', 'g'))).toBe(14);
    await until(() => metrics.counter('streams_acked_total', labels('work', 'g')) === 14, { timeoutMs: ARRIVAL_MS, message: '14 acks counted' });
    expect(metrics.snapshot().histograms.find((h) => h.name === 'streams_handler_ms')?.count).toBe(14);
    expect(metrics.counter('streams_handler_failed_total', labels('work', 'g'))).toBe(0);
  });

  it('handles entries one at a time, in append order, with concurrency 1; up to `concurrency` at once otherwise', async () => {
    /** A handler taking a few ms, and the most of its calls that ran at once. */
    const counted = () => {
      let running = 0;
      const state = { most: 0, handler: async () => {
        state.most = Math.max(state.most, ++running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        running -= 1;
      } };
      return state;
    };
    const one = counted();
    const before = await appendAll(streams, 'ordered', Array.from({ length: 8 }, (_, n) => n));
    const seen = recorder<number>(one.handler);
    await streams.consume('ordered', 'g', seen.attach(app.core), { ...FAST, concurrency: 1, batch: 3 });
    const after = await appendAll(streams, 'ordered', [8, 9, 10]);
    await until(() => seen.entries.length === 11, { timeoutMs: ARRIVAL_MS, message: 'all 11 entries' });
    expect(seen.ids()).toEqual([...before, ...after]);
    expect(seen.entries.map((e) => e.payload)).toEqual(Array.from({ length: 11 }, (_, n) => n));
    expect(one.most).toBe(1);

    const three = counted();
    const wide = recorder(three.handler);
    await streams.consume('ordered', 'wide', wide.attach(app.core), { ...FAST, concurrency: 3, batch: 11 });
    await until(() => wide.entries.length === 11, { timeoutMs: ARRIVAL_MS, message: 'all 11 entries in group wide' });
    expect(three.most).toBe(3);
  });

  it('never hands an entry to a second consumer of the group while the first one still works on it (it renews it)', async () => {
    const held = gate();
    const first = recorder(() => held.promise);
    const second = recorder();
    const options = { ...FAST, claimIdleMs: 1_000 };
    // w1 holds two entries (one in flight, one read ahead): at capacity, it makes no claim pass of its own.
    await streams.consume('shared', 'g', first.attach(app.core), { ...options, consumer: 'w1', concurrency: 1, batch: 1 });
    const ids = await appendAll(streams, 'shared', ['slow', 'next']);
    await until(async () => first.entries.length === 1 && (await streams.pending('shared', 'g', { tenant: 'acme' })).count === 2, {
      timeoutMs: ARRIVAL_MS, message: 'w1 to hold both entries',
    });
    await streams.consume('shared', 'g', second.attach(app.core), { ...options, consumer: 'w2' });
    // Let three claimIdleMs pass on purpose: w2 claims idle entries every 500 ms meanwhile.
    await sleep(3_000);
    expect(second.entries).toEqual([]);
    held.open();
    await drained(streams, 'shared', 'g');
    expect(first.ids()).toEqual(ids);
    expect(app.core.metrics.counter('streams_entries_lost_total', labels('shared', 'g'))).toBe(0);
  });

  it('retries a failing entry after claimIdleMs and moves it to the dead letters after maxDeliveries, acked', async () => {
    let attempts = 0;
    const seen = recorder<string>((entry) => {
      if (entry.payload !== 'poison') return;
      attempts += 1;
      throw new Error(`boom ${attempts}`);
    });
    await streams.consume('jobs', 'g', seen.attach(app.core), { ...FAST, maxDeliveries: 3, consumer: 'w1' });
    const [ok, poison] = await appendAll(streams, 'jobs', ['fine', 'poison']);
    const [letter] = await until(() => streams.deadLetters('jobs', { tenant: 'acme' }).then((l) => (l.length > 0 ? l : null)), {
      timeoutMs: ARRIVAL_MS, message: 'the poison entry in the dead letters',
    });
    expect(letter).toMatchObject({ entryId: poison, group: 'g', consumer: 'w1', error: 'boom 3', deliveries: 3, payload: 'poison', stream: 'jobs', tenant: 'acme' });
    expect(letter.deadAt).toBeInstanceOf(Date);
    expect(seen.entries.filter((e) => e.id === poison).map((e) => e.deliveries)).toEqual([1, 2, 3]);
    expect(seen.entries.filter((e) => e.id === ok)).toHaveLength(1);
    await drained(streams, 'jobs', 'g');
    // Let two claimIdleMs pass on purpose: a dead entry is never delivered again.
    await sleep(2_000);
    expect(attempts).toBe(3);
    const { metrics } = app.core;
    expect(metrics.counter('streams_handler_failed_total', labels('jobs', 'g'))).toBe(3);
    expect(metrics.counter('streams_dead_lettered_total', labels('jobs', 'g'))).toBe(1);
    expect(metrics.counter('streams_reclaimed_total', labels('jobs', 'g'))).toBe(2);
  });

  it('drains its own pending entries first when a consumer restarts under the same name', async () => {
    const held = gate();
    const first = recorder(() => held.promise);
    const ids = await appendAll(streams, 'resume', [0, 1, 2, 3, 4]);
    const subscription = await streams.consume('resume', 'g', first.attach(app.core), { ...FAST, concurrency: 1, batch: 5, claimIdleMs: 60_000, consumer: 'w1' });
    // Five read ahead and the first in the handler (held there): the read and the first dispatch are two steps.
    await until(async () => first.entries.length === 1 && (await streams.pending('resume', 'g', { tenant: 'acme' })).count === 5, {
      timeoutMs: ARRIVAL_MS, message: 'five entries read ahead, the first in the handler',
    });
    const stopping = subscription.stop();
    held.open();
    await stopping;
    expect(first.ids()).toEqual([ids[0]]);
    expect(await streams.pending('resume', 'g', { tenant: 'acme' })).toEqual({ count: 4, oldestId: ids[1], newestId: ids[4], consumers: { w1: 4 } });
    const later = await appendAll(streams, 'resume', [5, 6]);
    const second = recorder();
    await streams.consume('resume', 'g', second.attach(app.core), { ...FAST, concurrency: 1, claimIdleMs: 60_000, consumer: 'w1' });
    await until(() => second.entries.length === 6, { timeoutMs: ARRIVAL_MS, message: 'the four pending and two new entries' });
    expect(second.ids()).toEqual([...ids.slice(1), ...later]);
    // stop() handed the four back uncounted: they never ran.
    expect(second.entries.map((e) => e.deliveries)).toEqual([1, 1, 1, 1, 1, 1]);
    await drained(streams, 'resume', 'g');
  });

  it("reclaims a crashed consumer's entries after claimIdleMs, and gives up on those delivered too often", async () => {
    const keys = app.keys.of('acme', 'crashy');
    await app.store.ensureGroup(keys, 'g', 'earliest');
    await appendAll(streams, 'crashy', ['a', 'b']);
    const ghost = app.store.openReader();
    const taken = await ghost.readNew(keys, 'g', 'ghost', 10, 100); // read, then never acked nor renewed: a crash
    await ghost.close();
    expect(taken.map((e) => e.id)).toHaveLength(2);
    const seen = recorder();
    await streams.consume('crashy', 'g', seen.attach(app.core), { ...FAST, consumer: 'w1' });
    await until(() => seen.entries.length === 2, { timeoutMs: ARRIVAL_MS, message: "the ghost's two entries" });
    expect(seen.entries.map((e) => [e.payload, e.deliveries])).toEqual([['a', 2], ['b', 2]]);
    await drained(streams, 'crashy', 'g');
    expect(app.core.metrics.counter('streams_reclaimed_total', labels('crashy', 'g'))).toBe(2);

    await appendAll(streams, 'crashy', ['c']);
    await app.store.ensureGroup(keys, 'h', 'earliest');
    const ghost2 = app.store.openReader();
    expect(await ghost2.readNew(keys, 'h', 'ghost', 10, 100)).toHaveLength(3);
    await ghost2.close();
    const never = recorder();
    await streams.consume('crashy', 'h', never.attach(app.core), { ...FAST, maxDeliveries: 1, consumer: 'w1' });
    const letters = await until(() => streams.deadLetters('crashy', { tenant: 'acme' }).then((l) => (l.length === 3 ? l : null)), {
      timeoutMs: ARRIVAL_MS, message: "the ghost's three entries of group h in the dead letters",
    });
    // A dead letter counts the deliveries the entry had (the ghost's), not the claim that gave up on it.
    expect(letters.map((l) => [l.payload, l.group, l.deliveries])).toEqual([['a', 'h', 1], ['b', 'h', 1], ['c', 'h', 1]]);
    expect(letters[0].error).toMatch(/delivered 1 time without an acknowledgement/);
    expect(never.entries).toEqual([]);
    await drained(streams, 'crashy', 'h');
  });

  it('moves an entry the serializer cannot decode straight to the dead letters', async () => {
    const keys = app.keys.of('acme', 'mixed');
    const [good1] = await appendAll(streams, 'mixed', [1]);
    const bad = await app.store.append(keys, '9Z{not a payload', 0);
    const [good2] = await appendAll(streams, 'mixed', [2]);
    const seen = recorder();
    await streams.consume('mixed', 'g', seen.attach(app.core), { ...FAST, maxDeliveries: 5 });
    await until(() => seen.entries.length === 2, { timeoutMs: ARRIVAL_MS, message: 'the two decodable entries' });
    expect(seen.ids()).toEqual([good1, good2]);
    const [letter] = await until(() => streams.deadLetters('mixed', { tenant: 'acme' }).then((l) => (l.length > 0 ? l : null)), {
      timeoutMs: ARRIVAL_MS, message: 'the undecodable entry in the dead letters',
    });
    expect(letter).toMatchObject({ entryId: bad, group: 'g', deliveries: 1, payload: undefined });
    expect(letter.error).toMatch(/cannot decode/);
    await drained(streams, 'mixed', 'g');
    await expect(streams.read('mixed', { tenant: 'acme' })).rejects.toThrow(bad);
  });

  it('stop() lets the in-flight handler finish and acks it; read-ahead entries stay pending', async () => {
    const held = gate();
    let finished = 0;
    const seen = recorder(async () => {
      await held.promise;
      finished += 1;
    });
    const ids = await appendAll(streams, 'slow', [0, 1, 2]);
    const subscription = await streams.consume('slow', 'g', seen.attach(app.core), { ...FAST, concurrency: 1, batch: 3 });
    await until(() => seen.entries.length === 1, { timeoutMs: ARRIVAL_MS, message: 'the first handler to start' });
    let stopped = false;
    const stopping = subscription.stop().then(() => (stopped = true));
    // Let time pass on purpose: stop() must wait for the handler still running.
    await sleep(300);
    expect(stopped).toBe(false);
    held.open();
    await stopping;
    expect(finished).toBe(1);
    expect(await streams.pending('slow', 'g', { tenant: 'acme' })).toMatchObject({ count: 2, oldestId: ids[1], newestId: ids[2] });
    await appendAll(streams, 'slow', [3]);
    // A stopped consumer reads nothing more.
    await sleep(300);
    expect(seen.entries).toHaveLength(1);
  });

  it('reports lag and pending per group, in groups(), pending() and the gauges', async () => {
    const held = gate();
    const ids = await appendAll(streams, 'lagging', [0, 1, 2, 3, 4]);
    await streams.consume('lagging', 'g', recorder(() => held.promise).attach(app.core), { ...FAST, concurrency: 1, batch: 1, consumer: 'w1' });
    const { metrics } = app.core;
    // The gauges are refreshed as soon as the group exists, before the first read: the whole stream is lag then.
    await until(() => metrics.gauge('streams_group_lag', gaugeLabels('lagging', 'g')) !== undefined, { timeoutMs: ARRIVAL_MS, message: 'the lag gauge' });
    expect(metrics.gauge('streams_group_lag', gaugeLabels('lagging', 'g'))).toBe(5);
    expect(metrics.gauge('streams_group_pending', gaugeLabels('lagging', 'g'))).toBe(0);
    // One entry in flight and one read ahead (batch + concurrency): the consumer holds no more.
    await until(async () => (await streams.pending('lagging', 'g', { tenant: 'acme' })).count === 2, { timeoutMs: ARRIVAL_MS, message: 'two entries held' });
    expect(await streams.groups('lagging', { tenant: 'acme' })).toEqual([{ group: 'g', consumers: 1, pending: 2, lag: 3, lastDeliveredId: ids[1] }]);
    expect(await streams.pending('lagging', 'g', { tenant: 'acme' })).toEqual({ count: 2, oldestId: ids[0], newestId: ids[1], consumers: { w1: 2 } });
    expect(await streams.pending('lagging', 'nobody', { tenant: 'acme' })).toEqual({ count: 0, oldestId: null, newestId: null, consumers: {} });
    held.open();
    await drained(streams, 'lagging', 'g');
    expect(await streams.groups('lagging', { tenant: 'acme' })).toEqual([{ group: 'g', consumers: 1, pending: 0, lag: 0, lastDeliveredId: ids[4] }]);
  });
}
