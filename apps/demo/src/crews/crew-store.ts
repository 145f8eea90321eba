import type { CrewDefinition, CrewRun } from './crew.model.js';
import { SEED_CREWS } from './crews.seed.js';

/**
 * Runs kept per crew: recording one more drops the oldest.
 *
 * @example
 * await store.runs('acme', 'market-research', { limit: MAX_RUNS_PER_CREW }); // the whole history
 */
export const MAX_RUNS_PER_CREW = 100;

/**
 * A page of a crew's run history: newest first, at most `limit`, finished before `before` (ms) when given.
 *
 * @example
 * const next: RunsPage = { limit: 20, before: Date.parse(page.at(-1)!.finishedAt!) };
 */
export interface RunsPage {
  limit: number;
  before?: number;
}

/**
 * The demo's stand-in for a database of crews: their definitions (name, agents, config) and their
 * run history. The seed is its initial content; `save` replaces a crew's definition, `saveRun`
 * adds a run to its history (the newest `MAX_RUNS_PER_CREW` are kept). Every read returns a copy.
 * Provided by `crewStoreProvider`: `RedisCrewStore` when the demo runs on Redis (every instance
 * reads the same crews and history), `MemoryCrewStore` otherwise.
 *
 * Read definitions through `CrewConfigs`, which caches them, rather than directly. The history is
 * written by `CrewRunHistory` from the crew event stream, not by the runs themselves.
 *
 * @example
 * const crew = await store.find('acme', 'market-research');
 * await store.save({ ...crew!, name: 'Market research (EU)' });
 * const latest = await store.runs('acme', 'market-research', { limit: 20 });
 */
export abstract class CrewStore {
  /** The crew `crewId` of `companyId`, or undefined: a crew of another company is not found. */
  abstract find(companyId: string, crewId: string): Promise<CrewDefinition | undefined>;
  /** Every crew of `companyId`, in seed order. */
  abstract list(companyId: string): Promise<CrewDefinition[]>;
  /** Replaces the definition of an existing crew (`crew.companyId`, `crew.id`). */
  abstract save(crew: CrewDefinition): Promise<void>;
  /**
   * Adds a finished run (`finishedAt` set) to the crew's history. Idempotent: saving the same
   * record again (a redelivered event) changes nothing.
   */
  abstract saveRun(companyId: string, crewId: string, run: CrewRun): Promise<void>;
  /** A page of the crew's runs, seeded ones included, newest (by `finishedAt`) first. */
  abstract runs(companyId: string, crewId: string, page: RunsPage): Promise<CrewRun[]>;
}

/**
 * The runs of `page` among `runs`: finished before `page.before`, newest first, at most `page.limit`.
 *
 * @example
 * pageOfRuns([...recorded, ...seedRuns('acme', 'market-research')], { limit: 20 });
 */
export function pageOfRuns(runs: readonly CrewRun[], page: RunsPage): CrewRun[] {
  return runs
    .filter((run) => page.before === undefined || finishedMs(run) < page.before)
    .sort((a, b) => finishedMs(b) - finishedMs(a))
    .slice(0, page.limit)
    .map((run) => structuredClone(run));
}

/**
 * When a recorded run finished, in ms (its sort key).
 *
 * @example
 * finishedMs({ id: 'r-1', status: 'succeeded', startedAt: '2025-01-06T09:00:00Z', finishedAt: '2025-01-06T09:04:10Z', triggeredBy: 'u-ada' }); // 1736154250000
 */
export function finishedMs(run: CrewRun): number {
  return Date.parse(run.finishedAt ?? run.startedAt);
}

/**
 * The seeded run history of one crew (copies).
 *
 * @example
 * seedRuns('acme', 'market-research').map((r) => r.id); // ['r-1']
 */
export function seedRuns(companyId: string, crewId: string): CrewRun[] {
  return structuredClone(SEED_CREWS.find((crew) => crew.companyId === companyId && crew.id === crewId)?.runs ?? []);
}

/**
 * The seeded crews of `companyId`, without their run history (copies).
 *
 * @example
 * seedDefinitions('globex').map((c) => c.id); // ['release-notes', 'market-research']
 */
export function seedDefinitions(companyId: string): CrewDefinition[] {
  return SEED_CREWS.filter((crew) => crew.companyId === companyId).map(({ runs: _runs, ...definition }) => structuredClone(definition));
}

/**
 * `CrewStore` in this process's memory: for the memory driver, where the demo is one instance.
 *
 * @example
 * providers: [{ provide: CrewStore, useValue: new MemoryCrewStore() }]
 */
export class MemoryCrewStore extends CrewStore {
  /** companyId → crewId → definition. */
  private readonly crews = new Map<string, Map<string, CrewDefinition>>();
  /** `<companyId>\0<crewId>` → the crew's recorded runs (seeded on first use). */
  private readonly history = new Map<string, CrewRun[]>();

  async find(companyId: string, crewId: string): Promise<CrewDefinition | undefined> {
    const crew = this.company(companyId).get(crewId);
    return crew && structuredClone(crew);
  }

  async list(companyId: string): Promise<CrewDefinition[]> {
    return [...this.company(companyId).values()].map((crew) => structuredClone(crew));
  }

  async save(crew: CrewDefinition): Promise<void> {
    const crews = this.company(crew.companyId);
    if (!crews.has(crew.id)) throw new Error(`No crew "${crew.id}" in company "${crew.companyId}" to save`);
    crews.set(crew.id, structuredClone(crew));
  }

  async saveRun(companyId: string, crewId: string, run: CrewRun): Promise<void> {
    const runs = this.runsOf(companyId, crewId).filter((recorded) => recorded.id !== run.id);
    this.history.set(`${companyId}\0${crewId}`, pageOfRuns([...runs, run], { limit: MAX_RUNS_PER_CREW }));
  }

  async runs(companyId: string, crewId: string, page: RunsPage): Promise<CrewRun[]> {
    return pageOfRuns(this.runsOf(companyId, crewId), page);
  }

  private runsOf(companyId: string, crewId: string): CrewRun[] {
    return this.history.get(`${companyId}\0${crewId}`) ?? seedRuns(companyId, crewId);
  }

  private company(companyId: string): Map<string, CrewDefinition> {
    let crews = this.crews.get(companyId);
    if (!crews) {
      crews = new Map(seedDefinitions(companyId).map((crew) => [crew.id, crew]));
      this.crews.set(companyId, crews);
    }
    return crews;
  }
}
