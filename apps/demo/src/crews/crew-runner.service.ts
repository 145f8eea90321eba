import { randomUUID } from 'node:crypto';
import { ConflictException, Injectable, Logger } from '@nestjs/common';
import { LockService, WithLock, type Lock } from '@nest-coordination/core';
import type { AuthUser } from '../auth/auth-user.model.js';
import { CrewEventsService } from './crew-events.service.js';
import { CrewRunSteps, type RunWork, type StepsOutcome, type StepSummary } from './crew-run-steps.js';
import type { CrewDefinition, CrewRun } from './crew.model.js';

/** Lock key of a crew's runs, within the company's tenant. */
export const crewRunLockKey = (crewId: string): string => `crew-run:${crewId}`;

/** The resource a crew's run history is fenced as (`LockService.checkFence`), within the company's tenant. */
export const crewHistoryResource = (crewId: string): string => `crew-runs:${crewId}`;

/**
 * What `POST /crews/:crewId/runs` answers for a run that ran to its end: `succeeded` when every
 * agent step completed, `failed` when one failed for good; `steps` says how each went.
 */
export type CrewRunResult = CrewRun & { crewId: string; steps: StepSummary[]; reason?: string };

/**
 * Runs a crew: one run per crew at a time across every instance of the app. `@WithLock` takes
 * `crew-run:<crewId>` in the caller's company (the tenant context) without waiting, so a second
 * run meanwhile fails with LockTimeoutError, a 409 through CoordinationExceptionFilter. The lock
 * renews itself while the agents work (TTL `locks.defaultTtlMs`), and its fencing token travels
 * with the run's events and fences the crew's history: raised when the run starts, checked again
 * before the run's record is appended, so an older run still working is refused (409 `refused`).
 *
 * What the fence guarantees, and what it does not. `checkFence` (compare and raise, atomic in
 * Redis) and the append of the record (`XADD`) are two round trips, not one write:
 * - guaranteed: a run whose token is older than one a newer run has already presented (at its
 *   start or its end) is refused and appends no record, and the history never holds a record
 *   twice or a record changed by another run (records are keyed by run id);
 * - not guaranteed: that a stale run is absent from the history. A run that passed its final
 *   check appends a moment later; if, within that one round trip (a GC pause, a slow network),
 *   a newer run presents its token (its lock taken over after the old one expired), both runs
 *   end up in the history, each with its own fencing token, and neither is refused. The window
 *   is the time between the final check and the append, not the run's length: a newer run whose
 *   first check comes before the old run's final check fences the old one out.
 * Closing it would need the write itself to compare the token (see `fence`); an append to a
 * stream cannot, and the history is written later from the stream by `CrewRunHistory`.
 *
 * The agents' work is a task per agent (AGENT_STEP, see `CrewRunSteps`), enqueued in the
 * company's tenant and run by `AgentStepWorker` on any instance, with retries; the run waits for
 * them and ends `succeeded` when every step completed, `failed` (recorded) when one failed for good.
 *
 * Each run appends `crew.run.started`, then `crew.run.completed` or `crew.run.failed`, to the
 * company's durable crew event stream (CREW_RUN_EVENTS), and publishes them on the EventBus for
 * live listeners (SSE). The terminal event is the run's record: `CrewRunHistory` writes the crew's
 * history from the stream, so every instance shows the same history.
 *
 * The work stops as soon as `lock.signal` aborts: when the lock is lost (not renewed in time,
 * taken over after expiry) or the instance shuts down (the library aborts held locks' signals
 * and waits for their sections to return before releasing). Such a run is recorded as
 * `aborted`, `crew.run.failed` is published, and the caller gets the signal's reason
 * (LockLostError: 409 `E_LOCK_LOST`; LockShutdownError: 503 `E_LOCK_SHUTDOWN`). Any other error
 * while the steps run (waiting for them failed) ends the run likewise, as `failed`, and reaches
 * the caller: a run never stays started. Either way its steps not started yet are cancelled, and
 * the ones running stop at their next fence check once a newer run has started (`AgentStepWorker`).
 */
@Injectable()
export class CrewRunner {
  private readonly logger = new Logger('CrewRunner');

  constructor(private readonly events: CrewEventsService, private readonly locks: LockService, private readonly steps: CrewRunSteps) {}

  @WithLock((crew: CrewDefinition) => crewRunLockKey(crew.id), { waitMs: 0 })
  async run(crew: CrewDefinition, user: AuthUser, work: RunWork): Promise<CrewRunResult> {
    // The lock @WithLock holds for this call: its fencing token travels with the run.
    const lock = this.locks.current();
    if (!lock) throw new Error(`CrewRunner.run called without holding "${crewRunLockKey(crew.id)}"`);
    const run = { id: randomUUID(), startedAt: new Date().toISOString(), triggeredBy: user.id, fencingToken: lock.fencingToken };
    // Raise the crew's fence to this run's token now, not only when it records: a stale holder
    // (its lock expired, unnoticed) that finishes while this run still works is then refused.
    if (!(await this.fence(crew, lock))) {
      await this.failed(crew, run, { status: 'refused', recorded: false, reason: REFUSED });
      throw this.refusal(crew, run);
    }
    await this.events.appendRun({ type: 'crew.run.started', ...facts(crew, run), at: new Date(run.startedAt) });
    await this.events.publish(crew.companyId, {
      crewId: crew.id, type: 'run.started', data: { runId: run.id, fencingToken: run.fencingToken, triggeredBy: user.id, durationMs: work.durationMs },
    });
    let outcome: StepsOutcome;
    try {
      // One task per agent, run on any instance; waiting for them stops when the signal aborts.
      outcome = await this.steps.run(crew, { id: run.id, fencingToken: run.fencingToken }, work, lock.signal);
      lock.signal.throwIfAborted();
    } catch (error) {
      // Never left started: the run ends `aborted` (its signal) or `failed` (any other error), recorded if still the newest.
      const aborted = lock.signal.aborted;
      const reason = aborted ? lock.signal.reason : error;
      await this.ended(crew, { ...run, finishedAt: new Date().toISOString() }, lock, { status: aborted ? 'aborted' : 'failed', reason: messageOf(reason) });
      throw reason;
    }
    const finished = { ...run, status: outcome.status, finishedAt: new Date().toISOString() };
    if (!(await this.fence(crew, lock))) {
      await this.failed(crew, finished, { status: 'refused', recorded: false, reason: REFUSED });
      throw this.refusal(crew, run);
    }
    // The run's record: CrewRunHistory writes it to the crew's history from this event.
    const at = new Date(finished.finishedAt);
    if (outcome.status === 'failed') {
      const reason = outcome.reason ?? 'an agent step failed';
      await this.events.appendRun({ type: 'crew.run.failed', ...facts(crew, run), status: 'failed', recorded: true, error: reason, at });
      await this.events.publish(crew.companyId, {
        crewId: crew.id, type: 'run.failed', data: { runId: run.id, fencingToken: run.fencingToken, status: 'failed', recorded: true, reason },
      });
      return { crewId: crew.id, ...finished, steps: outcome.steps, reason };
    }
    await this.events.appendRun({ type: 'crew.run.completed', ...facts(crew, run), durationMs: at.getTime() - Date.parse(run.startedAt), at });
    await this.events.publish(crew.companyId, {
      crewId: crew.id, type: 'run.completed', data: { runId: finished.id, fencingToken: run.fencingToken, status: finished.status, finishedAt: finished.finishedAt },
    });
    return { crewId: crew.id, ...finished, steps: outcome.steps };
  }

  /**
   * Whether the run's fencing token is still the newest the crew's history has seen, on any
   * instance; raises the crew's fence to it. `checkFence` compares and raises atomically in
   * Redis. Checked when the run starts (so a newer run fences older ones out at once, not when
   * it finishes) and again right before the record is appended: one round trip apart from the
   * append, the window the class documentation describes. With a database of its own, the
   * history's write would check it itself, closing that window:
   * `UPDATE crews SET fence = $token, ... WHERE id = $id AND fence <= $token`.
   */
  private fence(crew: CrewDefinition, lock: Lock): Promise<boolean> {
    return this.locks.checkFence(crewHistoryResource(crew.id), lock.fencingToken, { tenant: lock.tenant });
  }

  private refusal(crew: CrewDefinition, run: Pick<CrewRun, 'id' | 'fencingToken'>): ConflictException {
    return new ConflictException({
      statusCode: 409, error: 'Conflict', outcome: 'refused', crewId: crew.id, runId: run.id, fencingToken: run.fencingToken,
      message: `Run ${run.id} of crew "${crew.id}" was refused: a newer run of the crew has started (fencing token ${run.fencingToken} is stale)`,
    });
  }

  /**
   * Records a run that ended before its steps did (`aborted`, or `failed` by an error), if still
   * the newest, and tells the company; never throws, so the reason reaches the caller.
   */
  private async ended(crew: CrewDefinition, run: RunStart & { finishedAt: string }, lock: Lock, outcome: { status: 'aborted' | 'failed'; reason: string }): Promise<void> {
    const newest = await this.fence(crew, lock).catch((error: unknown) => {
      this.logger.warn(`Could not check the fence of ${outcome.status} run ${run.id} of crew "${crew.id}": ${messageOf(error)}`);
      return false;
    });
    await this.failed(crew, run, { ...outcome, recorded: newest });
  }

  /**
   * Appends `crew.run.failed` to the stream (with `recorded: true`, the ended run's record) and
   * publishes it; never throws. `recorded` is published true only once the record was appended.
   */
  private async failed(crew: CrewDefinition, run: RunStart & { finishedAt?: string }, outcome: { status: 'aborted' | 'refused' | 'failed'; recorded: boolean; reason: string }): Promise<void> {
    const { status, reason } = outcome;
    const at = new Date(run.finishedAt ?? Date.now());
    const recorded = await this.events.appendRun({ type: 'crew.run.failed', ...facts(crew, run), status, recorded: outcome.recorded, error: reason, at }).then(
      () => outcome.recorded,
      (error: unknown) => {
        this.logger.warn(`Could not append crew.run.failed for run ${run.id} of crew "${crew.id}": ${messageOf(error)}`);
        return false;
      },
    );
    try {
      await this.events.publish(crew.companyId, {
        crewId: crew.id, type: 'run.failed', data: { runId: run.id, fencingToken: run.fencingToken, status, recorded, reason },
      });
    } catch (error) {
      this.logger.warn(`Could not publish crew.run.failed for run ${run.id} of crew "${crew.id}": ${messageOf(error)}`);
    }
  }
}

/** Why a run is refused: its fencing token is stale. */
const REFUSED = 'a newer run of the crew has started';

/** What a run is when it starts. */
type RunStart = Pick<CrewRun, 'id' | 'startedAt' | 'triggeredBy'> & { fencingToken: number };

/** The fields every run event of the stream carries. */
function facts(crew: CrewDefinition, run: RunStart) {
  return { crewId: crew.id, companyId: crew.companyId, runId: run.id, triggeredBy: run.triggeredBy, fencingToken: run.fencingToken, startedAt: run.startedAt };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
