import { Injectable, NotFoundException } from '@nestjs/common';
import type { Crew } from './crew.model.js';
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
}
