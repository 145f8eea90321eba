import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { ConflictException, Injectable, Logger } from '@nestjs/common';
import { LockService, WithLock, type Lock } from '@nest-coordination/core';
import type { AuthUser } from '../auth/auth-user.model.js';
import { CrewEventsService } from './crew-events.service.js';
import type { Crew, CrewRun } from './crew.model.js';
import { CrewsService } from './crews.service.js';

/** Lock key of a crew's runs, within the company's tenant. */
export const crewRunLockKey = (crewId: string): string => `crew-run:${crewId}`;

/** The resource a crew's run history is fenced as (`LockService.checkFence`), within the company's tenant. */
export const crewHistoryResource = (crewId: string): string => `crew-runs:${crewId}`;

/** What `POST /crews/:crewId/runs` answers for a run that ran to its end. */
export type CrewRunResult = CrewRun & { crewId: string };

/**
 * Runs a crew: one run per crew at a time across every instance of the app. `@WithLock` takes
 * `crew-run:<crewId>` in the caller's company (the tenant context) without waiting, so a second
 * run meanwhile fails with LockTimeoutError, a 409 through CoordinationExceptionFilter. The lock
 * renews itself while the agents work (TTL `locks.defaultTtlMs`), and its fencing token travels
 * with the run's events and fences the crew's history: raised when the run starts, checked again
 * before the run record is written, so an older run still working is refused (409 `refused`).
 *
 * The work stops as soon as `lock.signal` aborts: when the lock is lost (not renewed in time,
 * taken over after expiry) or the instance shuts down (the library aborts held locks' signals
 * and waits for their sections to return before releasing). Such a run is recorded as
 * `aborted`, `crew.run.failed` is published, and the caller gets the signal's reason
 * (LockLostError: 409 `E_LOCK_LOST`; LockShutdownError: 503 `E_LOCK_SHUTDOWN`).
 */
@Injectable()
export class CrewRunner {
  private readonly logger = new Logger('CrewRunner');

  constructor(private readonly crews: CrewsService, private readonly events: CrewEventsService, private readonly locks: LockService) {}

  @WithLock((crew: Crew) => crewRunLockKey(crew.id), { waitMs: 0 })
  async run(crew: Crew, user: AuthUser, durationMs: number): Promise<CrewRunResult> {
    // The lock @WithLock holds for this call: its fencing token travels with the run.
    const lock = this.locks.current();
    if (!lock) throw new Error(`CrewRunner.run called without holding "${crewRunLockKey(crew.id)}"`);
    const run = { id: randomUUID(), startedAt: new Date().toISOString(), triggeredBy: user.id, fencingToken: lock.fencingToken };
    // Raise the crew's fence to this run's token now, not only when it records: a stale holder
    // (its lock expired, unnoticed) that finishes while this run still works is then refused.
    if (!(await this.fence(crew, lock))) {
      await this.failed(crew, run, { status: 'refused', recorded: false, reason: 'a newer run of the crew has started' });
      throw this.refusal(crew, run);
    }
    await this.events.publish(crew.companyId, {
      crewId: crew.id, type: 'run.started', data: { runId: run.id, fencingToken: run.fencingToken, triggeredBy: user.id, durationMs },
    });
    try {
      // Stands in for the agents calling their models one after another, each call given the signal.
      await delay(durationMs, undefined, { signal: lock.signal });
      lock.signal.throwIfAborted();
    } catch (error) {
      if (!lock.signal.aborted) throw error;
      await this.aborted(crew, { ...run, status: 'aborted', finishedAt: new Date().toISOString() }, lock);
      throw lock.signal.reason;
    }
    const finished: CrewRun = { ...run, status: 'succeeded', finishedAt: new Date().toISOString() };
    if (!(await this.record(crew, finished, lock))) {
      await this.failed(crew, finished, { status: 'refused', recorded: false, reason: 'a newer run of the crew has started' });
      throw this.refusal(crew, run);
    }
    await this.events.publish(crew.companyId, {
      crewId: crew.id, type: 'run.completed', data: { runId: finished.id, fencingToken: run.fencingToken, status: finished.status, finishedAt: finished.finishedAt },
    });
    return { crewId: crew.id, ...finished };
  }

  /**
   * Whether the run's fencing token is still the newest the crew's history has seen, on any
   * instance; raises the crew's fence to it. `checkFence` compares and raises atomically in
   * Redis. Checked when the run starts (so a newer run fences older ones out at once, not when
   * it finishes) and again right before the record is written.
   */
  private fence(crew: Crew, lock: Lock): Promise<boolean> {
    return this.locks.checkFence(crewHistoryResource(crew.id), lock.fencingToken, { tenant: lock.tenant });
  }

  /**
   * Writes the run record only while the run's fencing token is the newest: a holder whose lock
   * expired, while another instance started the crew since, is refused. With a database the
   * check belongs in the write itself:
   * `UPDATE crews SET fence = $token, ... WHERE id = $id AND fence <= $token`.
   */
  private async record(crew: Crew, run: CrewRun, lock: Lock): Promise<boolean> {
    if (!(await this.fence(crew, lock))) return false;
    this.crews.saveRun(crew, run);
    return true;
  }

  private refusal(crew: Crew, run: Pick<CrewRun, 'id' | 'fencingToken'>): ConflictException {
    return new ConflictException({
      statusCode: 409, error: 'Conflict', outcome: 'refused', crewId: crew.id, runId: run.id, fencingToken: run.fencingToken,
      message: `Run ${run.id} of crew "${crew.id}" was refused: a newer run of the crew has started (fencing token ${run.fencingToken} is stale)`,
    });
  }

  /** Records an aborted run (if still the newest) and tells the company; never throws, so the abort reason reaches the caller. */
  private async aborted(crew: Crew, run: CrewRun, lock: Lock): Promise<void> {
    const recorded = await this.record(crew, run, lock).catch((error: unknown) => {
      this.logger.warn(`Could not record aborted run ${run.id} of crew "${crew.id}": ${messageOf(error)}`);
      return false;
    });
    await this.failed(crew, run, { status: 'aborted', recorded, reason: messageOf(lock.signal.reason) });
  }

  private async failed(crew: Crew, run: Pick<CrewRun, 'id' | 'fencingToken'>, outcome: { status: 'aborted' | 'refused'; recorded: boolean; reason: string }): Promise<void> {
    try {
      await this.events.publish(crew.companyId, {
        crewId: crew.id, type: 'run.failed', data: { runId: run.id, fencingToken: run.fencingToken, ...outcome },
      });
    } catch (error) {
      this.logger.warn(`Could not publish crew.run.failed for run ${run.id} of crew "${crew.id}": ${messageOf(error)}`);
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
