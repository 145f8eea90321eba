import { setTimeout as delay } from 'node:timers/promises';
import { Injectable } from '@nestjs/common';
import { LockService, TaskHandler, UnrecoverableTaskError, type TaskContext } from '@nest-coordination/core';
import { AGENT_STEP, AGENT_STEP_CONCURRENCY, type AgentStepPayload, type AgentStepResult } from './agent-step.task.js';
import { crewHistoryResource } from './crew-runner.service.js';

/**
 * Runs the agent steps of crew runs (AGENT_STEP tasks), `AGENT_STEP_CONCURRENCY` at once on each
 * instance, whichever instance enqueued them; each step runs in its company's tenant context.
 * The model call is simulated: `durationMs` of work, and a failure on the first `failures`
 * attempts (a flaky model API), which the queue retries with backoff until the attempts run out.
 *
 * A step works for its run only while the run's lock is the crew's newest: it checks the run's
 * fencing token against the crew's fence (`LockService.checkFence`, the fence a run raises when
 * it starts) before working and again before returning. Once a newer run of the crew has started
 * (the run's lock expired, or was taken over), the step fails for good (UnrecoverableTaskError
 * `superseded`, no retry): two runs of one crew never both have their agents' work done. Between
 * the last check and the return is one round trip, the same window `CrewRunner` documents.
 *
 * @example
 * // Registered by CrewsModule; TaskService runs it for every AGENT_STEP task:
 * await tasks.enqueue(AGENT_STEP, { runId, fencingToken, crewId, agentId: 'a-1', role: 'researcher', model: 'gpt-4o-mini', durationMs: 500, failures: 1 });
 */
@Injectable()
export class AgentStepWorker {
  constructor(private readonly locks: LockService) {}

  @TaskHandler(AGENT_STEP, { concurrency: AGENT_STEP_CONCURRENCY })
  async step(payload: AgentStepPayload, task: TaskContext): Promise<AgentStepResult> {
    await this.assertNewest(payload, task);
    // Stands in for the agent calling its model; the signal aborts when shutdown cuts the step off.
    await delay(payload.durationMs, undefined, { signal: task.signal });
    if (task.attempt <= payload.failures) {
      throw new Error(`simulated ${payload.model} error for agent ${payload.agentId} (attempt ${task.attempt} of ${task.attempts})`);
    }
    await this.assertNewest(payload, task);
    await task.progress(100);
    return { agentId: payload.agentId, model: payload.model, output: `(simulated ${payload.role} answer)`, attempt: task.attempt };
  }

  /** Throws UnrecoverableTaskError once a newer run of the crew has started (its fence is past this run's token). */
  private async assertNewest(payload: AgentStepPayload, task: TaskContext): Promise<void> {
    if (await this.locks.checkFence(crewHistoryResource(payload.crewId), payload.fencingToken, { tenant: task.tenant })) return;
    throw new UnrecoverableTaskError(
      `superseded: a newer run of crew "${payload.crewId}" has started (run ${payload.runId}, fencing token ${payload.fencingToken} is stale)`,
    );
  }
}
