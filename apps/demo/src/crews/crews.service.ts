import { Injectable, NotFoundException } from '@nestjs/common';
import { quoteInput } from '../http/quote-input.js';
import { CrewConfigs } from './crew-configs.service.js';
import { CrewStore, MAX_RUNS_PER_CREW, finishedMs, type RunsPage } from './crew-store.js';
import type { Agent, Crew, CrewDefinition, CrewRun } from './crew.model.js';

/**
 * Runs `GET /crews` shows per crew (the newest); `GET /crews/:crewId/runs` pages through the rest.
 *
 * @example
 * (await crews.listFor('acme'))[0].runs.length <= RUNS_IN_CREW_LIST; // true
 */
export const RUNS_IN_CREW_LIST = 20;

/**
 * The crews of every company: their definitions from `CrewConfigs` (cached), their run history
 * from `CrewStore` (written by `CrewRunHistory` from the crew event stream). Both are shared by
 * every instance. Lookups are always scoped by company: a crew id of another company is "not
 * found", never visible.
 *
 * @example
 * const page = await crews.runs('acme', 'market-research', { limit: 20 }); // 404 for another company's crew
 */
@Injectable()
export class CrewsService {
  constructor(private readonly configs: CrewConfigs, private readonly store: CrewStore) {}

  /** The company's crews, each with its newest `RUNS_IN_CREW_LIST` runs. */
  async listFor(companyId: string): Promise<Crew[]> {
    const crews = await this.configs.list(companyId);
    return Promise.all(crews.map(async (crew) => ({ ...crew, runs: await this.store.runs(companyId, crew.id, { limit: RUNS_IN_CREW_LIST }) })));
  }

  /**
   * The ids of the company's crews, read from the store, not through the cache: no tenant context
   * needed, so a timer (the dashboard's snapshots) may call it.
   *
   * @example
   * await crews.crewIds('acme'); // ['market-research', 'support-triage']
   */
  async crewIds(companyId: string): Promise<string[]> {
    return (await this.store.list(companyId)).map((crew) => crew.id);
  }

  /** The crew's definition (agents and settings, no runs); throws `NotFoundException` unless `crewId` belongs to `companyId`. */
  async definition(companyId: string, crewId: string): Promise<CrewDefinition> {
    const crew = await this.configs.find(companyId, crewId);
    if (!crew) throw new NotFoundException(`Crew ${quoteInput(crewId)} not found`);
    return crew;
  }

  /** Throws `NotFoundException` unless `agentId` is a member of the crew. */
  agent(crew: CrewDefinition, agentId: string): Agent {
    const agent = crew.agents.find((a) => a.id === agentId);
    if (!agent) throw new NotFoundException(`Agent ${quoteInput(agentId)} is not in crew "${crew.id}"`);
    return agent;
  }

  /** A page of the crew's run history, newest first; throws `NotFoundException` unless `crewId` belongs to `companyId`. */
  async runs(companyId: string, crewId: string, page: RunsPage): Promise<CrewRun[]> {
    await this.definition(companyId, crewId);
    return this.store.runs(companyId, crewId, page);
  }

  /**
   * Per crew of the company, its recorded runs that finished in `[from, to]`, newest first (of the
   * `MAX_RUNS_PER_CREW` each history keeps). Read from the store, not through the cache: no
   * tenant context needed, so a scheduled job (the nightly report) may call it.
   *
   * @example
   * const perCrew = await crews.runsBetween('acme', new Date(Date.now() - 86_400_000), new Date());
   */
  async runsBetween(companyId: string, from: Date, to: Date): Promise<Array<{ crewId: string; runs: CrewRun[] }>> {
    const crews = await this.store.list(companyId);
    return Promise.all(crews.map(async (crew) => {
      const runs = await this.store.runs(companyId, crew.id, { limit: MAX_RUNS_PER_CREW });
      return { crewId: crew.id, runs: runs.filter((run) => finishedMs(run) >= from.getTime() && finishedMs(run) <= to.getTime()) };
    }));
  }

  /**
   * Adds a finished run to the crew's history (idempotent). Called by `CrewRunHistory` for the
   * run events of the stream; whether a run belongs in the history (its fencing token was the
   * newest) was decided by `CrewRunner` before it appended the event.
   */
  saveRun(companyId: string, crewId: string, run: CrewRun): Promise<void> {
    return this.store.saveRun(companyId, crewId, run);
  }
}
