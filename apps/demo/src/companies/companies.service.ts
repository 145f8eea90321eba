import { Injectable } from '@nestjs/common';
import { Cacheable } from '@nest-coordination/core';
import { SEED_COMPANIES, SEED_USERS } from './companies.seed.js';
import type { Company, CompanyProfile, User } from './company.model.js';

/** How long a company profile stays cached; `company:<companyId>` invalidates it sooner. */
export const COMPANY_PROFILE_TTL_MS = 600_000;

/** The demo's companies and users: a fixed, in-memory seed (the demo has no database). */
@Injectable()
export class CompaniesService {
  private readonly companies = new Map(SEED_COMPANIES.map((c) => [c.id, c]));
  private readonly users = new Map(SEED_USERS.map((u) => [u.id, u]));

  find(companyId: string): Company | undefined {
    return this.companies.get(companyId);
  }

  list(): Company[] {
    return [...this.companies.values()];
  }

  /**
   * Looked up by `DemoAuthGuard` on every request, so not cached: it runs before the handler's
   * tenant context exists, and a seed lookup costs less than a cache read.
   */
  findUser(userId: string): User | undefined {
    return this.users.get(userId);
  }

  usersOf(companyId: string): User[] {
    return SEED_USERS.filter((u) => u.companyId === companyId);
  }

  /**
   * The company and its members, cached in the company's tenant under `company:<companyId>`,
   * tagged `company:<companyId>` (with a database behind it, the query worth caching). Undefined
   * for an unknown company (not cached).
   *
   * @example
   * const profile = await companies.profile('acme'); // { id: 'acme', name: 'Acme Corp', plan: 'enterprise', members: [...] }
   */
  @Cacheable({ key: 'company:{0}', ttlMs: COMPANY_PROFILE_TTL_MS, tags: ['company:{0}'] })
  async profile(companyId: string): Promise<CompanyProfile | undefined> {
    const company = this.find(companyId);
    if (!company) return undefined;
    return { ...company, members: this.usersOf(companyId).map(({ id, name, role }) => ({ id, name, role })) };
  }
}
