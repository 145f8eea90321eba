import { Cluster, Redis } from 'ioredis';
import { createRedisClient } from '../connection/redis-client.factory.js';
import { resolveOptions } from '../options/resolve-options.js';
import { asError, bullJobId, jobOptions, unstorable, taskStateOf, toStoredTask, type TaskJob } from './redis-task-records.js';
import { bullPriority } from './task-priority.js';

const job = (fields: Partial<TaskJob>): TaskJob => ({
  id: 'acme~j1', data: { t: 'acme', p: { a: 1 } }, opts: { priority: bullPriority(2, 7), attempts: 3, delay: 500 },
  attemptsMade: 0, progress: 0, timestamp: 1_000, ...fields,
}) as TaskJob;

describe('RedisTaskBackend records', () => {
  it("maps BullMQ's states onto the task states; a state BullMQ does not know is no task", () => {
    expect(['waiting', 'prioritized', 'waiting-children', 'delayed', 'active', 'completed', 'failed', 'unknown'].map((s) => taskStateOf(s as never)))
      .toEqual(['waiting', 'waiting', 'waiting', 'delayed', 'active', 'completed', 'failed', null]);
  });

  it('builds BullMQ options: tenant-scoped job id, priority with the fairness tag, attempts and backoff', () => {
    const opts = jobOptions('acme', { jobId: 'j1', payload: null, priority: -3, delayMs: 250, attempts: 4, backoff: { type: 'exponential', delayMs: 100 } }, 9);
    expect(opts).toEqual({ jobId: 'acme~j1', priority: bullPriority(-3, 9), delay: 250, attempts: 4, backoff: { type: 'exponential', delay: 100 } });
    expect(bullJobId('acme', 'j1')).toBe('acme~j1');
  });

  it('reads a job as a stored task: public priority, started attempts, run time, result or failed reason', () => {
    expect(toStoredTask('mail', 'j1', job({}), 'delayed')).toEqual({
      name: 'mail', jobId: 'j1', tenant: 'acme', state: 'delayed', payload: { a: 1 }, priority: 2,
      attemptsMade: 0, attempts: 3, progress: 0, enqueuedAtMs: 1_000, runAtMs: 1_500,
    });
    expect(toStoredTask('mail', 'j1', job({ attemptsMade: 1, processedOn: 2_000, failedReason: 'boom' }), 'active'))
      .toMatchObject({ attemptsMade: 2, startedAtMs: 2_000, failedReason: 'boom' });
    const done = toStoredTask('mail', 'j1', job({ attemptsMade: 2, processedOn: 2_000, finishedOn: 2_500, failedReason: 'boom', returnvalue: 'ok' }), 'completed');
    expect(done).toMatchObject({ attemptsMade: 2, result: 'ok', finishedAtMs: 2_500 });
    expect(done.failedReason).toBeUndefined();
  });
});

describe("the 'queue' client role (BullMQ)", () => {
  it('has no retry limit and no command timeout, also as a duplicate of a client the user passed in', () => {
    const own = createRedisClient(resolveOptions({ connection: { url: 'redis://127.0.0.1:1', commandTimeoutMs: 300 } }), 'queue') as Redis;
    const user = new Redis({ lazyConnect: true, commandTimeout: 300, maxRetriesPerRequest: 2 });
    const duplicate = createRedisClient(resolveOptions({ connection: { client: user } }), 'queue') as Redis;
    try {
      for (const client of [own, duplicate]) {
        expect(client.options.maxRetriesPerRequest).toBeNull();
        expect(client.options.commandTimeout).toBeUndefined();
      }
    } finally {
      own.disconnect();
      duplicate.disconnect();
    }
  });

  it("gives a cluster's node connections the same", () => {
    const cluster = createRedisClient(resolveOptions({ connection: { cluster: [{ host: '127.0.0.1', port: 1 }] } }), 'queue') as Cluster;
    try {
      expect(cluster.options.redisOptions?.maxRetriesPerRequest).toBeNull();
      expect(cluster.options.redisOptions?.commandTimeout).toBeUndefined();
    } finally {
      cluster.disconnect();
    }
  });

  it('refuses a result that cannot be stored as JSON as unrecoverable; anything thrown becomes an Error', () => {
    expect(unstorable({ total: 10n })?.name).toBe('UnrecoverableTaskError');
    expect([unstorable({ a: 1 }), unstorable('x'), unstorable(undefined), unstorable(null)]).toEqual([undefined, undefined, undefined, undefined]);
    expect(asError('no').message).toBe('no');
    expect(asError({ code: 1 }).message).toBe('{"code":1}');
  });
});
