import type { Company, User } from './company.model.js';

export const SEED_COMPANIES: readonly Company[] = [
  { id: 'acme', name: 'Acme Corp', plan: 'enterprise' },
  { id: 'globex', name: 'Globex', plan: 'team' },
  { id: 'initech', name: 'Initech', plan: 'free' },
];

export const SEED_USERS: readonly User[] = [
  { id: 'u-ada', companyId: 'acme', name: 'Ada', role: 'owner' },
  { id: 'u-bob', companyId: 'acme', name: 'Bob', role: 'operator' },
  { id: 'u-cleo', companyId: 'acme', name: 'Cleo', role: 'operator' },
  { id: 'u-hank', companyId: 'globex', name: 'Hank', role: 'owner' },
  { id: 'u-peter', companyId: 'initech', name: 'Peter', role: 'viewer' },
];
