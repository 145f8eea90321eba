import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { testRedisUrl } from '../harness/env.js';
import { uniquePrefix } from '../support/drivers.js';
import { KeyBuilder } from '../support/internals.js';
import { until } from '../support/wait.js';
import { LockKeys } from '../../libs/coordination/src/locks/lock-keys.js';
import { stopChild } from './worker-process.js';

// Children import the built library: `npm run build:lib` (run by `pretest`) must have run.
const HOLDER = fileURLToPath(new URL('./children/stalling-holder.mjs', import.meta.url));
/**
 * The waiters' fallback poll. The test waits at most BOUND_MS for each take-over, far less: a
 * waiter that only its fallback poll would wake fails it, whatever the machine's speed.
 */
const FALLBACK_POLL_MS = 600_000;
const BOUND_MS = 30_000;
/** The waiters hold for this long and never release: each take-over follows an expiry. */
const TTL_MS = 300;

interface Acquired {
  fencingToken: number;
  /** Date.now() in the child once acquire() returned. */
  at: number;
}

interface Holder {
  child: ChildProcess;
  acquired(): Promise<Acquired>;
}

function spawnHolder(prefix: string, options: Record<string, unknown>): Holder {
  const child = fork(HOLDER, [JSON.stringify({ redisUrl: testRedisUrl(), prefix, ...options })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const got = new Promise<Acquired>((resolve, reject) => {
    child.on('message', (message: Acquired & { type: string }) => {
      if (message.type === 'acquired') resolve(message);
    });
    child.once('exit', (code) => reject(new Error(`holder exited (${code}) before it acquired the lock`)));
  });
  got.catch(() => undefined);
  return {
    child,
    acquired: () => until(() => Promise.race([got, Promise.resolve(null)]), { timeoutMs: BOUND_MS, message: 'the lock to be taken over' }),
  };
}

describe('take-over of an expired lock across processes (standalone Redis)', () => {
  const children: ChildProcess[] = [];
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(testRedisUrl());
  });
  afterEach(async () => {
    await Promise.all(children.splice(0).map(stopChild));
  });
  afterAll(() => redis.disconnect());

  const setup = (key: string) => {
    const prefix = uniquePrefix('takeover');
    const keys = new LockKeys(new KeyBuilder(prefix)).mutex('_shared', key);
    const spawn = (options: Record<string, unknown>) => {
      const holder = spawnHolder(prefix, { key, ...options });
      children.push(holder.child);
      return holder;
    };
    /** A process that waits for the lock, then holds it for TTL_MS without renewing or releasing. */
    const waiter = async (queued: number) => {
      const w = spawn({ ttlMs: TTL_MS, autoRenew: false, waitMs: 120_000, locks: { fallbackPollMs: FALLBACK_POLL_MS } });
      await until(async () => (await redis.zcard(keys.queue)) === queued, { timeoutMs: 20_000, message: `${queued} waiter(s) in the queue` });
      return w;
    };
    return { keys, spawn, waiter };
  };

  it("gives a stalled holder's lock to each queued waiter in turn, in queue order, long before fallbackPollMs", async () => {
    const { spawn, waiter } = setup('nightly');
    // Renews while it runs; stopped below, it stops renewing and its lock expires.
    const holder = spawn({ ttlMs: 1_000, autoRenew: true, waitMs: 0 });
    await holder.acquired();
    const waiters: Holder[] = [];
    for (let i = 1; i <= 4; i++) waiters.push(await waiter(i));
    holder.child.kill('SIGSTOP');
    let expiredBy = Date.now() + 1_000;

    const got: Acquired[] = [];
    for (const w of waiters) got.push(await w.acquired());
    for (const [i, g] of got.entries()) {
      if (i > 0) expect(g.fencingToken).toBeGreaterThan(got[i - 1].fencingToken);
      // The previous lock expired by `expiredBy`; this take-over came within BOUND_MS of it, a
      // twentieth of the fallback poll: only the head notification can have woken the waiter.
      expect(g.at - expiredBy).toBeLessThan(BOUND_MS);
      expiredBy = g.at + TTL_MS;
    }
  }, 120_000);

  it('wakes a waiter that found the lock free but not its turn when the head then takes it by polling', async () => {
    const { keys, spawn, waiter } = setup('report');
    const holder = spawn({ ttlMs: 1_000, autoRenew: true, waitMs: 0 });
    await holder.acquired();
    const head = await waiter(1);
    head.child.kill('SIGSTOP'); // the head stalls while it waits
    holder.child.kill('SIGSTOP');
    await until(async () => (await redis.exists(keys.lock)) === 0, { timeoutMs: 10_000, message: "the stalled holder's lock to expire" });
    // Joins a free lock with the head ahead of it: nothing tells it when the lock will expire.
    const second = await waiter(2);
    head.child.kill('SIGCONT');

    const first = await head.acquired();
    // Taken by polling, and held without renewing: the second waiter must learn of it to take over at its expiry.
    const next = await second.acquired();
    expect(next.fencingToken).toBeGreaterThan(first.fencingToken);
    expect(next.at - (first.at + TTL_MS)).toBeLessThan(BOUND_MS);
  }, 120_000);
});
