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
 * Where a page of a crew's run history ends: its last run's `finishedAt` (ms) and id. The next
 * page starts with the run listed after it (see `compareCursors`), so runs that finished in the
 * same millisecond are neither skipped nor shown twice.
 *
 * @example
 * const cursor: RunCursor = runCursor(page[page.length - 1]);
 */
export interface RunCursor {
  finishedMs: number;
  id: string;
}

/**
 * A page of a crew's run history: newest first, at most `limit`, the runs listed after `after` when given.
 *
 * @example
 * const next: RunsPage = { limit: 20, after: runCursor(page[page.length - 1]) };
 */
export interface RunsPage {
  limit: number;
  after?: RunCursor;
}

/**
 * The demo's stand-in for a database of crews: their definitions (name, agents, config) and their
 * run history. The seed is its initial content; `save` replaces a crew's definition, `saveRun`
 * adds a run to its history (the newest `MAX_RUNS_PER_CREW`, seeded ones included, are kept).
 * Every read returns a copy.
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
   * Adds a finished run (`finishedAt` set) to the crew's history, or replaces the record of the
   * same run id: one record per run, so saving a run again (a redelivered event) adds nothing.
   * The seeded runs count towards the `MAX_RUNS_PER_CREW` kept.
   */
  abstract saveRun(companyId: string, crewId: string, run: CrewRun): Promise<void>;
  /** A page of the crew's runs, seeded ones included, in the order of `compareCursors`. */
  abstract runs(companyId: string, crewId: string, page: RunsPage): Promise<CrewRun[]>;
}

/**
 * The runs of `page` among `runs`: listed after `page.after`, newest first, at most `page.limit`.
 *
 * @example
 * pageOfRuns([...recorded, ...seedRuns('acme', 'market-research')], { limit: 20 });
 */
export function pageOfRuns(runs: readonly CrewRun[], page: RunsPage): CrewRun[] {
  const { after } = page;
  return runs
    .filter((run) => after === undefined || compareCursors(runCursor(run), after) > 0)
    .sort((a, b) => compareCursors(runCursor(a), runCursor(b)))
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
 * A run's place in its history, as a cursor.
 *
 * @example
 * runCursor(run); // { finishedMs: 1736154250000, id: 'r-1' }
 */
export function runCursor(run: CrewRun): RunCursor {
  return { finishedMs: finishedMs(run), id: run.id };
}

/**
 * The order of a run history, negative when `a` is listed first: newest first, and among runs
 * that finished in the same millisecond, the greater id first (ids compared as UTF-8 bytes, as
 * Redis orders the members of a sorted set with one score, so both stores list and trim alike).
 *
 * @example
 * runs.sort((a, b) => compareCursors(runCursor(a), runCursor(b)));
 */
export function compareCursors(a: RunCursor, b: RunCursor): number {
  if (a.finishedMs !== b.finishedMs) return b.finishedMs - a.finishedMs;
  return Buffer.compare(Buffer.from(b.id), Buffer.from(a.id));
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
