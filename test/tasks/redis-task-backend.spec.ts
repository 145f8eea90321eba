import { Redis } from 'ioredis';
import { RedisUnavailableError } from '@nest-coordination/core';
import { RedisTaskBackend } from '../../libs/coordination/src/tasks/redis-task.backend.js';
import type { NewTask } from '../../libs/coordination/src/tasks/task-backend.interface.js';
import { resolveTaskOptions } from '../../libs/coordination/src/tasks/task.options.js';
import { testRedisUrl } from '../harness/env.js';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { privateServerDriver, REDIS_DRIVERS, uniquePrefix } from '../support/drivers.js';
import { scanKeys } from '../support/scan-keys.js';
import { rejectionOf, until } from '../support/wait.js';

const WAIT_MS = 15_000;
const task = (jobId: string, options: Partial<NewTask> = {}): NewTask => ({
  jobId, payload: { jobId }, priority: 0, delayMs: 0, attempts: 1, backoff: { type: 'fixed', delayMs: 0 }, ...options,
});

/** Behaviour of RedisTaskBackend that only Redis has: outages, cluster slots, the connections BullMQ gets. */
describe('RedisTaskBackend', () => {
  describe('while Redis is unreachable', () => {
    let server: RedisServerHandle;
    let booted: BootedModule;
    let backend: RedisTaskBackend;
    beforeAll(async () => {
      server = await startRedisServer();
    });
    beforeEach(async () => {
      booted = await bootModule({ ...privateServerDriver(server).options(), health: { pingIntervalMs: 0 } });
      backend = new RedisTaskBackend(booted.core, resolveTaskOptions({}));
    });
    afterEach(async () => {
      server.resume();
      if (booted.core.connection!.client.status !== 'ready') {
        await server.restart();
        await until(() => booted.core.connection!.client.status === 'ready', { timeoutMs: WAIT_MS, message: 'the connection to come back' });
      }
      await backend.close(1_000);
      await booted.close();
    });
    afterAll(() => server.stop());

    const expectEnqueueOutage = async (name: string, jobId: string) => {
      const error = await rejectionOf(backend.add(name, 'acme', [task(jobId)]));
      expect(error).toBeInstanceOf(RedisUnavailableError);
      expect((error as RedisUnavailableError).operation).toBe('tasks.enqueue');
    };

    it('add throws RedisUnavailableError (tasks.enqueue) once the server is gone, for a known and a new task name; nothing lands later', async () => {
      await backend.add('mail', 'acme', [task('before')]);
      await server.kill();
      await until(() => booted.core.connection!.client.status !== 'ready', { timeoutMs: WAIT_MS, message: 'the connection to notice' });
      await expectEnqueueOutage('mail', 'during');
      await expectEnqueueOutage('fresh', 'during');

      await server.restart();
      await until(() => booted.core.connection!.client.status === 'ready', { timeoutMs: WAIT_MS, message: 'the connection to come back' });
      expect(await backend.get('mail', 'acme', 'during')).toBeNull();
      expect(await backend.get('fresh', 'acme', 'during')).toBeNull();
      const [after] = await backend.add('mail', 'acme', [task('after')]);
      expect(after.state).toBe('waiting');
    });

    it('add throws RedisUnavailableError when Redis has been down since the start (bounded by the command timeout)', async () => {
      await backend.close(1_000);
      await booted.close();
      await server.kill();
      booted = await bootModule({ ...privateServerDriver(server).options(), health: { pingIntervalMs: 0 } });
      backend = new RedisTaskBackend(booted.core, resolveTaskOptions({}));
      await expectEnqueueOutage('mail', 'never');
      await server.restart();
      await until(() => booted.core.connection!.client.status === 'ready', { timeoutMs: WAIT_MS, message: 'the connection to come up' });
      expect(await backend.get('mail', 'acme', 'never')).toBeNull();
    });

    it('add throws RedisUnavailableError instead of hanging when the server stops answering (socket open)', async () => {
      await backend.add('mail', 'acme', [task('before')]);
      server.pause();
      // Bounded by the command timeout (500 ms on this driver); a hang fails on Jest's timeout.
      await expectEnqueueOutage('mail', 'during');
      server.resume();
      // The tags were asked for, never the add: no such task appears (its waiting count may be
      // one too high until the fairness hash expires, see RedisTaskBackend).
      expect(await backend.get('mail', 'acme', 'during')).toBeNull();
      expect((await backend.list('mail', 'acme', { offset: 0, limit: 10 })).map((t) => t.jobId)).toEqual(['before']);
    });
  });

  describe.each(REDIS_DRIVERS)('keys ($name)', (driver) => {
    it("keeps BullMQ's keys and the library's keys of one task name in one hash slot", async () => {
      const prefix = uniquePrefix('taskslots');
      const booted = await bootModule({ ...driver.options(), prefix, health: { pingIntervalMs: 0 } });
      const backend = new RedisTaskBackend(booted.core, resolveTaskOptions({}));
      try {
        for (const tenant of ['acme', 'globex']) {
          await backend.add('report.build', tenant, [task('ok'), task('ko'), task('later', { delayMs: 60_000 })]);
        }
        backend.work('report.build', { concurrency: 2 }, async (t) => {
          if (t.jobId === 'ko') throw new Error('no');
          return 1;
        });
        for (const tenant of ['acme', 'globex']) {
          for (const jobId of ['ok', 'ko']) await backend.waitFor('report.build', tenant, jobId, WAIT_MS);
          expect((await backend.failed('report.build', tenant, { offset: 0, limit: 10 })).map((t) => t.jobId)).toEqual(['ko']);
        }
        const keys = await scanKeys(booted.core, `${prefix}:*`);
        const tagged = keys.filter((key) => key.includes('{report.build}'));
        expect(tagged).toEqual(keys);
        for (const suffix of [':acme:tasks:{report.build}:fair', ':globex:tasks:{report.build}:index', ':acme:tasks:{report.build}:failed', ':_shared:tasks:{report.build}:delayed', ':_shared:tasks:{report.build}:completed', ':_shared:tasks:{report.build}:failed', ':_shared:tasks:{report.build}:acme~ok']) {
          expect(keys.filter((key) => key.endsWith(suffix))).toHaveLength(1);
        }
        if (driver.name === 'cluster') {
          const client = booted.core.connection!.client;
          const slots = new Set(await Promise.all(keys.map((key) => client.call('CLUSTER', 'KEYSLOT', key))));
          expect(slots.size).toBe(1);
        }
      } finally {
        await backend.close(1_000);
        await booted.close();
      }
    });
  });

  it('hands a task cut off by a worker close (its handler throws on abort) back to waiting, without spending an attempt', async () => {
    const booted = await bootModule({ connection: { url: testRedisUrl() }, prefix: uniquePrefix('taskcut'), health: { pingIntervalMs: 0 } });
    const backend = new RedisTaskBackend(booted.core, resolveTaskOptions({}));
    try {
      await backend.add('mail', 'acme', [task('long', { attempts: 2 })]);
      let started = false;
      const first = backend.work('mail', { concurrency: 1 }, (t) => {
        started = true;
        return new Promise((_, reject) => t.signal.addEventListener('abort', () => reject(new Error('aborted'))));
      });
      await until(() => started, { timeoutMs: WAIT_MS, message: 'the task to start' });
      await first.close(200);
      await until(async () => (await backend.get('mail', 'acme', 'long'))?.state === 'waiting', { timeoutMs: WAIT_MS, message: 'the task back to waiting' });
      expect(await backend.get('mail', 'acme', 'long')).toMatchObject({ attemptsMade: 0 });
      const attempts: number[] = [];
      backend.work('mail', { concurrency: 1 }, async (t) => void attempts.push(t.attempt));
      expect(await backend.waitFor('mail', 'acme', 'long', WAIT_MS)).toMatchObject({ state: 'completed', attemptsMade: 1 });
      expect(attempts).toEqual([1]);
    } finally {
      await backend.close(1_000);
      await booted.close();
    }
  });

  it('puts a task BullMQ fails for stalling too often (maxStalledCount) into the failed view', async () => {
    const booted = await bootModule({ connection: { url: testRedisUrl() }, prefix: uniquePrefix('taskstall'), health: { pingIntervalMs: 0 } });
    const backend = new RedisTaskBackend(booted.core, resolveTaskOptions({ lockDurationMs: 1_000, stalledIntervalMs: 1_000, maxStalledCount: 0 }));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let runs = 0;
    try {
      await backend.add('mail', 'acme', [task('stuck')]);
      backend.work('mail', { concurrency: 2 }, async () => {
        runs += 1;
        await held;
      });
      await until(() => runs === 1, { timeoutMs: WAIT_MS, message: 'the task to start' });
      // Its worker "dies": the lock goes, so the stalled check finds the task and fails it on its next fetch.
      const [lock] = await scanKeys(booted.core, `${booted.core.options.prefix}:*acme~stuck:lock`);
      await booted.core.connection!.client.del(lock);
      expect(await backend.waitFor('mail', 'acme', 'stuck', WAIT_MS)).toMatchObject({ state: 'failed', failedReason: 'job stalled more than allowable limit' });
      await until(async () => (await backend.failed('mail', 'acme', { offset: 0, limit: 10 })).length === 1, { timeoutMs: WAIT_MS, message: 'the failed view to show it' });
      expect(runs).toBe(1);
    } finally {
      release();
      await backend.close(1_000);
      await booted.close();
    }
  });

  it("runs workers on a client the user passed in (its retry limit is not BullMQ's), and leaves that client open", async () => {
    const client = new Redis(testRedisUrl(), { maxRetriesPerRequest: 3 });
    const booted = await bootModule({ connection: { client }, prefix: uniquePrefix('taskclient'), health: { pingIntervalMs: 0 } });
    const backend = new RedisTaskBackend(booted.core, resolveTaskOptions({}));
    try {
      await backend.add('mail', 'acme', [task('m1')]);
      backend.work('mail', { concurrency: 1 }, async (t) => `sent ${t.jobId}`);
      expect(await backend.waitFor('mail', 'acme', 'm1', WAIT_MS)).toMatchObject({ state: 'completed', result: 'sent m1' });
    } finally {
      await backend.close(1_000);
      await booted.close();
    }
    expect(await client.ping()).toBe('PONG');
    client.disconnect();
  });
});
