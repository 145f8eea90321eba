import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { testRedisUrl } from '../harness/env.js';
import { uniquePrefix } from '../support/drivers.js';
import { assertFreshBuild } from '../support/stale-build.js';

// Separate processes, each an HTTP app with the real @nestjs/throttler guard loaded natively and
// the built `@nest-coordination/core/throttler` storage, on one Redis: requests fired at all of
// them at once are admitted exactly `limit` times in total.

const CHILD = fileURLToPath(new URL('./children/throttled-app.child.mjs', import.meta.url));
const PROCESSES = 3;
const LIMIT = 7;

describe('CoordinationThrottlerStorage in several processes', () => {
  const children: ChildProcess[] = [];
  const ports: number[] = [];

  beforeAll(async () => {
    assertFreshBuild('rate-limit', 'the throttled app processes');
    const options = JSON.stringify({ redisUrl: testRedisUrl(), prefix: uniquePrefix('thrp'), limit: LIMIT, ttl: 60_000 });
    for (let i = 0; i < PROCESSES; i++) children.push(fork(CHILD, [options], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    for (const child of children) {
      const [message] = (await once(child, 'message')) as [{ port: number }];
      ports.push(message.port);
    }
  }, 60_000);
  afterAll(async () => {
    await Promise.all(children.map(async (child) => {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill();
      await exited;
    }));
  });

  it('admits exactly `limit` of parallel requests spread over every process', async () => {
    const statuses = await Promise.all(Array.from({ length: 60 }, async (_, i) => {
      const response = await fetch(`http://127.0.0.1:${ports[i % PROCESSES]}/page`, { headers: { 'x-client': 'everyone' } });
      await response.arrayBuffer();
      return response.status;
    }));
    expect(statuses.filter((s) => s === 200)).toHaveLength(LIMIT);
    expect(statuses.filter((s) => s === 429)).toHaveLength(60 - LIMIT);
  });
});
