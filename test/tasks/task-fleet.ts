import { fileURLToPath } from 'node:url';
import { TaskService, type TaskModuleOptions } from '@nest-coordination/core';
import { Cluster, Redis } from 'ioredis';
import { testClusterNodes, testRedisUrl } from '../harness/env.js';
import { forkWorker, killWorker, type WorkerProcess } from '../locks/worker-process.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { uniquePrefix, type DriverCase } from '../support/drivers.js';
import { assertFreshBuild } from '../support/stale-build.js';

// Children import @nest-coordination/core from libs/coordination/dist (`npm run build:lib`).
const CHILD = fileURLToPath(new URL('./children/task-worker.child.mjs', import.meta.url));

/**
 * The task name every process of a fleet works on.
 *
 * @example
 * await fleet.tasks.enqueue(TASK, { tenant: 'acme', n: 1 }, { tenant: 'acme' });
 */
export const TASK = 'fleet.job';

/**
 * What a worker process does (see children/task-worker.child.mjs).
 *
 * @example
 * fleet.fork({ worker: 'w1', blockJob: 'blocked' });
 */
export interface WorkerBehaviour {
  worker: string;
  /** `@TaskHandler` concurrency. Default 1. */
  concurrency?: number;
  /**
   * The job id of a task whose first start in the whole fleet blocks: the process that takes it
   * reports `started` and its handler never returns; a later start of it (the retry) runs.
   */
  blockJob?: string;
  /** Each handler holds its task this long before completing it. */
  holdMs?: number;
}

/**
 * Task worker processes on one backend (standalone or cluster), and the parent's own module on
 * the same prefix (no handlers: it only enqueues and inspects). What the processes' handlers did
 * lives under one hash tag (`<prefix>:{test}:*`), read with `redis`.
 *
 * @example
 * const fleet = await TaskFleet.start(driver, { lockDurationMs: 1_000, stalledIntervalMs: 1_000 });
 * fleet.fork({ worker: 'w1', concurrency: 4 });
 * await fleet.tasks.enqueueMany(TASK, items, { tenant: 'acme' });
 */
export class TaskFleet {
  readonly workers: WorkerProcess[] = [];

  private constructor(
    private readonly driver: DriverCase,
    private readonly booted: BootedModule,
    private readonly options: TaskModuleOptions,
    readonly redis: Redis | Cluster,
    readonly prefix: string,
  ) {}

  /** Fails naming the stale files when dist/tasks is older than its sources: the children would run old code. */
  static async start(driver: DriverCase, options: TaskModuleOptions = {}): Promise<TaskFleet> {
    assertFreshBuild('tasks', 'the worker processes');
    const prefix = uniquePrefix('taskfleet');
    const booted = await bootModule({ ...driver.options(), prefix, health: { pingIntervalMs: 0 }, tasks: options });
    const redis = driver.name === 'cluster' ? new Cluster(testClusterNodes()) : new Redis(testRedisUrl());
    return new TaskFleet(driver, booted, options, redis, prefix);
  }

  get tasks(): TaskService {
    return this.booted.get(TaskService);
  }

  /** A key of the processes' records. */
  key(name: string): string {
    return `${this.prefix}:{test}:${name}`;
  }

  /** Forks a worker process of TASK with the fleet's `tasks` options; it is killed by close() if still running. */
  fork(behaviour: WorkerBehaviour): WorkerProcess {
    const cluster = this.driver.name === 'cluster' ? { cluster: testClusterNodes() } : {};
    const worker = forkWorker(CHILD, {
      ...cluster, concurrency: 1, ...behaviour, prefix: this.prefix, keys: `${this.prefix}:{test}`, task: TASK, tasks: this.options,
    });
    this.workers.push(worker);
    return worker;
  }

  /** `<tenant>/<jobId>` → how often the processes' handlers started (`starts`) or completed (`runs`) it. */
  async counts(what: 'starts' | 'runs' | 'workers'): Promise<Map<string, number>> {
    const hash = await this.redis.hgetall(this.key(what));
    return new Map(Object.entries(hash).map(([key, count]) => [key, Number(count)]));
  }

  /** Tasks whose handler ran in another tenant's context than their payload's. */
  wrongTenants(): Promise<string[]> {
    return this.redis.lrange(this.key('tenants'), 0, -1);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.splice(0).map(killWorker));
    this.redis.disconnect();
    await this.booted.close();
  }
}
