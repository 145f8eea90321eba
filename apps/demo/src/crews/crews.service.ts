import { Injectable, NotFoundException } from '@nestjs/common';
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
   * Appends a finished run to the crew's history. The history is fenced by the caller
   * (`CrewRunner` checks the run's fencing token first): this store is a stand-in for a database.
   */
  saveRun(crew: Crew, run: CrewRun): CrewRun {
    crew.runs.push(run);
    return run;
  }
}
