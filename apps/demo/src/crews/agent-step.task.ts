import { defineTask } from '@nest-coordination/core';

/**
 * What one agent step of a crew run gets: the run (with the fencing token of its lock), the agent,
 * and how the simulated model call behaves (`durationMs` of work; the first `failures` attempts
 * fail, so retries show).
 *
 * @example
 * const payload: AgentStepPayload = { runId, fencingToken: lock.fencingToken, crewId: 'market-research', agentId: 'a-1', role: 'researcher', model: 'gpt-4o-mini', durationMs: 2_000, failures: 0 };
 */
export interface AgentStepPayload {
  runId: string;
  /**
   * Fencing token of the run's `crew-run:<crewId>` lock: the step works only while it is still
   * the newest the crew has seen (`AgentStepWorker`), so the steps of a superseded run stop.
   */
  fencingToken: number;
  crewId: string;
  agentId: string;
  role: string;
  model: string;
  durationMs: number;
  failures: number;
}

/**
 * What a completed agent step returns (the task's result).
 *
 * @example
 * const { output } = (await tasks.get(id))?.result as AgentStepResult;
 */
export interface AgentStepResult {
  agentId: string;
  model: string;
  output: string;
  /** The attempt that succeeded, 1 for the first. */
  attempt: number;
}

/**
 * The task of one agent's step in a crew run: a crew run enqueues one per agent, in the company's
 * tenant, and `AgentStepWorker` runs them.
 *
 * @example
 * await tasks.enqueue(AGENT_STEP, payload, { tenant: 'acme', jobId: agentStepJobId(runId, 'a-1') });
 */
export const AGENT_STEP = defineTask<AgentStepPayload, AgentStepResult>('crew.agent-step');

/**
 * Attempts of an agent step (the first included) and the wait between them: 0.5 s, then 1 s.
 *
 * @example
 * await tasks.enqueue(AGENT_STEP, payload, { ...AGENT_STEP_RETRIES, tenant });
 */
export const AGENT_STEP_RETRIES = { attempts: 3, backoff: { type: 'exponential', delayMs: 500 } } as const;

/**
 * Agent steps one instance of the demo runs at once (every company's together).
 *
 * @example
 * @TaskHandler(AGENT_STEP, { concurrency: AGENT_STEP_CONCURRENCY })
 */
export const AGENT_STEP_CONCURRENCY = 4;

/**
 * The job id of an agent's step in a run: one step per agent and run. Every request starts a new
 * run (a new run id), so a retried request enqueues new steps; the id only keeps one run from
 * enqueuing an agent's step twice, and makes a step easy to find from its run.
 *
 * @example
 * agentStepJobId('0b6f…', 'a-1'); // '0b6f….a-1'
 */
export function agentStepJobId(runId: string, agentId: string): string {
  return `${runId}.${agentId}`;
}
