import type { Crew } from './crew.model.js';

const researcher = { role: 'researcher', goal: 'Collect sources on the topic', model: 'gpt-4o-mini' };
const writer = { role: 'writer', goal: 'Draft a clear summary from the research', model: 'claude-sonnet' };
const reviewer = { role: 'reviewer', goal: 'Check facts and tone before publishing', model: 'gpt-4o' };

export const SEED_CREWS: readonly Crew[] = [
  {
    id: 'market-research',
    companyId: 'acme',
    name: 'Market research',
    agents: [{ id: 'a-1', ...researcher }, { id: 'a-2', ...writer }],
    config: { process: 'sequential', maxIterations: 5, temperature: 0.2 },
    runs: [{ id: 'r-1', status: 'succeeded', startedAt: '2025-01-06T09:00:00Z', finishedAt: '2025-01-06T09:04:10Z', triggeredBy: 'u-ada' }],
  },
  {
    id: 'support-triage',
    companyId: 'acme',
    name: 'Support triage',
    agents: [{ id: 'a-3', role: 'triager', goal: 'Route tickets to the right queue', model: 'gpt-4o-mini' }, { id: 'a-4', ...reviewer }],
    config: { process: 'hierarchical', maxIterations: 3, temperature: 0 },
    runs: [],
  },
  {
    id: 'release-notes',
    companyId: 'globex',
    name: 'Release notes',
    agents: [{ id: 'a-5', ...writer }, { id: 'a-6', ...reviewer }],
    config: { process: 'sequential', maxIterations: 4, temperature: 0.4 },
    runs: [{ id: 'r-2', status: 'failed', startedAt: '2025-01-07T14:30:00Z', finishedAt: '2025-01-07T14:31:02Z', triggeredBy: 'u-hank' }],
  },
  {
    // Same id as Acme's crew on purpose: tenants share no locks, limits or events.
    id: 'market-research',
    companyId: 'globex',
    name: 'Competitor watch',
    agents: [{ id: 'a-8', ...researcher }],
    config: { process: 'sequential', maxIterations: 2, temperature: 0.3 },
    runs: [],
  },
  {
    id: 'tps-reports',
    companyId: 'initech',
    name: 'TPS reports',
    agents: [{ id: 'a-7', role: 'clerk', goal: 'Fill in the cover sheet', model: 'gpt-4o-mini' }],
    config: { process: 'sequential', maxIterations: 1, temperature: 0 },
    runs: [],
  },
];
