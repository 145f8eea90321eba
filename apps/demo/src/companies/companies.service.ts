import { Injectable } from '@nestjs/common';
import { SEED_COMPANIES, SEED_USERS } from './companies.seed.js';
import type { Company, User } from './company.model.js';

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

  findUser(userId: string): User | undefined {
    return this.users.get(userId);
  }

  usersOf(companyId: string): User[] {
    return SEED_USERS.filter((u) => u.companyId === companyId);
  }
}
