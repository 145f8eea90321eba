import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { startRedisServer, type RedisServerHandle } from '../harness/redis-server.js';
import { uniquePrefix } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { childReport } from './child-report.js';

// The children import @nest-coordination/core from libs/coordination/dist (`npm run build:lib`).
const CHILD = fileURLToPath(new URL('./fleet-outage.child.mjs', import.meta.url));
const PROCESSES = 4;
const LIMIT = 10;
const WINDOW_MS = 60_000;
/** Each instance asks for the whole limit: demand well over the limit for the fleet. */
const ATTEMPTS = LIMIT;

interface ChildReport {
  answers: Array<{ allowed: boolean; source: string }>;
  liveInstances: number;
}

/**
 * Several processes share one Redis; Redis is killed; each answers from its local limiter. The
 * fleet together admits at most the limit plus one window's rounding (each admits
 * ceil(limit / instances), so at most instances - 1 more than the limit), not the limit per process.
 */
describe(`the local fallback across ${PROCESSES} processes after Redis is killed`, () => {
  const children: ChildProcess[] = [];
  let server: RedisServerHandle;
  afterAll(async () => {
    children.forEach((c) => c.exitCode === null && c.kill('SIGKILL'));
    await server?.stop();
  });

  it('admits at most limit + (instances - 1) in one window across the fleet', async () => {
    server = await startRedisServer();
    const prefix = uniquePrefix('rlfleet');
    const runs = Array.from({ length: PROCESSES }, () => {
      const child = fork(CHILD, [server.url, prefix, String(PROCESSES), 'report', String(LIMIT), String(WINDOW_MS), String(ATTEMPTS)], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      children.push(child);
      return childReport<ChildReport>(child);
    });
    await Promise.all(runs.map((r) => r.ready));
    // Every instance's heartbeat entry is in Redis and alive when the outage begins.
    const redis = new Redis(server.url);
    try {
      await until(async () => {
        const [seconds, micros] = await redis.time();
        const nowMs = Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000);
        return (await redis.zcount(`${prefix}:_shared:ratelimit-fleet:{instances}`, nowMs, '+inf')) === PROCESSES;
      }, { timeoutMs: 20_000, message: `${PROCESSES} live heartbeat entries in Redis` });
    } finally {
      redis.disconnect();
    }
    await server.kill();
    children.forEach((c) => c.send('go'));
    const reports = await Promise.all(runs.map((r) => r.report));

    const answers = reports.flatMap((r) => r.answers);
    expect(answers).toHaveLength(PROCESSES * ATTEMPTS);
    expect(answers.every((a) => a.source === 'local')).toBe(true);
    expect(reports.map((r) => r.liveInstances)).toEqual(Array(PROCESSES).fill(PROCESSES));
    const admitted = answers.filter((a) => a.allowed).length;
    expect(admitted).toBeLessThanOrEqual(LIMIT + PROCESSES - 1);
    // every instance still admits its share: the fallback limits, it does not refuse
    expect(admitted).toBeGreaterThanOrEqual(LIMIT);
  }, 60_000);
});
