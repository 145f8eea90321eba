import { setTimeout as delay } from 'node:timers/promises';
import { Injectable } from '@nestjs/common';
import { TaskHandler, type TaskContext } from '@nest-coordination/core';
import { AGENT_STEP, AGENT_STEP_CONCURRENCY, type AgentStepPayload, type AgentStepResult } from './agent-step.task.js';

/**
 * Runs the agent steps of crew runs (AGENT_STEP tasks), `AGENT_STEP_CONCURRENCY` at once on each
 * instance, whichever instance enqueued them; each step runs in its company's tenant context.
 * The model call is simulated: `durationMs` of work, and a failure on the first `failures`
 * attempts (a flaky model API), which the queue retries with backoff until the attempts run out.
 *
 * @example
 * // Registered by CrewsModule; TaskService runs it for every AGENT_STEP task:
 * await tasks.enqueue(AGENT_STEP, { runId, crewId, agentId: 'a-1', role: 'researcher', model: 'gpt-4o-mini', durationMs: 500, failures: 1 });
 */
@Injectable()
export class AgentStepWorker {
  @TaskHandler(AGENT_STEP, { concurrency: AGENT_STEP_CONCURRENCY })
  async step(payload: AgentStepPayload, task: TaskContext): Promise<AgentStepResult> {
    // Stands in for the agent calling its model; the signal aborts when shutdown cuts the step off.
    await delay(payload.durationMs, undefined, { signal: task.signal });
    if (task.attempt <= payload.failures) {
      throw new Error(`simulated ${payload.model} error for agent ${payload.agentId} (attempt ${task.attempt} of ${task.attempts})`);
    }
    await task.progress(100);
    return { agentId: payload.agentId, model: payload.model, output: `(simulated ${payload.role} answer)`, attempt: task.attempt };
  }
}
