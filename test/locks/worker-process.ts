import { fork, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { testRedisUrl } from '../harness/env.js';

export type WorkerMessage = Record<string, unknown> & { type: string };

/** A forked worker (a child script under test/locks/children) and its messages by type. */
export interface WorkerProcess {
  readonly child: ChildProcess;
  /** The next message of `type` (one that arrived already, or the next to come); rejects if the worker exits first. */
  next(type: string): Promise<WorkerMessage>;
  /** Resolves with the exit code and signal once the worker has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Forks `file` with `options` (plus the test Redis URL) as its JSON argument. Children import
 * the built library: `npm run build:lib` must have run.
 *
 * @example
 * const worker = forkWorker(WORKER, { mode: 'holder', prefix });
 * await worker.next('entered');
 */
export function forkWorker(file: string, options: Record<string, unknown>): WorkerProcess {
  const child = fork(file, [JSON.stringify({ redisUrl: testRedisUrl(), ...options })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const inbox: WorkerMessage[] = [];
  const waiting: Array<{ type: string; resolve: (m: WorkerMessage) => void }> = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  child.on('message', (message: WorkerMessage) => {
    const i = waiting.findIndex((w) => w.type === message.type);
    if (i >= 0) waiting.splice(i, 1)[0].resolve(message);
    else inbox.push(message);
  });
  return {
    child,
    exited,
    next: (type) =>
      new Promise((resolve, reject) => {
        const i = inbox.findIndex((m) => m.type === type);
        if (i >= 0) return resolve(inbox.splice(i, 1)[0]);
        waiting.push({ type, resolve });
        void exited.then(({ code, signal }) => reject(new Error(`worker exited (${signal ?? code}) before sending "${type}"`)));
      }),
  };
}

/** Kills a worker that is still running (SIGCONT first, in case it was stopped). */
export async function killWorker(worker: WorkerProcess): Promise<void> {
  await stopChild(worker.child);
}

/** Kills a child process that is still running (SIGCONT first, in case it was stopped); resolves once it exited. */
export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  });
}

/** What {@link workersOnStandalone} gives a multi-process test. */
export interface WorkerPool {
  /** Push every forked worker here: each is killed after its test. */
  readonly workers: WorkerProcess[];
  /** A client of the shared standalone server, to read what the workers did. */
  readonly redis: Redis;
}

/**
 * Registers the Jest hooks of a multi-process test on the shared standalone server: a Redis
 * client for the describe block, and the workers of each test killed after it.
 *
 * @example
 * const pool = workersOnStandalone();
 * it('...', async () => {
 *   pool.workers.push(forkWorker(WORKER, { prefix }));
 *   expect(await pool.redis.get(`${prefix}:count`)).toBe('1');
 * });
 */
export function workersOnStandalone(): WorkerPool {
  const workers: WorkerProcess[] = [];
  let redis: Redis | undefined;
  beforeAll(() => {
    redis = new Redis(testRedisUrl());
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map(killWorker));
  });
  afterAll(() => redis?.disconnect());
  return {
    workers,
    get redis() {
      if (!redis) throw new Error('the Redis client of workersOnStandalone() exists inside tests only');
      return redis;
    },
  };
}
