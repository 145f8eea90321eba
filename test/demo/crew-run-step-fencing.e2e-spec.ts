import type { INestApplication } from '@nestjs/common';
import { TaskService } from '@nest-coordination/core';
import request from 'supertest';
import { AGENT_STEP, agentStepJobId } from '../../apps/demo/src/crews/agent-step.task.js';
import { CoordinationCore } from '../support/internals.js';
import { REDIS_DRIVERS, uniquePrefix } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { as, bootDemo } from './demo-test-app.js';

const ADA = as('u-ada', 'acme');
const BOB = as('u-bob', 'acme');

describe.each(REDIS_DRIVERS.filter((d) => d.name === 'standalone'))('demo app: the agent steps of a superseded run ($name)', (driver) => {
  let first: INestApplication;
  let second: INestApplication;

  beforeAll(async () => {
    // Two instances of one deployment; the first does not renew its locks, so it does not notice
    // its lock vanish before its run ends. Agent steps still running at shutdown are cut off after 1 s.
    const prefix = uniquePrefix('demo');
    const tasks = { shutdownTimeoutMs: 1_000 };
    first = (await bootDemo(driver, {
      prefix, configure: (config) => ({ ...config, coordination: { ...config.coordination, locks: { autoRenew: false }, tasks } }),
    })).app;
    second = (await bootDemo(driver, { prefix, configure: (config) => ({ ...config, coordination: { ...config.coordination, tasks } }) })).app;
  });

  afterAll(async () => {
    await first?.close();
    await second?.close();
  });

  it('do not complete once a newer run of the crew holds the lock: they fail as superseded, without retries', async () => {
    const tasks = first.get(TaskService);
    // 3 s of work per step: ample for the newer run below, which takes milliseconds, to start and end meanwhile.
    const stale = request(first.getHttpServer()).post('/crews/market-research/runs?durationMs=3000').set(ADA).then((r) => r);
    const working = await until(async () => {
      const active = (await tasks.list(AGENT_STEP, { tenant: 'acme', limit: 100 })).filter((t) => t.state === 'active' && t.payload.crewId === 'market-research');
      return active.length === 2 ? active : undefined;
    }, { timeoutMs: 5_000, message: 'the stale run\'s two steps to be running' });
    const staleRunId = working[0].payload.runId;

    // The stale run's lock vanishes (it stalled past its TTL): a newer run takes the crew and ends.
    const core = first.get(CoordinationCore);
    expect(await core.connection!.client.del(core.keys.key('acme', 'lock', 'crew-run:market-research'))).toBe(1);
    const fresh = await request(second.getHttpServer()).post('/crews/market-research/runs?durationMs=0').set(BOB).expect(201);
    expect(fresh.body).toMatchObject({ status: 'succeeded' });

    expect((await stale).body).toMatchObject({ outcome: 'refused', runId: staleRunId });
    for (const agentId of ['a-1', 'a-2']) {
      const step = await tasks.waitFor(`${AGENT_STEP.name}:${agentStepJobId(staleRunId, agentId)}`, { tenant: 'acme', timeoutMs: 10_000 });
      expect(step).toMatchObject({ state: 'failed', attemptsMade: 1 });
      expect(step.failedReason).toContain('superseded');
      expect(step.result).toBeUndefined();
    }
  });
});
