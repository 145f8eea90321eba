import { jest } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { EventBus, TaskService, type CoordinationEvent } from '@nest-coordination/core';
import request from 'supertest';
import { AGENT_STEP, agentStepJobId } from '../../apps/demo/src/crews/agent-step.task.js';
import type { CrewRunResult } from '../../apps/demo/src/crews/crew-runner.service.js';
import type { CrewEventPayload } from '../../apps/demo/src/crews/crew.model.js';
import { until } from '../support/wait.js';
import { DEMO_BACKENDS, as, bootDemo, recordedRun } from './demo-test-app.js';

const ADA = as('u-ada', 'acme');
const BOB = as('u-bob', 'acme');
const HANK = as('u-hank', 'globex');

/** Collects the company's `crew.run.*` events seen through `app`'s EventBus until stopped. */
async function watchRuns(app: INestApplication, companyId: string): Promise<{ events: CoordinationEvent<CrewEventPayload>[]; stop(): void }> {
  const stream = app.get(EventBus).on<CrewEventPayload>('crew.run.*', { tenant: companyId });
  const events: CoordinationEvent<CrewEventPayload>[] = [];
  const subscription = stream.subscribe((event) => events.push(event));
  await stream.ready();
  return { events, stop: () => subscription.unsubscribe() };
}

const post = (app: INestApplication, headers: Record<string, string>, crewId: string, query: string) =>
  request(app.getHttpServer()).post(`/crews/${crewId}/runs?${query}`).set(headers).then((r) => r);

describe.each(DEMO_BACKENDS)('demo app: a crew run that ends by an error ($name)', (driver) => {
  let app: INestApplication;

  beforeAll(async () => {
    // Runs wait 1 s for their steps (not 300 s), so the timeout shows.
    ({ app } = await bootDemo(driver, { configure: (config) => ({ ...config, runs: { stepsTimeoutMs: 1_000 } }) }));
  });

  afterAll(async () => {
    await app?.close();
  });

  it('ends failed (recorded, crew.run.failed published) when waiting for its steps fails, and lets the crew run again', async () => {
    const tasks = app.get(TaskService);
    const watch = await watchRuns(app, 'acme');
    const waitFor = jest.spyOn(tasks, 'waitFor').mockRejectedValueOnce(new Error('simulated waitFor failure'));
    try {
      const res = await post(app, ADA, 'market-research', 'durationMs=0');
      expect(res.status).toBe(500);
      const failed = await until(() => watch.events.find((e) => e.channel === 'crew.run.failed'), { timeoutMs: 5_000, message: 'crew.run.failed' });
      expect(failed.payload.data).toMatchObject({ status: 'failed', recorded: true, reason: 'simulated waitFor failure' });
      const runId = (failed.payload.data as { runId: string }).runId;
      expect(await recordedRun(app, ADA, 'market-research', runId)).toMatchObject({ status: 'failed', triggeredBy: 'u-ada' });
      // No step of the run is left waiting: cancelled before it started, or run to its end.
      for (const agentId of ['a-1', 'a-2']) {
        expect(['completed', 'failed', undefined]).toContain((await tasks.get(`${AGENT_STEP.name}:${agentStepJobId(runId, agentId)}`, { tenant: 'acme' }))?.state);
      }
      expect((await post(app, ADA, 'market-research', 'durationMs=0')).body).toMatchObject({ status: 'succeeded' });
    } finally {
      waitFor.mockRestore();
      watch.stop();
    }
  });

  it('ends failed after stepsTimeoutMs and cancels its steps that have not started', async () => {
    const tasks = app.get(TaskService);
    // Two runs of 5 s steps fill this instance's 4 step slots (they time out too, their steps run on).
    const busy = [post(app, BOB, 'support-triage', 'durationMs=5000'), post(app, ADA, 'market-research', 'durationMs=5000')];
    await until(async () => (await tasks.list(AGENT_STEP, { tenant: 'acme', limit: 100 })).filter((t) => t.state === 'active').length === 4, {
      timeoutMs: 5_000, message: 'four steps running',
    });
    const res = await post(app, HANK, 'release-notes', 'durationMs=0');
    expect(res.status).toBe(201);
    const result = res.body as CrewRunResult;
    expect(result).toMatchObject({ status: 'failed', steps: [] });
    expect(result.reason).toEqual(expect.any(String));
    expect(await recordedRun(app, HANK, 'release-notes', result.id)).toMatchObject({ status: 'failed' });
    // Its steps never ran: they were still waiting for a slot, and were cancelled.
    for (const agentId of ['a-5', 'a-6']) {
      expect(await tasks.get(`${AGENT_STEP.name}:${agentStepJobId(result.id, agentId)}`, { tenant: 'globex' })).toBeNull();
    }
    for (const busyRun of await Promise.all(busy)) expect(busyRun.body).toMatchObject({ status: 'failed' });
  });
});
