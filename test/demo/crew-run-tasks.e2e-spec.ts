import type { INestApplication } from '@nestjs/common';
import { EventBus, type CoordinationEvent, type TaskInfo } from '@nest-coordination/core';
import request from 'supertest';
import { AGENT_STEP, AGENT_STEP_RETRIES, agentStepJobId } from '../../apps/demo/src/crews/agent-step.task.js';
import type { CrewRunResult } from '../../apps/demo/src/crews/crew-runner.service.js';
import type { CrewEventPayload } from '../../apps/demo/src/crews/crew.model.js';
import type { TaskQueueView } from '../../apps/demo/src/tasks/tasks.controller.js';
import { until } from '../support/wait.js';
import { DEMO_BACKENDS, as, bootDemo, recordedRun } from './demo-test-app.js';

// Each test runs as its own user and crew: per-user run quotas (5 a minute) are shared by the file.
const ADA = as('u-ada', 'acme');
const BOB = as('u-bob', 'acme');
const CLEO = as('u-cleo', 'acme');
const HANK = as('u-hank', 'globex');

/** A task as GET /tasks answers it (JSON: dates as strings). */
type TaskJson = Omit<TaskInfo, 'enqueuedAt' | 'runAt' | 'startedAt' | 'finishedAt'> & {
  payload: { runId: string; agentId: string };
  enqueuedAt: string;
  startedAt?: string;
};

describe.each(DEMO_BACKENDS)('demo app: a crew run\'s agent steps are tasks ($name)', (driver) => {
  let app: INestApplication;

  beforeAll(async () => {
    ({ app } = await bootDemo(driver));
  });

  afterAll(async () => {
    await app?.close();
  });

  const run = (headers: Record<string, string>, crewId: string, query: string) =>
    request(app.getHttpServer()).post(`/crews/${crewId}/runs?${query}`).set(headers);
  const queue = async (headers: Record<string, string>, query = ''): Promise<TaskQueueView & { recent: TaskJson[] }> => {
    const res = await request(app.getHttpServer()).get(`/tasks${query}`).set(headers).expect(200);
    const queues = res.body.queues as Array<TaskQueueView & { recent: TaskJson[] }>;
    expect(queues.map((q) => q.name)).toEqual([AGENT_STEP.name]);
    return queues[0];
  };
  const stepsOf = (view: { recent: TaskJson[] }, runId: string) =>
    view.recent.filter((task) => task.payload.runId === runId).sort((a, b) => a.payload.agentId.localeCompare(b.payload.agentId));

  it('enqueues one task per agent in the company; the run completes once they all did, and GET /tasks shows them to the company only', async () => {
    const res = await run(ADA, 'market-research', 'durationMs=0').expect(201);
    const result = res.body as CrewRunResult;
    expect(result).toMatchObject({ crewId: 'market-research', status: 'succeeded', triggeredBy: 'u-ada' });
    expect(result.steps).toEqual([
      { taskId: `${AGENT_STEP.name}:${agentStepJobId(result.id, 'a-1')}`, agentId: 'a-1', state: 'completed', attemptsMade: 1, attempts: 3 },
      { taskId: `${AGENT_STEP.name}:${agentStepJobId(result.id, 'a-2')}`, agentId: 'a-2', state: 'completed', attemptsMade: 1, attempts: 3 },
    ]);

    const acme = await queue(ADA);
    expect(acme.depth).toBe(0);
    const steps = stepsOf(acme, result.id);
    expect(steps).toHaveLength(2);
    expect(steps[0]).toMatchObject({
      id: result.steps[0].taskId, name: AGENT_STEP.name, jobId: agentStepJobId(result.id, 'a-1'), tenant: 'acme', state: 'completed', attemptsMade: 1, progress: 100,
      payload: { runId: result.id, crewId: 'market-research', agentId: 'a-1', model: 'gpt-4o-mini' },
      result: { agentId: 'a-1', output: '(simulated researcher answer)', attempt: 1 },
    });
    expect(steps[1]).toMatchObject({ tenant: 'acme', state: 'completed', payload: { agentId: 'a-2' } });
    expect(await recordedRun(app, ADA, 'market-research', result.id)).toMatchObject({ status: 'succeeded' });

    // Globex shares the queue, not the tasks: none of acme's, and its own run's steps only.
    expect(stepsOf(await queue(HANK), result.id)).toEqual([]);
    const globexRun = (await run(HANK, 'market-research', 'durationMs=0').expect(201)).body as CrewRunResult;
    const globex = await queue(HANK);
    expect(stepsOf(globex, globexRun.id).map((t) => [t.tenant, t.payload.agentId])).toEqual([['globex', 'a-8']]);
    expect(globex.recent.every((task) => task.tenant === 'globex')).toBe(true);
    expect(stepsOf(await queue(ADA), globexRun.id)).toEqual([]);
  });

  it('retries a failed agent step with backoff: the run succeeds on the second attempts', async () => {
    const res = await run(BOB, 'support-triage', 'durationMs=0&failures=1').expect(201);
    const result = res.body as CrewRunResult;
    expect(result.status).toBe('succeeded');
    expect(result.steps.map((s) => [s.agentId, s.state, s.attemptsMade])).toEqual([['a-3', 'completed', 2], ['a-4', 'completed', 2]]);
    const steps = stepsOf(await queue(BOB), result.id);
    expect(steps.map((t) => [t.state, t.attemptsMade, (t.result as { attempt: number }).attempt])).toEqual([['completed', 2, 2], ['completed', 2, 2]]);
    // The second attempt waited out the backoff after the first failed (a lower bound on the delay, not a timing).
    for (const step of steps) {
      expect(Date.parse(step.startedAt!)).toBeGreaterThanOrEqual(Date.parse(step.enqueuedAt) + AGENT_STEP_RETRIES.backoff.delayMs);
    }
  });

  it('fails the run when an agent step exhausts its attempts: recorded as failed, crew.run.failed published, the reason in GET /tasks', async () => {
    const stream = app.get(EventBus).on<CrewEventPayload>('crew.run.*', { tenant: 'globex' });
    const events: CoordinationEvent<CrewEventPayload>[] = [];
    const subscription = stream.subscribe((event) => events.push(event));
    try {
      await stream.ready();
      const res = await run(HANK, 'release-notes', 'durationMs=0&failures=3').expect(201);
      const result = res.body as CrewRunResult;
      expect(result).toMatchObject({ crewId: 'release-notes', status: 'failed', triggeredBy: 'u-hank' });
      expect(result.reason).toContain('simulated');
      expect(result.steps.map((s) => [s.agentId, s.state, s.attemptsMade])).toEqual([['a-5', 'failed', 3], ['a-6', 'failed', 3]]);
      expect(result.steps[0].failedReason).toBe('simulated claude-sonnet error for agent a-5 (attempt 3 of 3)');

      await until(() => events.some((e) => e.channel === 'crew.run.failed'), { timeoutMs: 5_000, message: 'crew.run.failed' });
      expect(events.map((e) => e.channel)).toEqual(['crew.run.started', 'crew.run.failed']);
      expect(events[1].payload.data).toMatchObject({ runId: result.id, status: 'failed', recorded: true });
      expect(await recordedRun(app, HANK, 'release-notes', result.id)).toMatchObject({ status: 'failed', fencingToken: result.fencingToken });

      const steps = stepsOf(await queue(HANK), result.id);
      expect(steps.map((t) => [t.state, t.attemptsMade, t.failedReason])).toEqual([
        ['failed', 3, 'simulated claude-sonnet error for agent a-5 (attempt 3 of 3)'],
        ['failed', 3, 'simulated gpt-4o error for agent a-6 (attempt 3 of 3)'],
      ]);
    } finally {
      subscription.unsubscribe();
    }
  });

  it('answers 400 for out-of-range failures and limit, 400 without a company', async () => {
    // A plain integer 0..3 only: not empty, hexadecimal or exponent notation (Number() would read them). Two users: 5 runs a minute each.
    for (const [user, failures] of [[BOB, '-1'], [BOB, '4'], [BOB, 'often'], [BOB, ''], [CLEO, '0x2'], [CLEO, '1e0'], [CLEO, '1.0']] as const) {
      const res = await run(user, 'support-triage', `failures=${failures}`).expect(400);
      expect(JSON.stringify(res.body.message)).toContain('failures');
    }
    for (const limit of ['0', '101']) await request(app.getHttpServer()).get(`/tasks?limit=${limit}`).set(BOB).expect(400);
    // The company has run steps before: a page of one holds exactly one.
    expect((await queue(BOB, '?limit=1')).recent).toHaveLength(1);
    await request(app.getHttpServer()).get('/tasks').set({ 'x-user-id': 'u-bob' }).expect(400);
  });
});
