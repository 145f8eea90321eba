import { fileURLToPath } from 'node:url';
import { Cluster, Redis } from 'ioredis';
import { testClusterNodes, testRedisUrl } from '../harness/env.js';
import { forkWorker, killWorker, type WorkerProcess } from '../locks/worker-process.js';
import { REDIS_DRIVERS, uniquePrefix } from '../support/drivers.js';
import { assertFreshBuild } from '../support/stale-build.js';

// Children import @nest-coordination/core from libs/coordination/dist (`npm run build:lib`).
const CHILD = fileURLToPath(new URL('./children/idempotent-app.child.mjs', import.meta.url));
const PROCESSES = 4;
/** How long each handler holds its request: every duplicate arrives while the first one runs. */
const HOLD_MS = 1_000;

/**
 * Four application processes (each its own Nest app and CoordinationModule on one Redis) get
 * the same idempotent request with the same key at once: the handler runs once in the whole
 * fleet, and all four answer with the same status and byte-identical bodies (three of them
 * replays). The memory driver's version of this invariant (four concurrent requests in one
 * app) is in idempotent-http.e2e-spec.ts.
 */
describe.each(REDIS_DRIVERS)('the same idempotent request to 4 processes at once ($name)', (driver) => {
  const workers: WorkerProcess[] = [];
  let redis: Redis | Cluster;
  beforeAll(() => {
    assertFreshBuild('idempotency', 'the app processes');
    redis = driver.name === 'cluster' ? new Cluster(testClusterNodes()) : new Redis(testRedisUrl());
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map(killWorker));
  });
  afterAll(() => redis?.disconnect());

  it('runs the handler once; every process answers with the same status and body', async () => {
    const prefix = uniquePrefix('idemfleet');
    const keys = `${prefix}:{test}`;
    const cluster = driver.name === 'cluster' ? { cluster: testClusterNodes() } : {};
    workers.push(...Array.from({ length: PROCESSES }, () => forkWorker(CHILD, { ...cluster, prefix, keys, holdMs: HOLD_MS })));
    const ports = (await Promise.all(workers.map((w) => w.next('ready')))).map((m) => m.port as number);
    const send = (port: number) =>
      fetch(`http://127.0.0.1:${port}/runs`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Idempotency-Key': 'crew-7-run' },
        body: JSON.stringify({ crew: 7, note: 'nightly' }),
      }).then(async (r) => ({ status: r.status, body: Buffer.from(await r.arrayBuffer()), replayed: r.headers.get('idempotent-replayed') }));
    const responses = await Promise.all(ports.map(send));
    expect(await redis.get(`${keys}:runs`)).toBe('1');
    for (const response of responses) {
      expect(response.status).toBe(201);
      expect(response.body.equals(responses[0].body)).toBe(true);
    }
    expect(JSON.parse(responses[0].body.toString('utf8'))).toMatchObject({ run: 1, body: { crew: 7, note: 'nightly' } });
    expect(responses.filter((r) => r.replayed === 'true')).toHaveLength(PROCESSES - 1);
    expect(responses.filter((r) => r.replayed === null)).toHaveLength(1);
  }, 60_000);
});
