import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import {
  InvalidOptionsError, RateLimitService, RedisUnavailableError, type CoordinationModuleOptions, type RateLimitResult,
} from '@nest-coordination/core';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { uniquePrefix } from '../support/drivers.js';
import { rejectionOf, until } from '../support/wait.js';

/**
 * A stalled Redis (SIGSTOP: the socket stays open, nothing answers) must not hold rate-limit
 * checks for `connection.commandTimeoutMs`: past `rateLimit.timeoutMs` the failure policy answers.
 * The command timeout here is a minute, longer than any of these tests may run, so a check that
 * waited for it could not answer in time; no assertion is on how long anything took.
 */
function appOn(server: RedisServerHandle, rateLimit: CoordinationModuleOptions['rateLimit']): Promise<BootedModule> {
  return bootModule({
    connection: { url: server.url, commandTimeoutMs: 60_000, connectTimeoutMs: 2_000 },
    prefix: uniquePrefix('rlt'),
    health: { pingIntervalMs: 0 },
    rateLimit: { timeoutMs: 200, heartbeatIntervalMs: 0, ...rateLimit },
  });
}

/** Whether the process is stopped (SIGSTOP): `T` in ps's state column, on Linux and macOS alike. */
function isStopped(pid: number): boolean {
  return execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).trim().startsWith('T');
}

/** Resolves with the outcome of `promise` once settled; `settled()` says whether it has. */
function track<T>(promise: Promise<T>): { settled(): boolean; outcome: Promise<T> } {
  let done = false;
  const outcome = promise.finally(() => (done = true));
  outcome.catch(() => undefined);
  return { settled: () => done, outcome };
}

const policy = { name: 'stall', limit: 5, windowMs: 60_000 };
const WAIT = { timeoutMs: 20_000, intervalMs: 20 };

describe('rate-limit checks while Redis is paused', () => {
  let server: RedisServerHandle;
  const apps: BootedModule[] = [];
  beforeEach(async () => {
    server = await startRedisServer();
  });
  afterEach(async () => {
    server.resume();
    await Promise.all(apps.splice(0).map((a) => a.close()));
    await server.stop();
  });

  it('answers from the local limiter while Redis is still stopped (source "local"); the late reply is not counted again', async () => {
    const app = await appOn(server, { onRedisUnavailable: 'local' });
    apps.push(app);
    const service = app.get(RateLimitService);
    const metrics = app.core.metrics;
    expect(await service.consume('k', policy)).toMatchObject({ allowed: true, source: 'redis', remaining: 4 });

    server.pause();
    const check = track(service.consume('k', policy));
    await until(check.settled, { ...WAIT, message: 'the check to answer while Redis is paused' });
    expect(isStopped(server.pid)).toBe(true);
    const answer: RateLimitResult = await check.outcome;
    // the local limiter starts afresh: this instance's whole share is left
    expect(answer).toMatchObject({ allowed: true, source: 'local', remaining: 4 });
    expect(metrics.counter('ratelimit_timeouts_total')).toBe(1);

    server.resume();
    // The stalled command runs once Redis is back (the check did happen), and only there:
    // two units in Redis, one decision counted by this instance for each check.
    const state = await until(async () => {
      const r = await service.peek('k', policy);
      return r.source === 'redis' && r;
    }, { ...WAIT, message: 'a peek answered by Redis again' });
    expect(state.remaining).toBe(3);
    expect(metrics.counter('ratelimit_allowed_total', { policy: 'stall', source: 'redis' })).toBe(1);
    expect(metrics.counter('ratelimit_allowed_total', { policy: 'stall', source: 'local' })).toBe(1);
    expect(await service.consume('k', policy)).toMatchObject({ allowed: true, source: 'redis', remaining: 2 });
  });

  it('once a check timed out, later checks answer locally at once while Redis is still stopped: one timeout, not one per check', async () => {
    // A long timeout: were the later checks to wait for Redis, each would time out in turn.
    const app = await appOn(server, { onRedisUnavailable: 'local', timeoutMs: 1_000 });
    apps.push(app);
    const service = app.get(RateLimitService);
    const metrics = app.core.metrics;
    expect((await service.consume('k', policy)).source).toBe('redis');

    server.pause();
    expect(await service.consume('k', policy)).toMatchObject({ allowed: true, source: 'local' });
    expect(metrics.counter('ratelimit_timeouts_total')).toBe(1);
    const later = await Promise.all(Array.from({ length: 10 }, (_, i) => service.consume(`k${i}`, policy)));
    // a check mixing global and other counters (two script calls) answers locally too
    const mixed = await service.consumeMany([
      { key: 'user', policy: { ...policy, name: 'user' } },
      { key: 'all', policy: { ...policy, name: 'all' }, global: true },
    ]);
    expect(isStopped(server.pid)).toBe(true);
    expect(later.map((r) => r.source)).toEqual(Array(10).fill('local'));
    expect(mixed).toMatchObject({ allowed: true, source: 'local' });
    // none of them went to Redis to wait for a timeout of its own
    expect(metrics.counter('ratelimit_timeouts_total')).toBe(1);
  });

  it('latency around timeoutMs: the fallback stays on across single in-time answers, keeps its counts and warns once', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    try {
      const app = await appOn(server, { onRedisUnavailable: 'local' });
      apps.push(app);
      const service = app.get(RateLimitService);
      const flaky = { name: 'flaky', limit: 3, windowMs: 60_000 };
      expect((await service.peek('k', flaky)).source).toBe('redis');
      const local: RateLimitResult[] = [];
      for (let round = 0; round < 4; round++) {
        server.pause();
        local.push(await service.consume('k', flaky));
        server.resume();
        // Redis answers in time again (once): the flip the fallback must not follow at once
        await until(async () => (await service.peek('other', flaky)).source === 'redis', { ...WAIT, message: 'a peek answered by Redis' });
      }
      expect(local.map((r) => r.source)).toEqual(['local', 'local', 'local', 'local']);
      // one local count across the flips: the limit of 3 holds
      expect(local.map((r) => r.allowed)).toEqual([true, true, true, false]);
      const warnings = warn.mock.calls.filter(([message]) => String(message).startsWith('Redis unavailable'));
      expect(warnings).toHaveLength(1);
    } finally {
      warn.mockRestore();
    }
  });

  it('an outage soon after a recovery counts on from the local counts of the last one, and is not warned about again', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    try {
      const app = await appOn(server, { onRedisUnavailable: 'local' });
      apps.push(app);
      const service = app.get(RateLimitService);
      const twice = { name: 'twice', limit: 2, windowMs: 60_000 };
      server.pause();
      expect(await service.consume('k', twice)).toMatchObject({ allowed: true, source: 'local' });
      server.resume();
      // three probes in a row answered in time end the outage
      let inARow = 0;
      await until(async () => {
        inARow = (await service.peek('other', twice)).source === 'redis' ? inARow + 1 : 0;
        return inARow >= 3;
      }, { ...WAIT, message: 'three peeks in a row answered by Redis' });
      expect((await service.peek('other', twice)).source).toBe('redis');
      server.pause();
      const second = [await service.consume('k', twice), await service.consume('k', twice)];
      expect(second.map((r) => [r.source, r.allowed])).toEqual([['local', true], ['local', false]]);
      expect(warn.mock.calls.filter(([message]) => String(message).startsWith('Redis unavailable'))).toHaveLength(1);
    } finally {
      warn.mockRestore();
    }
  });

  it('fails closed while Redis is still stopped when configured: a denial from consume, RedisUnavailableError from enforce', async () => {
    const app = await appOn(server, { onRedisUnavailable: 'fail-closed' });
    apps.push(app);
    const service = app.get(RateLimitService);
    expect((await service.consume('k', policy)).source).toBe('redis');

    server.pause();
    const check = track(service.consume('k', policy));
    const enforced = track(service.enforce('k', policy));
    await until(() => check.settled() && enforced.settled(), { ...WAIT, message: 'both checks to answer while Redis is paused' });
    expect(isStopped(server.pid)).toBe(true);
    expect(await check.outcome).toMatchObject({ allowed: false, source: 'fail-closed', remaining: 0 });
    const error = await rejectionOf(enforced.outcome);
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect(error).toMatchObject({ code: 'E_REDIS_UNAVAILABLE', operation: 'rateLimit.enforce' });
    expect(String(((error as Error).cause as Error).cause)).toContain('rateLimit.timeoutMs');
  });

  it('rejects a timeoutMs that is not a positive integer number of ms at boot', async () => {
    for (const timeoutMs of [0, -1, 2.5, 'fast']) {
      const booting = bootModule({ driver: 'memory', rateLimit: { timeoutMs: timeoutMs as number } });
      const error = await rejectionOf(booting);
      expect(error).toBeInstanceOf(InvalidOptionsError);
      expect((error as Error).message).toContain('rateLimit.timeoutMs');
    }
  });
});
