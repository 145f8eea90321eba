import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { StreamService } from '@nest-coordination/core';
import type { DriverCase } from '../support/drivers.js';
import { sleep, until } from '../support/wait.js';
import { ARRIVAL_MS, FAST, appendAll, drained, gate, isAfter, recorder, streamsAppEach, type StreamsApp } from './streams.contract.js';

const labels = (stream: string, group: string) => ({ stream, group });

/**
 * How consumers of StreamService move entries along on every backend: reads sized to the
 * backlog, the group gauges per tenant, the read-ahead handed back at stop, consumers that
 * went away pruned, and entries trimmed away before they were handled.
 */
export function describeStreamFlowContract(driver: DriverCase): void {
  let app!: StreamsApp;
  let streams!: StreamService;
  streamsAppEach(driver, (booted) => {
    app = booted;
    streams = booted.streams;
  });

  it('reads a backlog in batches, not one entry per read as each handler finishes', async () => {
    await appendAll(streams, 'backlog', Array.from({ length: 200 }, (_, n) => n));
    const sizes: number[] = [];
    const openReader = app.store.openReader.bind(app.store);
    jest.spyOn(app.store, 'openReader').mockImplementation(() => {
      const reader = openReader();
      const readNew = reader.readNew.bind(reader);
      return {
        readNew: async (...args: Parameters<typeof readNew>) => {
          const entries = await readNew(...args);
          if (entries.length > 0) sizes.push(entries.length);
          return entries;
        },
        close: () => reader.close(),
      };
    });
    const seen = recorder(() => new Promise((resolve) => setTimeout(resolve, 1)));
    await streams.consume('backlog', 'g', seen.attach(app.core), { ...FAST, concurrency: 1, batch: 10, claimIdleMs: 60_000 });
    await until(() => seen.entries.length === 200, { timeoutMs: ARRIVAL_MS, message: 'the 200 entries' });
    expect(sizes.reduce((sum, size) => sum + size, 0)).toBe(200);
    // A read of 10, then one of 9 whenever the read-ahead is down to one: 23 reads.
    expect(sizes.length).toBeLessThanOrEqual(25);
  });

  it('keeps the group gauges per tenant, and refreshes them while the consumer is at capacity', async () => {
    const held = gate();
    await appendAll(streams, 'gauged', [0, 1, 2, 3, 4], 'acme');
    await appendAll(streams, 'gauged', [0, 1], 'globex');
    await streams.consume('gauged', 'g', recorder(() => held.promise).attach(app.core), { ...FAST, concurrency: 1, batch: 1 });
    await streams.consume('gauged', 'g', recorder().attach(app.core), { ...FAST, tenant: 'globex' });
    const gauge = (name: string, tenant: string) => app.core.metrics.gauge(name, { stream: 'gauged', group: 'g', tenant });
    const state = () => JSON.stringify(['acme', 'globex'].map((t) => [t, gauge('streams_group_lag', t), gauge('streams_group_pending', t)]));
    await until(() => state() === JSON.stringify([['acme', 3, 2], ['globex', 0, 0]]), { timeoutMs: ARRIVAL_MS, message: () => `the gauges of both tenants (now ${state()})` });
    // acme's consumer holds all it can (one in flight, one read ahead): its gauges still follow appends.
    await appendAll(streams, 'gauged', [5, 6], 'acme');
    await until(() => gauge('streams_group_lag', 'acme') === 5, { timeoutMs: ARRIVAL_MS, message: () => `the lag of acme to grow (now ${state()})` });
    held.open();
  });

  it('removes the group gauges when the last consumer of the group in the process stops', async () => {
    const gauge = () => app.core.metrics.gauge('streams_group_lag', { stream: 'gone', group: 'g', tenant: 'acme' });
    const first = await streams.consume('gone', 'g', recorder().attach(app.core), { ...FAST, consumer: 'w1' });
    const second = await streams.consume('gone', 'g', recorder().attach(app.core), { ...FAST, consumer: 'w2' });
    expect(gauge()).toBe(0);
    await first.stop();
    expect(gauge()).toBe(0); // w2 still keeps it
    await second.stop();
    expect(gauge()).toBeUndefined();
  });

  it('hands its read-ahead back at stop, so another consumer takes it at once, with no delivery spent', async () => {
    const held = gate();
    const first = recorder(() => held.promise);
    const ids = await appendAll(streams, 'handover', [0, 1, 2, 3, 4]);
    // claimIdleMs far beyond the test: only the hand-back lets w2 take the entries now.
    const options = { ...FAST, claimIdleMs: 60_000 };
    const subscription = await streams.consume('handover', 'g', first.attach(app.core), { ...options, concurrency: 1, batch: 5, consumer: 'w1' });
    await until(async () => (await streams.pending('handover', 'g', { tenant: 'acme' })).count === 5, { timeoutMs: ARRIVAL_MS, message: 'five entries held by w1' });
    const stopping = subscription.stop();
    held.open();
    await stopping;
    const second = recorder();
    await streams.consume('handover', 'g', second.attach(app.core), { ...options, consumer: 'w2' });
    await until(() => second.entries.length === 4, { timeoutMs: ARRIVAL_MS, message: "w1's four read-ahead entries" });
    expect(second.entries.map((e) => [e.id, e.deliveries])).toEqual(ids.slice(1).map((id) => [id, 1]));
    await drained(streams, 'handover', 'g');
  });

  it('hands back at stop what its read in flight was given, so an idle claim takes it at once, with no delivery spent', async () => {
    // claimIdleMs far beyond the test: only a hand-back lets an idle claim take what w1 left pending now.
    const options = { ...FAST, claimIdleMs: 60_000, blockMs: 5_000 };
    let producing = true;
    const producer = (async () => {
      while (producing) {
        await Promise.all(Array.from({ length: 10 }, (_, i) => streams.append('busy', { i }, { tenant: 'acme' })));
        await new Promise(setImmediate); // the memory store answers without I/O: let the consumer run
      }
    })();
    const first = recorder();
    const subscription = await streams.consume('busy', 'g', first.attach(app.core), { ...options, concurrency: 1, batch: 10, consumer: 'w1' });
    await until(() => first.entries.length >= 50, { timeoutMs: ARRIVAL_MS, message: 'w1 to handle entries as they come' });
    // Stopped while the appends go on: its read in flight is given entries as it closes.
    await subscription.stop();
    producing = false;
    await producer;
    // Every entry w1 was given and did not handle was handed back: an idle claim of w2 at claimIdleMs takes it now, uncounted.
    const { count } = await streams.pending('busy', 'g', { tenant: 'acme' });
    const keys = app.keys.of('acme', 'busy');
    const claim = { mode: 'idle', cursor: '0-0', minIdleMs: options.claimIdleMs, count: 1_000, maxDeliveries: 5, deadMaxLen: 0 } as const;
    const taken = await app.store.claim(keys, 'g', 'w2', claim);
    expect(taken.entries.map((e) => [e.id, e.deliveries])).toEqual(taken.entries.map((e) => [e.id, 1]));
    expect(taken.entries).toHaveLength(count);
    const handled = new Set(first.ids());
    expect(taken.entries.filter((e) => handled.has(e.id))).toEqual([]);
    expect(await streams.pending('busy', 'g', { tenant: 'acme' })).toMatchObject({ count, consumers: count > 0 ? { w2: count } : {} });
  });

  it('prunes consumers gone for an hour on its idle passes, at most every few minutes, and goes on when that fails', async () => {
    const prune = jest.spyOn(app.store, 'pruneConsumers').mockRejectedValue(new Error('NOPERM no XGROUP DELCONSUMER'));
    const seen = recorder();
    await streams.consume('pruned', 'g', seen.attach(app.core), FAST);
    await until(() => prune.mock.calls.length > 0, { timeoutMs: ARRIVAL_MS, message: 'a prune' });
    expect(prune.mock.calls[0]).toEqual([app.keys.of('acme', 'pruned'), 'g', 3_600_000]);
    await appendAll(streams, 'pruned', ['a']);
    await until(() => seen.entries.length === 1, { timeoutMs: ARRIVAL_MS, message: 'the entry' });
    // Let a few idle passes (every 500 ms) go by on purpose: none prunes again so soon.
    await sleep(1_500);
    expect(prune).toHaveBeenCalledTimes(1);
  });

  describe('entries trimmed away (MAXLEN) before they were handled', () => {
    /** Appends to `stream` with maxLen 10 until its entry `id` is trimmed away. */
    const trimAway = async (stream: string, id: string) => {
      for (let round = 0; round < 5; round++) {
        for (let n = 0; n < 150; n++) await streams.append(stream, `fill-${n}`, { tenant: 'acme', maxLen: 10 });
        if (isAfter((await app.store.range(app.keys.of('acme', stream), '-', 1))[0].id, id)) return;
      }
      throw new Error(`entry ${id} was not trimmed away`);
    };
    const trimmed = (stream: string) => app.core.metrics.counter('streams_trimmed_unhandled_total', labels(stream, 'g'));
    let warn: jest.SpiedFunction<Logger['warn']>;
    beforeEach(() => (warn = jest.spyOn(Logger.prototype, 'warn')));
    afterEach(() => warn.mockRestore());

    it('counts and reports those of a crashed consumer that an idle claim finds gone', async () => {
      const keys = app.keys.of('acme', 'trimmed');
      await app.store.ensureGroup(keys, 'g', 'earliest');
      const [crashed] = await appendAll(streams, 'trimmed', ['crashed']);
      const ghost = app.store.openReader();
      expect(await ghost.readNew(keys, 'g', 'ghost', 10, 100)).toHaveLength(1); // read, then never acked: a crash
      await ghost.close();
      await trimAway('trimmed', crashed);
      await streams.consume('trimmed', 'g', recorder().attach(app.core), FAST);
      await until(() => trimmed('trimmed') === 1, { timeoutMs: ARRIVAL_MS, message: "the ghost's trimmed entry" });
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/"trimmed" \(tenant acme, group g, consumer .+\): 1 pending entries were trimmed away .*unhandled/));
      await drained(streams, 'trimmed', 'g');
    });

    it('counts and reports one trimmed away while its handler failed', async () => {
      // Renewals stubbed: a real one would drop the trimmed entry before the failure is recorded.
      jest.spyOn(app.store, 'touch').mockResolvedValue([]);
      const seen = recorder(async (entry) => {
        if (entry.payload !== 'doomed') return;
        await trimAway('doomed', entry.id);
        throw new Error('failed after its entry was trimmed away');
      });
      await streams.consume('doomed', 'g', seen.attach(app.core), { ...FAST, claimIdleMs: 60_000 });
      await appendAll(streams, 'doomed', ['doomed']);
      await until(() => trimmed('doomed') === 1, { timeoutMs: ARRIVAL_MS, message: 'the entry trimmed away while its handler failed' });
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/the handler failed on entry .*; trimmed away meanwhile: lost unhandled/));
      expect(seen.entries.filter((e) => e.payload === 'doomed')).toHaveLength(1);
    });
  });
}
