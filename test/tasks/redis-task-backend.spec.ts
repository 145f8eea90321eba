import { Redis } from 'ioredis';
import { RedisUnavailableError } from '@nest-coordination/core';
import { RedisTaskBackend } from '../../libs/coordination/src/tasks/redis-task.backend.js';
import type { NewTask } from '../../libs/coordination/src/tasks/task-backend.interface.js';
import { TaskKeys } from '../../libs/coordination/src/tasks/task-keys.js';
import { resolveTaskOptions } from '../../libs/coordination/src/tasks/task.options.js';
import { TASK_SCRIPTS } from '../../libs/coordination/src/tasks/task.scripts.js';
import type { LuaScript } from '../../libs/coordination/src/connection/lua-script.js';
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

    it('drops a Queue whose setup failed during a stall: a later add of that task name succeeds', async () => {
      server.pause();
      await expectEnqueueOutage('fresh', 'during');
      server.resume();
      await until(() => backend.add('fresh', 'acme', [task('after')]).then(() => true, () => false), { timeoutMs: WAIT_MS, message: 'an add of the name to succeed' });
      expect(await backend.get('fresh', 'acme', 'after')).toMatchObject({ state: 'waiting' });
    });

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
        for (const suffix of [':acme:tasks:{report.build}:fair', ':globex:tasks:{report.build}:index', ':acme:tasks:{report.build}:failed', ':_shared:tasks-bullmq:{report.build}:delayed', ':_shared:tasks-bullmq:{report.build}:completed', ':_shared:tasks-bullmq:{report.build}:failed', ':_shared:tasks-bullmq:{report.build}:acme~ok']) {
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

  /**
   * A backend whose stalled check runs every second (tasks of a dead worker found within 1-2 s),
   * and a way to make a task's worker "die": its job lock goes.
   */
  async function stallingBackend(label: string, options: Parameters<typeof resolveTaskOptions>[0] = {}) {
    const booted = await bootModule({ connection: { url: testRedisUrl() }, prefix: uniquePrefix(label), health: { pingIntervalMs: 0 } });
    const backend = new RedisTaskBackend(booted.core, resolveTaskOptions({ lockDurationMs: 1_000, stalledIntervalMs: 1_000, ...options }));
    return {
      booted,
      backend,
      async dropLock(tenant: string, jobId: string): Promise<void> {
        const [lock] = await scanKeys(booted.core, `${booted.core.options.prefix}:*${tenant}~${jobId}:lock`);
        await booted.core.connection!.client.del(lock);
      },
      async close(): Promise<void> {
        await backend.close(1_000);
        await booted.close();
      },
    };
  }

  it('puts a task BullMQ fails for stalling too often (maxStalledCount) into the failed view', async () => {
    const stalling = await stallingBackend('taskstall', { maxStalledCount: 0 });
    const { backend } = stalling;
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
      await stalling.dropLock('acme', 'stuck');
      expect(await backend.waitFor('mail', 'acme', 'stuck', WAIT_MS)).toMatchObject({ state: 'failed', failedReason: 'job stalled more than allowable limit' });
      await until(async () => (await backend.failed('mail', 'acme', { offset: 0, limit: 10 })).length === 1, { timeoutMs: WAIT_MS, message: 'the failed view to show it' });
      expect(runs).toBe(1);
    } finally {
      release();
      await stalling.close();
    }
  });

  it("takes a stalled task out of its tenant's waiting set when it runs again (the dead worker's removal may never have arrived)", async () => {
    const stalling = await stallingBackend('taskrestall');
    const { booted, backend } = stalling;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let runs = 0;
    try {
      await backend.add('mail', 'acme', [task('stuck')]);
      backend.work('mail', { concurrency: 2 }, async () => {
        runs += 1;
        if (runs === 1) await held;
        return 'ok';
      });
      await until(() => runs === 1, { timeoutMs: WAIT_MS, message: 'the task to start' });
      await until(async () => (await backend.depth('mail', 'acme')) === 0, { timeoutMs: WAIT_MS, message: 'the first start to leave the waiting set' });
      // Its worker "dies" before its first-start removal arrived (a SIGKILL between EVALSHA's NOSCRIPT and the EVAL):
      // the entry is back, and the lock goes, so the stalled check hands the task to the next fetch.
      const waiting = new TaskKeys(booted.core.keys).ofTenant('acme', 'mail').waiting;
      await booted.core.connection!.client.zadd(waiting, Date.now(), 'stuck');
      await stalling.dropLock('acme', 'stuck');
      expect(await backend.waitFor('mail', 'acme', 'stuck', WAIT_MS)).toMatchObject({ state: 'completed' });
      expect(runs).toBe(2);
      await until(async () => (await backend.depth('mail', 'acme')) === 0, { timeoutMs: WAIT_MS, message: 'the run after the stall to leave the waiting set' });
    } finally {
      release();
      await stalling.close();
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

  describe('review fixes', () => {
    let booted: BootedModule;
    let backend: RedisTaskBackend;
    beforeEach(async () => {
      booted = await bootModule({ connection: { url: testRedisUrl() }, prefix: uniquePrefix('taskfix'), health: { pingIntervalMs: 0 } });
      backend = new RedisTaskBackend(booted.core, resolveTaskOptions({}));
    });
    afterEach(async () => {
      await backend.close(1_000);
      await booted.close();
    });
    /** Makes the next `count` runs of `script` on the command connection reject (a fault injected, then gone). */
    const failScript = (script: LuaScript, count = 1) => {
      const connection = booted.core.connection!;
      const original = connection.runScript.bind(connection);
      let left = count;
      connection.runScript = (<T>(s: LuaScript, keys: readonly string[], args: ReadonlyArray<string | number | Buffer>): Promise<T> => {
        if (s === script && left-- > 0) return Promise.reject(new Error('injected failure'));
        return original<T>(s, keys, args);
      }) as typeof connection.runScript;
    };

    it("a worker's cut-off close leaves the other workers of the backend running", async () => {
      let slowStarted = false;
      const slow = backend.work('slow', { concurrency: 1 }, () => {
        slowStarted = true;
        return new Promise(() => undefined); // ignores its signal
      });
      backend.work('mail', { concurrency: 1 }, async (t) => `sent ${t.jobId}`);
      await backend.add('slow', 'acme', [task('stuck')]);
      await until(() => slowStarted, { timeoutMs: WAIT_MS, message: 'the slow task to start' });
      await slow.close(100);
      await backend.add('mail', 'acme', [task('m1')]);
      expect(await backend.waitFor('mail', 'acme', 'm1', WAIT_MS)).toMatchObject({ state: 'completed', result: 'sent m1' });
    });

    it('cancel never deletes a task that completed meanwhile: cancelled means it never ran, else its result stays', async () => {
      await backend.add('job', 'acme', [task('x')]);
      const queue = await (backend as unknown as { queue(name: string): Promise<{ getJobState(id: string): Promise<string> }> }).queue('job');
      const original = queue.getJobState.bind(queue);
      const ran = new Set<string>();
      const work = () => backend.work('job', { concurrency: 4 }, async (t) => {
        ran.add(t.jobId);
        return `result ${t.jobId}`;
      });
      // Should cancel read the state first, the task completes right after that read.
      queue.getJobState = async (id: string) => {
        queue.getJobState = original;
        const state = await original(id);
        if (state !== 'prioritized') return state;
        work();
        await until(async () => (await original(id)) === 'completed', { timeoutMs: WAIT_MS, message: 'the task to complete' });
        return state;
      };
      const expectConsistent = async (jobId: string, outcome: unknown) => {
        if (outcome === 'cancelled') {
          expect(ran.has(jobId)).toBe(false);
          expect(await backend.get('job', 'acme', jobId)).toBeNull();
        } else if ((outcome as { state: string }).state === 'completed') {
          expect(await backend.get('job', 'acme', jobId)).toMatchObject({ state: 'completed', result: `result ${jobId}` });
        }
      };
      await expectConsistent('x', await backend.cancel('job', 'acme', 'x'));
      queue.getJobState = original;
      // And racing a running worker, many times.
      const ids = Array.from({ length: 40 }, (_, i) => `r${i}`);
      await backend.add('job', 'acme', ids.map((id) => task(id)));
      if (ran.size === 0) work();
      const outcomes = await Promise.all(ids.map((id) => backend.cancel('job', 'acme', id)));
      for (const [i, id] of ids.entries()) await expectConsistent(id, outcomes[i]);
    });

    it('sends a failed first-start removal again: depth returns to 0', async () => {
      failScript(TASK_SCRIPTS.start);
      await backend.add('mail', 'acme', [task('m1')]);
      backend.work('mail', { concurrency: 1 }, async () => 'ok');
      await backend.waitFor('mail', 'acme', 'm1', WAIT_MS);
      await until(async () => (await backend.depth('mail', 'acme')) === 0, { timeoutMs: WAIT_MS, message: 'depth 0' });
    });

    it('heals a waiting entry whose task already ran on the next add (an old entry only)', async () => {
      await backend.add('mail', 'acme', [task('m1')]);
      backend.work('mail', { concurrency: 1 }, async () => 'ok');
      await backend.waitFor('mail', 'acme', 'm1', WAIT_MS);
      await until(async () => (await backend.depth('mail', 'acme')) === 0, { timeoutMs: WAIT_MS, message: 'depth 0' });
      // A removal that was lost for good (a process gone before it resent it).
      const waiting = new TaskKeys(booted.core.keys).ofTenant('acme', 'mail').waiting;
      await booted.core.connection!.client.zadd(waiting, 1_000, 'm1');
      expect(await backend.depth('mail', 'acme')).toBe(1);
      await backend.add('mail', 'acme', [task('later', { delayMs: 60_000 })]);
      expect(await backend.depth('mail', 'acme')).toBe(0);
    });

    it('counts a delayed task put back by retry as waiting until it starts again', async () => {
      let runs = 0;
      await backend.add('mail', 'acme', [task('d1', { delayMs: 1_000 })]);
      expect(await backend.depth('mail', 'acme')).toBe(0);
      backend.work('mail', { concurrency: 1 }, async () => {
        runs += 1;
        if (runs === 1) throw new Error('first run fails');
        return 'ok';
      });
      expect(await backend.waitFor('mail', 'acme', 'd1', WAIT_MS)).toMatchObject({ state: 'failed' });
      expect(await backend.retry('mail', 'acme', 'd1')).toBe('retried');
      expect(await backend.waitFor('mail', 'acme', 'd1', WAIT_MS)).toMatchObject({ state: 'completed' });
      await until(async () => (await backend.depth('mail', 'acme')) === 0, { timeoutMs: WAIT_MS, message: 'depth 0' });
    });

    it('writes the failed view again when its first write fails', async () => {
      failScript(TASK_SCRIPTS.fail);
      await backend.add('mail', 'acme', [task('ko')]);
      backend.work('mail', { concurrency: 1 }, async () => {
        throw new Error('no');
      });
      expect(await backend.waitFor('mail', 'acme', 'ko', WAIT_MS)).toMatchObject({ state: 'failed' });
      await until(async () => (await backend.failed('mail', 'acme', { offset: 0, limit: 10 })).length === 1, { timeoutMs: WAIT_MS, message: 'the failed view to show it' });
    });

    it('reads a finished task again when its job was read before it finished (no finish time, no result)', async () => {
      await backend.add('mail', 'acme', [task('m1')]);
      backend.work('mail', { concurrency: 1 }, async () => 'ok');
      await backend.waitFor('mail', 'acme', 'm1', WAIT_MS);
      const queue = await (backend as unknown as { queue(name: string): Promise<{ getJob(id: string): Promise<Record<string, unknown>> }> }).queue('mail');
      const original = queue.getJob.bind(queue);
      // The hash as it was one command earlier: still active.
      queue.getJob = async (id: string) => {
        queue.getJob = original;
        return Object.assign(await original(id), { finishedOn: undefined, returnvalue: null });
      };
      expect(await backend.get('mail', 'acme', 'm1')).toMatchObject({ state: 'completed', result: 'ok', finishedAtMs: expect.any(Number) });
    });

    it('returns the stored record to the loser of two concurrent adds of one new jobId', async () => {
      const [[first], [second]] = await Promise.all([
        backend.add('mail', 'acme', [task('dup', { payload: { v: 1 } })]),
        backend.add('mail', 'acme', [task('dup', { payload: { v: 2 } })]),
      ]);
      const stored = await backend.get('mail', 'acme', 'dup');
      expect([first.payload, second.payload]).toEqual([stored!.payload, stored!.payload]);
      expect([first.existed, second.existed].filter(Boolean)).toHaveLength(1);
    });
  });
});
