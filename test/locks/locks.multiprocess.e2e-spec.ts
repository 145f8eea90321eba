import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { testRedisUrl } from '../harness/env.js';
import { DRIVERS, uniquePrefix } from '../support/drivers.js';
import { lockTestApp, type LockTestApp } from './lock-test-app.js';
import { stopChild } from './worker-process.js';

// Children import the built library: `npm run build:lib` (run by `pretest`) must have run.
const WORKER = fileURLToPath(new URL('./children/lock-worker.mjs', import.meta.url));
const standalone = DRIVERS.find((d) => d.name === 'standalone')!;

type Message = Record<string, unknown> & { type: string };

function spawnWorker(options: Record<string, unknown>): { child: ChildProcess; next(type: string): Promise<Message> } {
  const child = fork(WORKER, [JSON.stringify({ redisUrl: testRedisUrl(), ...options })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const inbox: Message[] = [];
  const waiting: Array<{ type: string; resolve: (m: Message) => void }> = [];
  child.on('message', (message: Message) => {
    const i = waiting.findIndex((w) => w.type === message.type);
    if (i >= 0) waiting.splice(i, 1)[0].resolve(message);
    else inbox.push(message);
  });
  return {
    child,
    next: (type) =>
      new Promise((resolve, reject) => {
        const i = inbox.findIndex((m) => m.type === type);
        if (i >= 0) return resolve(inbox.splice(i, 1)[0]);
        waiting.push({ type, resolve });
        child.once('exit', (code) => reject(new Error(`worker exited (${code}) before sending "${type}"`)));
      }),
  };
}

describe('locks across processes (standalone Redis)', () => {
  const children: ChildProcess[] = [];
  let app: LockTestApp | undefined;
  let redis: Redis;

  beforeAll(() => {
    redis = new Redis(testRedisUrl());
  });
  afterEach(async () => {
    await Promise.all(children.splice(0).map(stopChild));
    await app?.close();
    app = undefined;
  });
  afterAll(() => redis.disconnect());

  it('keeps a read-sleep-write counter exact across 8 processes, with no overlap ever seen', async () => {
    const prefix = uniquePrefix('mp');
    const counterKey = `${prefix}:counter`;
    const probeKey = `${prefix}:probe`;
    const iterations = 25;
    const workers = Array.from({ length: 8 }, () => spawnWorker({ mode: 'counter', prefix, iterations, counterKey, probeKey }));
    children.push(...workers.map((w) => w.child));
    const results = await Promise.all(workers.map((w) => w.next('done')));
    expect(results.map((r) => r.overlaps)).toEqual(Array(8).fill(0));
    expect(Number(await redis.get(counterKey))).toBe(8 * iterations);
    await redis.del(counterKey, probeKey);
  }, 120_000);

  it('frees the lock of a killed holder within about one TTL', async () => {
    const prefix = uniquePrefix('mp');
    app = await lockTestApp(standalone, { prefix });
    const holder = spawnWorker({ mode: 'hold', prefix, key: 'crashy', ttlMs: 1_000, autoRenew: true });
    children.push(holder.child);
    await holder.next('acquired');
    await stopChild(holder.child);
    const lock = await app.locks.acquire('crashy', { waitMs: 2_000 });
    expect(lock.isHeld()).toBe(true);
    await lock.release();
  }, 60_000);

  it('gives a paused holder past its TTL a smaller fencing token, and the fence check rejects its late write', async () => {
    const prefix = uniquePrefix('mp');
    app = await lockTestApp(standalone, { prefix });
    const holder = spawnWorker({ mode: 'hold', prefix, key: 'fenced', ttlMs: 500, autoRenew: false, resource: 'ledger' });
    children.push(holder.child);
    const { fencingToken: staleToken } = await holder.next('acquired');
    holder.child.kill('SIGSTOP'); // a GC pause / a stalled VM: the holder does not know time passes
    const lock = await app.locks.acquire('fenced', { waitMs: 5_000 });
    expect(lock.fencingToken).toBeGreaterThan(staleToken as number);
    expect(await app.locks.checkFence('ledger', lock.fencingToken)).toBe(true);
    holder.child.kill('SIGCONT');
    holder.child.send({ type: 'write' });
    const late = await holder.next('wrote');
    expect(late).toMatchObject({ accepted: false, held: false });
    await lock.release();
  }, 60_000);
});
