import type {
  NewTask, StoredTask, TaskBackend, TaskProcessor, TaskWorker, WorkOptions,
} from '../../../libs/coordination/src/tasks/task-backend.interface.js';
import type { TaskModuleOptions } from '../../../libs/coordination/src/tasks/task.options.js';
import { until } from '../../support/wait.js';
import { describeTaskBackendFairnessContract } from './task-backend.contract-fairness.js';
import { describeTaskBackendLifecycleContract } from './task-backend.contract-lifecycle.js';
import { describeTaskBackendOutcomesContract } from './task-backend.contract-outcomes.js';
import { describeTaskBackendViewsContract } from './task-backend.contract-views.js';

/**
 * One task backend under test, and a way to let its time pass.
 *
 * @example
 * const clock = new ManualClock(0);
 * const under: TaskBackendUnderTest = { backend: new MemoryTaskBackend(clock, options), elapse: async (ms) => clock.advance(ms), close: async () => {} };
 */
export interface TaskBackendUnderTest {
  readonly backend: TaskBackend;
  /**
   * Lets `ms` pass on the backend's clock (delays, retry backoff): a ManualClock jumps; on Redis
   * it does nothing (real time passes while the case awaits with `until`).
   */
  elapse(ms: number): Promise<void>;
  /** Closes the backend and what it runs on. */
  close(): Promise<void>;
}

/**
 * Creates a backend; `options` override the `tasks` section defaults (keep limits).
 *
 * @example
 * const under = await create({ keepCompleted: 2 });
 */
export type CreateTaskBackend = (options?: TaskModuleOptions) => Promise<TaskBackendUnderTest>;

/**
 * A gate a processor awaits until the case opens it.
 *
 * @example
 * const gate = f.gate();
 * f.work(name, async () => { await gate.opened; });
 * gate.open();
 */
export interface Gate {
  readonly opened: Promise<void>;
  open(): void;
}

/**
 * What the contract's cases share.
 *
 * @example
 * await f.s().backend.add(name, 'acme', [f.task('t1', { n: 1 })]);
 * expect((await f.finished(name, 'acme', 't1')).state).toBe('completed');
 */
export interface TaskFixtures {
  readonly s: () => TaskBackendUnderTest;
  readonly create: CreateTaskBackend;
  /** A task name no other case uses. */
  name(): string;
  /** A task with the defaults of the service filled in (priority 0, no delay, 1 attempt, no backoff). */
  task(jobId: string, payload?: unknown, options?: Partial<Omit<NewTask, 'jobId' | 'payload'>>): NewTask;
  /** Starts a worker on `name` (a concurrency, default 1, or the whole WorkOptions), closed after the case. */
  work(name: string, processor: TaskProcessor, concurrency?: number | WorkOptions, backend?: TaskBackend): TaskWorker;
  gate(): Gate;
  /** The task once it completed or failed (letting clock time pass by `stepMs` per look). */
  finished(name: string, tenant: string, jobId: string, stepMs?: number, backend?: TaskBackendUnderTest): Promise<StoredTask>;
}

/**
 * Generous bound on waiting for work that should take milliseconds (it fails instead of hanging).
 *
 * @example
 * await until(() => done, { timeoutMs: WAIT_MS, message: 'the task to run' });
 */
export const WAIT_MS = 15_000;

/**
 * The TaskBackend contract (libs/coordination/src/tasks/task-backend.interface.ts), asserted on the
 * backend itself: records and deduplication per tenant, tenant isolation, priorities, FIFO and
 * delays (this file); retries with backoff, UnrecoverableTaskError, retry, cancel, progress,
 * results, waitFor and worker close (task-backend.contract-lifecycle.ts); `existed` and
 * `onSettled`, the outcomes reported (task-backend.contract-outcomes.ts); the failed view, list,
 * keep limits and tenants handed to processors (task-backend.contract-views.ts); depth, the
 * fairness tags (delays, retries, the scenario of issue 12) and concurrency
 * (task-backend.contract-fairness.ts). MemoryTaskBackend and RedisTaskBackend must pass it unchanged.
 * Delays that must not pass by themselves are >= 1 s (Redis runs in real time).
 *
 * @example
 * describe.each(DRIVERS)('TaskBackend contract ($name)', (driver) => describeTaskBackendContract((o) => backendFor(driver, o)));
 */
export function describeTaskBackendContract(create: CreateTaskBackend): void {
  let s: TaskBackendUnderTest;
  let n = 0;
  let workers: TaskWorker[] = [];
  beforeAll(async () => {
    s = await create();
  });
  afterEach(async () => {
    await Promise.all(workers.map((w) => w.close(1_000)));
    workers = [];
  });
  afterAll(() => s.close());

  const f: TaskFixtures = {
    s: () => s,
    create,
    name: () => `job-${process.pid}-${++n}`,
    task: (jobId, payload = null, options = {}) => ({
      jobId, payload, priority: 0, delayMs: 0, attempts: 1, backoff: { type: 'fixed', delayMs: 0 }, ...options,
    }),
    work: (name, processor, concurrency = 1, backend = s.backend) => {
      const worker = backend.work(name, typeof concurrency === 'number' ? { concurrency } : concurrency, processor);
      workers.push(worker);
      return worker;
    },
    gate: () => {
      let open!: () => void;
      const opened = new Promise<void>((resolve) => (open = resolve));
      return { opened, open };
    },
    finished: (name, tenant, jobId, stepMs = 0, under = s) => until(async () => {
      if (stepMs > 0) await under.elapse(stepMs);
      const task = await under.backend.get(name, tenant, jobId);
      return (task?.state === 'completed' || task?.state === 'failed') && task;
    }, { timeoutMs: WAIT_MS, message: `task ${name}:${jobId} of ${tenant} to finish` }),
  };

  describeTaskBackendBasicsContract(f);
  describeTaskBackendLifecycleContract(f);
  describeTaskBackendOutcomesContract(f);
  describeTaskBackendViewsContract(f);
  describeTaskBackendFairnessContract(f);
}

const PAYLOAD = { text: 'héllo ✓ "quoted"', n: 1.5, list: [1, 'two', null, { deep: true }], empty: {}, flag: false };

function describeTaskBackendBasicsContract(f: TaskFixtures): void {
  const b = () => f.s().backend;

  it('add returns the stored records: state, priority, attempts, times and the payload as given', async () => {
    const name = f.name();
    const [now, later] = await b().add(name, 'acme', [
      f.task('r-1', PAYLOAD, { priority: 3, attempts: 4 }),
      f.task('r-2', 7, { priority: -2, delayMs: 60_000 }),
    ]);
    expect(now).toMatchObject({ name, jobId: 'r-1', tenant: 'acme', state: 'waiting', payload: PAYLOAD, priority: 3, attempts: 4, attemptsMade: 0, progress: 0 });
    expect(now.runAtMs).toBe(now.enqueuedAtMs);
    expect(now.result).toBeUndefined();
    expect(now.failedReason).toBeUndefined();
    expect(later).toMatchObject({ jobId: 'r-2', state: 'delayed', payload: 7, priority: -2, attempts: 1 });
    expect(later.runAtMs - later.enqueuedAtMs).toBe(60_000);
    expect(await b().get(name, 'acme', 'r-1')).toEqual(now);
    expect(await b().get(name, 'acme', 'r-2')).toEqual(later);
  });

  it('deduplicates jobIds per tenant: the same jobId in another tenant is another task', async () => {
    const name = f.name();
    const [first] = await b().add(name, 'acme', [f.task('dup', { v: 1 })]);
    const [again] = await b().add(name, 'acme', [f.task('dup', { v: 2 }, { priority: 5 })]);
    const [other] = await b().add(name, 'globex', [f.task('dup', { v: 2 })]);
    expect(again).toMatchObject({ tenant: 'acme', payload: { v: 1 }, priority: 0, enqueuedAtMs: first.enqueuedAtMs });
    expect(other).toMatchObject({ tenant: 'globex', payload: { v: 2 }, state: 'waiting' });
    expect((await b().get(name, 'acme', 'dup'))?.payload).toEqual({ v: 1 });
    expect((await b().get(name, 'globex', 'dup'))?.payload).toEqual({ v: 2 });
    expect(await b().depth(name, 'acme')).toBe(1);
    expect(await b().depth(name, 'globex')).toBe(1);
  });

  it("never finds another tenant's task", async () => {
    const name = f.name();
    await b().add(name, 'acme', [f.task('mine', 1)]);
    expect(await b().get(name, 'globex', 'mine')).toBeNull();
    expect(await b().get(name, 'acme', 'unknown')).toBeNull();
    expect(await b().get(f.name(), 'acme', 'mine')).toBeNull();
    expect(await b().cancel(name, 'globex', 'mine')).toBe('not-found');
    expect(await b().retry(name, 'globex', 'mine')).toBe('not-found');
    expect(await b().waitFor(name, 'globex', 'mine', 1_000)).toBeNull();
    expect(await b().list(name, 'globex', { offset: 0, limit: 10 })).toEqual([]);
    expect(await b().depth(name, 'globex')).toBe(0);
    expect((await b().get(name, 'acme', 'mine'))?.state).toBe('waiting');
  });

  it('runs higher priorities first, across tenants', async () => {
    const name = f.name();
    for (const [jobId, priority] of [['p0', 0], ['p5a', 5], ['m3', -3], ['p10', 10], ['p5b', 5]] as const) {
      await b().add(name, 'acme', [f.task(jobId, null, { priority })]);
    }
    await b().add(name, 'globex', [f.task('g1', null, { priority: 1 })]);
    const order = await runAll(f, name, 6);
    expect(order).toEqual(['p10', 'p5a', 'p5b', 'g1', 'p0', 'm3']);
  });

  it('runs the tasks of a tenant and priority in enqueue order', async () => {
    const name = f.name();
    const ids = Array.from({ length: 15 }, (_, i) => `fifo-${i}`);
    for (const jobId of ids.slice(0, 5)) await b().add(name, 'acme', [f.task(jobId)]);
    await b().add(name, 'acme', ids.slice(5).map((jobId) => f.task(jobId)));
    expect(await runAll(f, name, ids.length)).toEqual(ids);
  });

  it('does not run a delayed task before it is due, then runs it', async () => {
    const name = f.name();
    const delayMs = 2_000;
    const [later] = await b().add(name, 'acme', [f.task('later', 'x', { delayMs })]);
    await b().add(name, 'acme', [f.task('now', 'y')]);
    const started = new Map<string, number>();
    f.work(name, async (task) => void started.set(task.jobId, task.startedAtMs), 2);
    await f.finished(name, 'acme', 'now');
    expect((await b().get(name, 'acme', 'later'))?.state).toBe('delayed');
    expect(started.has('later')).toBe(false);
    await f.s().elapse(delayMs);
    const done = await f.finished(name, 'acme', 'later');
    expect(done.state).toBe('completed');
    expect([...started.keys()]).toEqual(['now', 'later']);
    expect(started.get('later')).toBeGreaterThanOrEqual(later.runAtMs);
  });
}

/**
 * Runs `count` tasks of `name` on one worker of concurrency 1 started now; their jobIds in start order.
 *
 * @example
 * expect(await runAll(f, name, 2)).toEqual(['x5', 'x6']);
 */
export async function runAll(f: TaskFixtures, name: string, count: number): Promise<string[]> {
  const order: string[] = [];
  f.work(name, async (task) => void order.push(task.jobId));
  await until(() => order.length >= count, { timeoutMs: WAIT_MS, message: () => `${count} tasks to run (ran ${order.join(', ')})` });
  return order;
}
