import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import type { Agent, Crew, CrewRun } from './crew.model.js';
import { SEED_CREWS } from './crews.seed.js';

/**
 * The crews of every company, in memory and seeded at startup. Lookups are always
 * scoped by company: a crew id of another company is "not found", never visible.
 */
@Injectable()
export class CrewsService {
  private readonly crews: Crew[] = structuredClone([...SEED_CREWS]);

  listFor(companyId: string): Crew[] {
    return this.crews.filter((crew) => crew.companyId === companyId);
  }

  /** Throws `NotFoundException` unless `crewId` belongs to `companyId`. */
  get(companyId: string, crewId: string): Crew {
    const crew = this.crews.find((c) => c.companyId === companyId && c.id === crewId);
    if (!crew) throw new NotFoundException(`Crew "${crewId}" not found`);
    return crew;
  }

  /** Throws `NotFoundException` unless `agentId` is a member of the crew. */
  agent(crew: Crew, agentId: string): Agent {
    const agent = crew.agents.find((a) => a.id === agentId);
    if (!agent) throw new NotFoundException(`Agent "${agentId}" is not in crew "${crew.id}"`);
    return agent;
  }

  /**
   * Records a run under the lock's fencing token. The write is refused when a run with a newer
   * token was recorded already: its holder took the lock after ours expired, so we are stale.
   * In SQL: `UPDATE crews SET fence = $token WHERE id = $id AND fence < $token`.
   */
  saveRun(crew: Crew, run: CrewRun): CrewRun {
    const newest = Math.max(0, ...crew.runs.map((r) => r.fencingToken ?? 0));
    const existing = crew.runs.findIndex((r) => r.id === run.id);
    if ((run.fencingToken ?? 0) < newest) throw new ConflictException(`Run "${run.id}" holds a stale lock on crew "${crew.id}"`);
    if (existing >= 0) crew.runs[existing] = run;
    else crew.runs.push(run);
    return run;
  }
}
