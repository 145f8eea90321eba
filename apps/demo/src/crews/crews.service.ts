import { Injectable, NotFoundException } from '@nestjs/common';
import { quoteInput } from '../http/quote-input.js';
import { CrewConfigs } from './crew-configs.service.js';
import type { Agent, Crew, CrewDefinition, CrewRun } from './crew.model.js';
import { SEED_CREWS } from './crews.seed.js';

/**
 * The crews of every company: their definitions from `CrewConfigs` (cached, shared by every
 * instance), their run history in this instance's memory (seeded at startup; a stand-in for a
 * database table). Lookups are always scoped by company: a crew id of another company is "not
 * found", never visible.
 */
@Injectable()
export class CrewsService {
  /** `<companyId>\0<crewId>` → the runs this instance recorded (and the seeded ones). */
  private readonly runs = new Map(SEED_CREWS.map((crew) => [runsKey(crew.companyId, crew.id), structuredClone(crew.runs)]));

  constructor(private readonly configs: CrewConfigs) {}

  async listFor(companyId: string): Promise<Crew[]> {
    const crews = await this.configs.list(companyId);
    return crews.map((crew) => ({ ...crew, runs: this.runsOf(companyId, crew.id) }));
  }

  /** The crew with its run history; throws `NotFoundException` unless `crewId` belongs to `companyId`. */
  async get(companyId: string, crewId: string): Promise<Crew> {
    const crew = await this.definition(companyId, crewId);
    return { ...crew, runs: this.runsOf(companyId, crewId) };
  }

  /** The crew's definition (agents and settings, no runs); throws `NotFoundException` unless `crewId` belongs to `companyId`. */
  async definition(companyId: string, crewId: string): Promise<CrewDefinition> {
    const crew = await this.configs.find(companyId, crewId);
    if (!crew) throw new NotFoundException(`Crew ${quoteInput(crewId)} not found`);
    return crew;
  }

  /** Throws `NotFoundException` unless `agentId` is a member of the crew. */
  agent(crew: Crew, agentId: string): Agent {
    const agent = crew.agents.find((a) => a.id === agentId);
    if (!agent) throw new NotFoundException(`Agent ${quoteInput(agentId)} is not in crew "${crew.id}"`);
    return agent;
  }

  /**
   * Appends a finished run to the crew's history. The history is fenced by the caller
   * (`CrewRunner` checks the run's fencing token first): this store is a stand-in for a database.
   */
  saveRun(crew: Crew, run: CrewRun): CrewRun {
    this.history(crew.companyId, crew.id).push(run);
    return run;
  }

  /** The crew's runs this instance recorded, seeded ones included (a copy; no cache involved, nor a check that the crew exists). */
  runsOf(companyId: string, crewId: string): CrewRun[] {
    return [...(this.runs.get(runsKey(companyId, crewId)) ?? [])];
  }

  private history(companyId: string, crewId: string): CrewRun[] {
    const key = runsKey(companyId, crewId);
    let runs = this.runs.get(key);
    if (!runs) {
      runs = [];
      this.runs.set(key, runs);
    }
    return runs;
  }
}

function runsKey(companyId: string, crewId: string): string {
  return `${companyId}\0${crewId}`;
}
