import { Injectable, NotFoundException } from '@nestjs/common';
import { CacheEvict, Cacheable, WithLock } from '@nest-coordination/core';
import { quoteInput } from '../http/quote-input.js';
import { applyCrewPatch } from './crew-patch.js';
import { CrewStore } from './crew-store.js';
import type { CrewDefinition } from './crew.model.js';
import type { UpdateCrewDto } from './dto/update-crew.dto.js';

/** How long a crew definition stays cached; an edit invalidates it at once, on every instance. */
export const CREW_CONFIG_TTL_MS = 300_000;

/**
 * The cache tag of one crew, on its cached definition (`crew:{0}:{1}` in the decorators below)
 * and on its cached `GET /crews/:crewId` response: `PATCH /crews/:crewId` invalidates it.
 *
 * @example
 * crewTag('acme', 'market-research'); // 'crew:acme:market-research'
 */
export const crewTag = (companyId: string, crewId: string): string => `crew:${companyId}:${crewId}`;

/**
 * Crew definitions read through the cache (`@Cacheable`: the tenant is the caller's company, set
 * by TenantInterceptor; concurrent misses of a crew read the store once across the fleet), and
 * edited with `@CacheEvict`, so that the next read on any instance sees the edit.
 *
 * Keys and tags (within the company's tenant):
 * - `crew:<companyId>:<crewId>`: one definition, tagged `crew:<companyId>:<crewId>` and `company:<companyId>`;
 * - `crews:<companyId>`: the company's list, tagged `crews:<companyId>` and `company:<companyId>`.
 *
 * An edit invalidates the crew's tag and the list's; `company:<companyId>` drops everything cached
 * for the company (its profile included) in one call, e.g. when its plan changes:
 * `cache.invalidateTags(['company:acme'], { tenant: 'acme' })`.
 *
 * @example
 * const crew = await configs.find('acme', 'market-research'); // the store on a miss, the cache after
 * await configs.update('acme', 'market-research', { name: 'Market research (EU)' });
 */
@Injectable()
export class CrewConfigs {
  constructor(private readonly store: CrewStore) {}

  /** The crew, or undefined for a crew of another company (undefined is never cached: each such read asks the store). */
  @Cacheable({ key: 'crew:{0}:{1}', ttlMs: CREW_CONFIG_TTL_MS, tags: ['crew:{0}:{1}', 'company:{0}'] })
  find(companyId: string, crewId: string): Promise<CrewDefinition | undefined> {
    return this.store.find(companyId, crewId);
  }

  /** Every crew of the company. */
  @Cacheable({ key: 'crews:{0}', ttlMs: CREW_CONFIG_TTL_MS, tags: ['crews:{0}', 'company:{0}'] })
  list(companyId: string): Promise<CrewDefinition[]> {
    return this.store.list(companyId);
  }

  /**
   * Applies `patch` to the crew and saves it, then invalidates the crew's tag and the company's
   * list on every instance (their L1 copies included). Edits of one crew take turns under the lock
   * `crew-edit:<crewId>` (read, apply, save), so that two instances editing it at once lose
   * neither edit. NotFoundException for a crew of another company (nothing invalidated); a failed
   * invalidation (Redis unreachable) rejects the call after the save: retry it.
   */
  @WithLock('crew-edit:{1}', { waitMs: 5_000 })
  @CacheEvict({ tags: ['crew:{0}:{1}', 'crews:{0}'] })
  async update(companyId: string, crewId: string, patch: UpdateCrewDto): Promise<CrewDefinition> {
    const crew = await this.store.find(companyId, crewId);
    if (!crew) throw new NotFoundException(`Crew ${quoteInput(crewId)} not found`);
    const updated = applyCrewPatch(crew, patch);
    await this.store.save(updated);
    return updated;
  }
}
