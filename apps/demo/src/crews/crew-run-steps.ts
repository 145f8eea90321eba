import { Inject, Injectable, Logger } from '@nestjs/common';
import { TaskService, TaskStateError, TaskTimeoutError, type TaskInfo } from '@nest-coordination/core';
import { AGENT_STEP, AGENT_STEP_RETRIES, agentStepJobId, type AgentStepPayload, type AgentStepResult } from './agent-step.task.js';
import type { CrewDefinition } from './crew.model.js';

/**
 * How the agents of a run work (simulated): each step's duration, and how many of its first
 * attempts fail.
 *
 * @example
 * await steps.run(crew, { id: runId, fencingToken: lock.fencingToken }, { durationMs: 2_000, failures: 1 }, lock.signal);
 */
export interface RunWork {
  durationMs: number;
  failures: number;
}

/**
 * One agent step of a run as it ended (what `POST /crews/:crewId/runs` answers in `steps`).
 *
 * @example
 * const step: StepSummary = { taskId: 'crew.agent-step:…', agentId: 'a-1', state: 'completed', attemptsMade: 2, attempts: 3 };
 */
export interface StepSummary {
  taskId: string;
  agentId: string;
  state: TaskInfo['state'];
  attemptsMade: number;
  attempts: number;
  failedReason?: string;
}

/**
 * The end of a run's steps: `succeeded` when every step completed, `failed` when one failed for
 * good (its attempts exhausted), with the first such step's reason.
 *
 * @example
 * if (outcome.status === 'failed') logger.warn(outcome.reason);
 */
export type StepsOutcome = { status: 'succeeded' | 'failed'; steps: StepSummary[]; reason?: string };

/**
 * Default of `CrewRunsConfig.stepsTimeoutMs`, the longest a run waits for its steps. They run on
 * any instance; one whose worker died is taken up again once its lock expires
 * (`tasks.lockDurationMs`, 30 s), so this leaves room for that and for the retries of 30 s steps.
 *
 * @example
 * const config = { ...demoConfigFromEnv(), runs: { stepsTimeoutMs: DEFAULT_RUN_STEPS_TIMEOUT_MS } };
 */
export const DEFAULT_RUN_STEPS_TIMEOUT_MS = 300_000;

/**
 * How crew runs wait for their agent steps.
 *
 * @example
 * const runs: CrewRunsConfig = { stepsTimeoutMs: 1_000 }; // a test's quick timeout
 */
export interface CrewRunsConfig {
  /** Longest a run waits for its steps; then the run ends `failed` and its steps not started yet are cancelled. */
  stepsTimeoutMs: number;
}

/**
 * Injection token of the demo's `CrewRunsConfig`.
 *
 * @example
 * providers: [{ provide: CREW_RUNS_CONFIG, useValue: { stepsTimeoutMs: DEFAULT_RUN_STEPS_TIMEOUT_MS } }, CrewRunSteps]
 */
export const CREW_RUNS_CONFIG = Symbol('CREW_RUNS_CONFIG');

/**
 * The run the steps work for: its id and the fencing token of its lock (each step carries it).
 *
 * @example
 * const run: StepsRun = { id: runId, fencingToken: lock.fencingToken };
 */
export type StepsRun = { id: string; fencingToken: number };

/**
 * The agent steps of a crew run, as tasks: one AGENT_STEP per agent, enqueued in the crew's
 * company (the tenant), run by `AgentStepWorker` on any instance with retries, and waited for.
 *
 * @example
 * const outcome = await steps.run(crew, { id: run.id, fencingToken: lock.fencingToken }, { durationMs: 0, failures: 0 }, lock.signal); // { status: 'succeeded', steps: [...] }
 */
@Injectable()
export class CrewRunSteps {
  private readonly logger = new Logger('CrewRunSteps');

  constructor(private readonly tasks: TaskService, @Inject(CREW_RUNS_CONFIG) private readonly config: CrewRunsConfig) {}

  /**
   * Enqueues the steps, each carrying the run's fencing token (a step of a superseded run stops:
   * `AgentStepWorker`), and resolves once every one completed or failed for good. When waiting
   * ends otherwise, the steps not started yet are cancelled first (the ones running finish on
   * their own, unused): after `stepsTimeoutMs` this resolves `failed`; when `signal` aborts (the
   * run's lock lost, or shutdown) it rejects with the signal's reason; on any other error
   * (waiting failed: Redis unavailable, ...) it rejects with that error.
   */
  async run(crew: CrewDefinition, run: StepsRun, work: RunWork, signal: AbortSignal): Promise<StepsOutcome> {
    const tenant = crew.companyId;
    const items = crew.agents.map((agent) => ({
      payload: {
        runId: run.id, fencingToken: run.fencingToken, crewId: crew.id, agentId: agent.id, role: agent.role, model: agent.model, ...work,
      } satisfies AgentStepPayload,
      jobId: agentStepJobId(run.id, agent.id),
      ...AGENT_STEP_RETRIES,
    }));
    const enqueued = await this.tasks.enqueueMany(AGENT_STEP, items, { tenant });
    const waits = enqueued.map((task) => this.tasks.waitFor(task.id, { tenant, timeoutMs: this.config.stepsTimeoutMs }));
    let finished: TaskInfo<AgentStepPayload, AgentStepResult>[];
    try {
      finished = await untilAborted(Promise.all(waits), signal);
    } catch (error) {
      await this.cancelWaiting(enqueued);
      if (!signal.aborted && error instanceof TaskTimeoutError) return { status: 'failed', steps: [], reason: error.message };
      throw error;
    }
    const steps = finished.map(summary);
    const failed = steps.find((step) => step.state !== 'completed');
    return failed ? { status: 'failed', steps, reason: `agent ${failed.agentId}: ${failed.failedReason ?? failed.state}` } : { status: 'succeeded', steps };
  }

  /** Cancels the steps not started yet; one that started meanwhile (TaskStateError) runs to its end. */
  private async cancelWaiting(tasks: readonly TaskInfo[]): Promise<void> {
    await Promise.all(tasks.map((task) => this.tasks.cancel(task.id, { tenant: task.tenant }).catch((error: unknown) => {
      if (!(error instanceof TaskStateError)) this.logger.warn(`Could not cancel step ${task.id}: ${error instanceof Error ? error.message : String(error)}`);
    })));
  }
}

/** The step as `POST /crews/:crewId/runs` shows it. */
function summary(task: TaskInfo<AgentStepPayload, AgentStepResult>): StepSummary {
  const { id: taskId, payload, state, attemptsMade, attempts, failedReason } = task;
  return { taskId, agentId: payload.agentId, state, attemptsMade, attempts, ...(failedReason === undefined || state === 'completed' ? {} : { failedReason }) };
}

/**
 * `work`, or a rejection with `signal.reason` as soon as the signal aborts; `work`'s own later
 * rejection is then ignored (not left unhandled).
 */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      work.catch(() => undefined);
      reject(signal.reason);
    };
    signal.addEventListener('abort', abort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}
