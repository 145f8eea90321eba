import type { CrewDefinition } from './crew.model.js';
import { SEED_CREWS } from './crews.seed.js';

/**
 * The demo's stand-in for a database of crew definitions (name, agents, config; the run history
 * stays with `CrewsService`). The seed is its initial content; `save` replaces a crew's
 * definition. Every read returns a copy. Provided by `crewStoreProvider`: `RedisCrewStore` when
 * the demo runs on Redis (every instance reads the same crews), `MemoryCrewStore` otherwise.
 *
 * Read it through `CrewConfigs`, which caches it, rather than directly.
 *
 * @example
 * const crew = await store.find('acme', 'market-research');
 * await store.save({ ...crew!, name: 'Market research (EU)' });
 */
export abstract class CrewStore {
  /** The crew `crewId` of `companyId`, or undefined: a crew of another company is not found. */
  abstract find(companyId: string, crewId: string): Promise<CrewDefinition | undefined>;
  /** Every crew of `companyId`, in seed order. */
  abstract list(companyId: string): Promise<CrewDefinition[]>;
  /** Replaces the definition of an existing crew (`crew.companyId`, `crew.id`). */
  abstract save(crew: CrewDefinition): Promise<void>;
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

  private company(companyId: string): Map<string, CrewDefinition> {
    let crews = this.crews.get(companyId);
    if (!crews) {
      crews = new Map(seedDefinitions(companyId).map((crew) => [crew.id, crew]));
      this.crews.set(companyId, crews);
    }
    return crews;
  }
}
