import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable } from '@nestjs/common';
import { LockService, WithLock } from '@nest-coordination/core';
import type { AuthUser } from '../auth/auth-user.model.js';
import { CrewEventsService } from './crew-events.service.js';
import type { Crew, CrewRun } from './crew.model.js';
import { CrewsService } from './crews.service.js';

/** Lock key of a crew's runs, within the company's tenant. */
export const crewRunLockKey = (crewId: string): string => `crew-run:${crewId}`;

/**
 * Runs a crew: one run per crew at a time across every instance of the app. `@WithLock` takes
 * `crew-run:<crewId>` in the caller's company (the tenant context) without waiting, so a second
 * run meanwhile fails with LockTimeoutError, a 409 through CoordinationExceptionFilter. The lock
 * renews itself while the agents work, and its fencing token travels with the run's events
 * and guards the write of the run record.
 */
@Injectable()
export class CrewRunner {
  constructor(private readonly crews: CrewsService, private readonly events: CrewEventsService, private readonly locks: LockService) {}

  @WithLock((crew: Crew) => crewRunLockKey(crew.id), { waitMs: 0, ttlMs: 10_000 })
  async run(crew: Crew, user: AuthUser, durationMs: number): Promise<CrewRun & { crewId: string }> {
    // The lock @WithLock holds for this call: its fencing token travels with the run.
    const lock = this.locks.current();
    if (!lock) throw new Error(`CrewRunner.run called without holding "${crewRunLockKey(crew.id)}"`);
    const { fencingToken } = lock;
    const started = this.crews.saveRun(crew, {
      id: randomUUID(), status: 'running', startedAt: new Date().toISOString(), triggeredBy: user.id, fencingToken,
    });
    await this.events.publish(crew.companyId, {
      crewId: crew.id, type: 'run.started', data: { runId: started.id, fencingToken, triggeredBy: user.id, durationMs },
    });
    // Stands in for the agents calling their models one after another.
    await sleep(durationMs);
    const finished = this.crews.saveRun(crew, { ...started, status: 'succeeded', finishedAt: new Date().toISOString() });
    await this.events.publish(crew.companyId, {
      crewId: crew.id, type: 'run.completed', data: { runId: finished.id, fencingToken, status: finished.status, finishedAt: finished.finishedAt },
    });
    return { crewId: crew.id, ...finished };
  }
}
