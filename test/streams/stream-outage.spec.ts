import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisUnavailableError } from '@nest-coordination/core';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { privateServerDriver } from '../support/drivers.js';
import { rejectionOf, until } from '../support/wait.js';
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
  const restart = async () => {
    await server.restart();
    down = false;
    await until(() => app.core.connection!.health().status === 'up', { timeoutMs: ARRIVAL_MS, message: 'the connection to come back' });
  };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'coord-streams-aof-'));
    server = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir] });
  });
  beforeEach(async () => {
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
    await streams.consume('events', 'g', seen.attach(app.core), { tenant: 'acme', blockMs: 200, claimIdleMs: 5_000, concurrency: 1, consumer: 'w1' });
    await appendAll(streams, 'events', [0, 1, 2, 3, 4].map((n) => ({ n })));
    await until(() => seen.entries.length === 5, { timeoutMs: ARRIVAL_MS, message: 'the first five entries' });
    await drained(streams, 'events', 'g');
    // Appended before the outage: one in flight (held), four read ahead.
    const before = await appendAll(streams, 'events', [5, 6, 7, 8, 9].map((n) => ({ n })));
    await until(() => seen.entries.length === 6, { timeoutMs: ARRIVAL_MS, message: 'the sixth entry in flight' });

    await server.kill();
    down = true;
    const error = await rejectionOf(streams.append('events', { n: 99 }, { tenant: 'acme' }));
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect((error as RedisUnavailableError).operation).toBe('streams.append');
    held.open();
    await until(() => seen.entries.length === 10, { timeoutMs: ARRIVAL_MS, message: 'the held and read-ahead entries handled in the outage' });
    const acked = () => app.core.metrics.counter('streams_acked_total', { stream: 'events', group: 'g' });
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
});
