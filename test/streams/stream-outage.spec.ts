import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisUnavailableError } from '@nest-coordination/core';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { privateServerDriver, uniquePrefix } from '../support/drivers.js';
import { expectNoTimersLeftBy } from '../support/timers.js';
import { rejectionOf, sleep, until } from '../support/wait.js';
import { ARRIVAL_MS, appendAll, drained, gate, recorder, streamsApp, type StreamsApp } from '../contract/streams.contract.js';

/**
 * Streams on a private server that a test kills and restarts. The server writes every command to
 * its append-only file before answering (appendfsync always), so a crash loses nothing it
 * acknowledged: what the consumer sees after the restart is what it had before the outage.
 */
describe('StreamService while Redis is unreachable', () => {
  let server: RedisServerHandle;
  let dir: string;
  let app: StreamsApp;
  let down = false;
  /** Set by a test that closes the app while Redis is down: afterEach then only restarts the server. */
  let closedInOutage = false;
  const restart = async () => {
    await server.restart();
    down = false;
    if (closedInOutage) return;
    await until(() => app.core.connection!.health().status === 'up', { timeoutMs: ARRIVAL_MS, message: 'the connection to come back' });
  };
  /** Resolves once a blocking connection of the module waits in XREADGROUP on the server. */
  const blockedInRead = () => until(async () => {
    const clients = String(await app.core.connection!.client.client('LIST'));
    return clients.split('\n').some((line) => line.includes(`name=coord:${app.core.instanceId}:blocking`) && line.includes('cmd=xreadgroup'));
  }, { timeoutMs: ARRIVAL_MS, message: 'the consumer blocked in XREADGROUP' });
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'coord-streams-aof-'));
    server = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir] });
  });
  beforeEach(async () => {
    closedInOutage = false;
    app = await streamsApp(privateServerDriver(server), { shutdownTimeoutMs: 5_000 });
  });
  afterEach(async () => {
    if (down) await restart();
    await app.close();
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('append throws RedisUnavailableError; handlers finishing in the outage are acked after it, and nothing appended before is lost', async () => {
    const { streams } = app;
    const held = gate();
    const seen = recorder<{ n: number }>((entry) => (entry.payload.n >= 5 ? held.promise : undefined));
    const acked = () => app.core.metrics.counter('streams_acked_total', { stream: 'events', group: 'g' });
    // Appended before the consumer starts: its first read takes all ten (a batch).
    const before = await appendAll(streams, 'events', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => ({ n })));
    await streams.consume('events', 'g', seen.attach(app.core), { tenant: 'acme', blockMs: 200, claimIdleMs: 5_000, concurrency: 1, consumer: 'w1' });
    // Before the outage: five handled and acked, one in flight (held), four read ahead.
    await until(() => seen.entries.length === 6 && acked() === 5, { timeoutMs: ARRIVAL_MS, message: 'five entries acked and the sixth in flight' });

    await server.kill();
    down = true;
    const error = await rejectionOf(streams.append('events', { n: 99 }, { tenant: 'acme' }));
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect((error as RedisUnavailableError).operation).toBe('streams.append');
    held.open();
    await until(() => seen.entries.length === 10, { timeoutMs: ARRIVAL_MS, message: 'the held and read-ahead entries handled in the outage' });
    expect(acked()).toBe(5); // their acks wait for Redis

    await restart();
    await until(() => acked() >= 10, { timeoutMs: ARRIVAL_MS, message: 'the acks sent after the restart' });
    const after = await appendAll(streams, 'events', [{ n: 10 }]);
    await until(() => seen.ids().includes(after[0]), { timeoutMs: ARRIVAL_MS, message: 'an entry appended after the restart' });
    await drained(streams, 'events', 'g');
    expect(seen.ids()).toEqual(expect.arrayContaining([...before, ...after]));
    expect(seen.entries.map((e) => e.payload.n)).not.toContain(99);
    expect(await streams.length('events', { tenant: 'acme' })).toBe(11);
  });

  it('starts a consumer while Redis is unreachable (a warning, no throw); it creates its group and consumes once Redis is back', async () => {
    const { streams } = app;
    const warn = jest.spyOn(Logger.prototype, 'warn');
    const log = jest.spyOn(Logger.prototype, 'log');
    try {
      const ids = await appendAll(streams, 'late', ['a', 'b']);
      await server.kill();
      down = true;
      const seen = recorder();
      const subscription = await streams.consume('late', 'g', seen.attach(app.core), { tenant: 'acme', blockMs: 200, consumer: 'w1' });
      expect(subscription.group).toBe('g');
      const said = (spy: typeof warn, pattern: RegExp) => spy.mock.calls.some(([message]) => pattern.test(String(message)));
      expect(said(warn, /"late" \(tenant acme, group g, consumer w1\) paused: /)).toBe(true);
      await restart();
      await until(() => seen.entries.length === 2, { timeoutMs: ARRIVAL_MS, message: 'the entries appended before the outage' });
      expect(seen.ids()).toEqual(ids);
      expect(said(log, /"late" \(tenant acme, group g, consumer w1\) resumed/)).toBe(true);
    } finally {
      warn.mockRestore();
      log.mockRestore();
    }
  });

  it('lets a live consumer renew its in-flight entry after an outage longer than claimIdleMs before any peer claims it', async () => {
    // Two applications on the same keys: consumer A runs a slow handler, consumer B claims idle entries.
    const prefix = uniquePrefix('resume');
    const shared = { ...privateServerDriver(server), options: () => ({ ...privateServerDriver(server).options(), prefix }) };
    const peers = [await streamsApp(shared, { shutdownTimeoutMs: 5_000 }), await streamsApp(shared, { shutdownTimeoutMs: 5_000 })];
    const [a, b] = peers;
    const held = gate();
    try {
      const runs = recorder(() => held.promise);
      const claims = recorder();
      const options = { tenant: 'acme', blockMs: 200, claimIdleMs: 1_500 };
      await a.streams.consume('resumed', 'g', runs.attach(a.core), { ...options, consumer: 'A' });
      const [id] = await appendAll(a.streams, 'resumed', ['slow']);
      await until(() => runs.entries.length === 1, { timeoutMs: ARRIVAL_MS, message: 'A to run the entry' });
      await b.streams.consume('resumed', 'g', claims.attach(b.core), { ...options, consumer: 'B' });
      await server.kill();
      down = true;
      // An outage longer than claimIdleMs, on purpose: the entry's idle time on the server grows through it.
      await sleep(2_500);
      await restart();
      await until(() => peers.every((peer) => peer.core.connection!.health().status === 'up'), { timeoutMs: ARRIVAL_MS, message: 'both peers to reconnect' });
      // Let two claimIdleMs pass on purpose: B's idle passes (every 750 ms) must find the entry renewed by A.
      await sleep(3_000);
      expect(claims.entries).toEqual([]);
      expect((await a.streams.pending('resumed', 'g', { tenant: 'acme' })).consumers).toEqual({ A: 1 });
      held.open();
      await drained(a.streams, 'resumed', 'g');
      expect(runs.ids()).toEqual([id]);
    } finally {
      held.open();
      await Promise.all(peers.map((peer) => peer.close()));
    }
  });

  it('creates its group again when the stream is deleted under it (FLUSHALL), and goes on consuming', async () => {
    const { streams } = app;
    const seen = recorder();
    await streams.consume('flushed', 'g', seen.attach(app.core), { tenant: 'acme', blockMs: 200, claimIdleMs: 1_000 });
    await appendAll(streams, 'flushed', ['a']);
    await until(() => seen.entries.length === 1, { timeoutMs: ARRIVAL_MS, message: 'the first entry' });
    await app.core.connection!.client.flushall();
    await until(async () => (await streams.groups('flushed', { tenant: 'acme' })).length === 1, { timeoutMs: ARRIVAL_MS, message: 'the group created again' });
    const [id] = await appendAll(streams, 'flushed', ['b']);
    await until(() => seen.ids().includes(id), { timeoutMs: ARRIVAL_MS, message: 'the entry appended after FLUSHALL' });
    expect(seen.entries.map((e) => e.payload)).toEqual(['a', 'b']);
  });

  it('closes after Redis died under a consumer blocked in a read, leaving no timer that keeps the process alive', async () => {
    await app.streams.consume('quiet', 'g', recorder().attach(app.core), { tenant: 'acme', blockMs: 10_000, consumer: 'w1' });
    await blockedInRead();
    await server.kill();
    down = true;
    await until(() => app.core.connection!.client.status === 'reconnecting', { timeoutMs: ARRIVAL_MS, message: 'the connection to notice' });
    closedInOutage = true;
    await expectNoTimersLeftBy(() => app.close());
  });

  it('says once that a consumer blocked in a read paused when Redis died, then that it resumed; it reads what is appended after', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    const log = jest.spyOn(Logger.prototype, 'log');
    try {
      const seen = recorder();
      // claimIdleMs far beyond the test: an entry read by a lost read would stay unhandled.
      await app.streams.consume('blocked', 'g', seen.attach(app.core), { tenant: 'acme', blockMs: 10_000, claimIdleMs: 600_000, consumer: 'w1' });
      await blockedInRead();
      await server.kill();
      down = true;
      const said = (spy: typeof warn, pattern: RegExp) => spy.mock.calls.filter(([message]) => pattern.test(String(message))).length;
      const paused = () => said(warn, /"blocked" \(tenant acme, group g, consumer w1\) paused: /);
      await until(() => paused() > 0, { timeoutMs: ARRIVAL_MS, message: 'the consumer to say it paused' });
      await restart();
      await until(() => said(log, /"blocked" \(tenant acme, group g, consumer w1\) resumed/) > 0, { timeoutMs: ARRIVAL_MS, message: 'the consumer to say it resumed' });
      const [id] = await appendAll(app.streams, 'blocked', ['after']);
      await until(() => seen.ids().includes(id), { timeoutMs: ARRIVAL_MS, message: 'the entry appended after the restart' });
      expect(paused()).toBe(1);
    } finally {
      warn.mockRestore();
      log.mockRestore();
    }
  });
});
