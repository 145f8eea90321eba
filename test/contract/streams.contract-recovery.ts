import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { RedisUnavailableError, type StreamService } from '@nest-coordination/core';
import { PeriodicTask } from '../../libs/coordination/src/streams/stream-consumer-timing.js';
import type { DriverCase } from '../support/drivers.js';
import { sleep, until } from '../support/wait.js';
import { ARRIVAL_MS, FAST, appendAll, drained, gate, recorder, streamsApp, streamsAppEach, type StreamsApp } from './streams.contract.js';

const labels = (stream: string, group: string) => ({ stream, group });
/** What a store call rejects with while Redis is unreachable. */
const outage = () => new RedisUnavailableError('streams.consume', new Error('simulated outage'));

/**
 * Consumers of StreamService when store calls fail: renewals that lapse, entries another
 * consumer took over, an inspection command the server refuses, a stop in the middle of a
 * round trip, and the backoff of an outage.
 */
export function describeStreamRecoveryContract(driver: DriverCase): void {
  let app!: StreamsApp;
  let streams!: StreamService;
  streamsAppEach(driver, (booted) => {
    app = booted;
    streams = booted.streams;
  });

  it('renews its own running entry before each idle-claim pass: with its timed renewals lapsing (no outage) it never claims it back (nor dead-letters it)', async () => {
    // No timed upkeep: only the renewal that starts each idle-claim pass keeps the running entry from idling past claimIdleMs.
    const timers = jest.spyOn(PeriodicTask.prototype, 'start').mockImplementation(() => undefined);
    try {
      const passes: number[] = [];
      const claim = app.store.claim.bind(app.store);
      jest.spyOn(app.store, 'claim').mockImplementation(async (keys, group, consumer, request) => {
        const at = performance.now();
        const reply = await claim(keys, group, consumer, request);
        if (request.mode === 'idle') passes.push(at);
        return reply;
      });
      const held = gate();
      let startedAt = 0;
      const seen = recorder(() => {
        startedAt = performance.now();
        return held.promise;
      });
      await streams.consume('self', 'g', seen.attach(app.core), { ...FAST, maxDeliveries: 1, consumer: 'w1' });
      const [id] = await appendAll(streams, 'self', ['slow']);
      await until(() => seen.entries.length === 1, { timeoutMs: ARRIVAL_MS, message: 'the handler to start' });
      expect(timers).toHaveBeenCalled();
      // A call of a pass begun more than claimIdleMs after the handler started would take the entry, had the pass not renewed it first.
      await until(() => passes.some((at) => at > startedAt + 1_100), { timeoutMs: ARRIVAL_MS, message: 'an idle-claim call after the entry idled past claimIdleMs' });
      expect(await streams.deadLetters('self', { tenant: 'acme' })).toEqual([]);
      expect(await streams.pending('self', 'g', { tenant: 'acme' })).toMatchObject({ count: 1, consumers: { w1: 1 } });
      expect(app.core.metrics.counter('streams_reclaimed_total', labels('self', 'g'))).toBe(0);
      held.open();
      await drained(streams, 'self', 'g');
      expect(seen.entries.map((e) => [e.id, e.deliveries])).toEqual([[id, 1]]);
      expect(app.core.metrics.counter('streams_dead_lettered_total', labels('self', 'g'))).toBe(0);
    } finally {
      timers.mockRestore(); // a spy on the prototype outlives the test otherwise
    }
  });

  it("takes over a crashed peer's idle entry while its own reads keep failing (only its blocking connection is down)", async () => {
    const keys = app.keys.of('acme', 'noreads');
    await app.store.ensureGroup(keys, 'g', 'earliest');
    const [id] = await appendAll(streams, 'noreads', ['orphan']);
    // The peer reads the entry and crashes: nobody renews it.
    const peer = app.store.openReader();
    try {
      expect((await peer.readNew(keys, 'g', 'crashed', 1, 100)).map((e) => e.id)).toEqual([id]);
    } finally {
      await peer.close();
    }
    jest.spyOn(app.store, 'openReader').mockImplementation(() => ({ readNew: () => Promise.reject(outage()), close: () => Promise.resolve() }));
    const seen = recorder();
    await streams.consume('noreads', 'g', seen.attach(app.core), { ...FAST, consumer: 'w2' });
    await until(() => seen.entries.length === 1, { timeoutMs: ARRIVAL_MS, message: "the crashed peer's entry taken over" });
    expect(seen.entries[0]).toMatchObject({ id, deliveries: 2 });
    await drained(streams, 'noreads', 'g');
  });

  it('warns once when its timed renewals fail for another reason than an outage (a refused command)', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    try {
      const touch = jest.spyOn(app.store, 'touch').mockRejectedValue(new Error("NOPERM this user has no permissions to run the 'xclaim' command"));
      const held = gate();
      const seen = recorder(() => held.promise);
      await streams.consume('norenew', 'g', seen.attach(app.core), { ...FAST, consumer: 'w1' });
      await appendAll(streams, 'norenew', ['slow']);
      await until(() => seen.entries.length === 1 && touch.mock.calls.length >= 4, { timeoutMs: ARRIVAL_MS, message: 'several renewals of the running entry' });
      const warned = warn.mock.calls.filter(([message]) => /NOPERM/.test(String(message)));
      expect(warned).toHaveLength(1);
      expect(String(warned[0][0])).toMatch(/"norenew" \(tenant acme, group g, consumer w1\): cannot renew the held entries: NOPERM/);
      held.open();
      await drained(streams, 'norenew', 'g');
    } finally {
      warn.mockRestore();
    }
  });

  it('counts an entry another consumer took over once, not on every renewal after', async () => {
    const held = gate();
    const first = recorder(() => held.promise);
    const second = recorder();
    let cutOff = false;
    const touch = app.store.touch.bind(app.store);
    jest.spyOn(app.store, 'touch').mockImplementation((keys, group, consumer, ids) => (cutOff && consumer === 'w1' ? Promise.reject(outage()) : touch(keys, group, consumer, ids)));
    // w1 holds two entries (one in flight, one read ahead) and stops renewing them.
    await streams.consume('taken', 'g', first.attach(app.core), { ...FAST, consumer: 'w1', concurrency: 1, batch: 1 });
    await appendAll(streams, 'taken', [1, 2]);
    await until(async () => first.entries.length === 1 && (await streams.pending('taken', 'g', { tenant: 'acme' })).count === 2, {
      timeoutMs: ARRIVAL_MS, message: 'w1 to hold both entries',
    });
    cutOff = true;
    await streams.consume('taken', 'g', second.attach(app.core), { ...FAST, consumer: 'w2' });
    await until(() => second.entries.length === 2, { timeoutMs: ARRIVAL_MS, message: 'w2 to take both entries over' });
    cutOff = false;
    const lost = () => app.core.metrics.counter('streams_entries_lost_total', labels('taken', 'g'));
    await until(() => lost() === 2, { timeoutMs: ARRIVAL_MS, message: 'w1 to notice it lost both' });
    // Let several renewals (every claimIdleMs / 3) pass on purpose: the one still running is not counted again.
    await sleep(1_500);
    expect(lost()).toBe(2);
    held.open();
    await drained(streams, 'taken', 'g');
  });

  it('goes on consuming (and retrying) when the server refuses the gauge read (XINFO GROUPS), and warns once', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    try {
      jest.spyOn(app.store, 'groups').mockRejectedValue(new Error("NOPERM this user has no permissions to run the 'xinfo|groups' command"));
      const seen = recorder((entry) => {
        if (entry.deliveries === 1) throw new Error('first try fails');
      });
      await streams.consume('noinfo', 'g', seen.attach(app.core), FAST);
      const [id] = await appendAll(streams, 'noinfo', ['a']);
      // The retry comes from an idle-claim pass: claiming goes on too.
      await until(() => seen.entries.length === 2, { timeoutMs: ARRIVAL_MS, message: 'the entry and its retry' });
      expect(seen.entries.map((e) => [e.id, e.deliveries])).toEqual([[id, 1], [id, 2]]);
      const warned = warn.mock.calls.filter(([message]) => /NOPERM/.test(String(message)));
      expect(warned).toHaveLength(1);
      expect(String(warned[0][0])).toMatch(/"noinfo" \(tenant acme, group g, consumer .+\): cannot refresh the group gauges/);
    } finally {
      warn.mockRestore();
    }
  });

  it('stops between two round trips: a stop while the group is being created makes no further call', async () => {
    const ensureGroup = app.store.ensureGroup.bind(app.store);
    const release = gate();
    let calls = 0;
    jest.spyOn(app.store, 'ensureGroup').mockImplementation(async (keys, group, startFrom) => {
      calls += 1;
      if (calls === 1) throw outage(); // consume() resolves paused; the loop creates the group
      await release.promise;
      return ensureGroup(keys, group, startFrom);
    });
    const claim = jest.spyOn(app.store, 'claim');
    const subscription = await streams.consume('stopped', 'g', () => undefined, { ...FAST, consumer: 'w1' });
    await until(() => calls === 2, { timeoutMs: ARRIVAL_MS, message: 'the loop to create the group' });
    const stopping = subscription.stop();
    release.open();
    await stopping;
    expect(claim).not.toHaveBeenCalled();
  });

  it('backs off for the whole delay after a failure: handlers finishing meanwhile do not cut it short', async () => {
    const slowBackoff = { ...driver, options: () => ({ ...driver.options(), reconnect: { baseDelayMs: 5_000, maxDelayMs: 5_000 } }) };
    const own = await streamsApp(slowBackoff, { shutdownTimeoutMs: 5_000 });
    try {
      await appendAll(own.streams, 'backoff', Array.from({ length: 10 }, (_, n) => n));
      let reads = 0;
      const openReader = own.store.openReader.bind(own.store);
      jest.spyOn(own.store, 'openReader').mockImplementation(() => {
        const reader = openReader();
        // Ten reads of one entry each succeed (ten handlers in flight), then every read fails.
        return { readNew: (...args) => (++reads <= 10 ? reader.readNew(...args) : Promise.reject(outage())), close: () => reader.close() };
      });
      const held = gate();
      // The handlers finish one by one, 40 ms apart, well within one backoff delay.
      const seen = recorder<number>(async (entry) => {
        await held.promise;
        await new Promise((resolve) => setTimeout(resolve, 40 * entry.payload));
      });
      await own.streams.consume('backoff', 'g', seen.attach(own.core), { ...FAST, concurrency: 10, batch: 1, claimIdleMs: 60_000 });
      await until(() => reads === 11 && seen.entries.length === 10, { timeoutMs: ARRIVAL_MS, message: 'ten handlers in flight and a failed read' });
      held.open();
      await until(() => own.core.metrics.counter('streams_acked_total', labels('backoff', 'g')) === 10, { timeoutMs: ARRIVAL_MS, message: 'the ten entries acked' });
      expect(reads).toBe(11);
    } finally {
      await own.close();
    }
  });
}
