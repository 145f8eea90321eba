import { CrewStore, MAX_RUNS_PER_CREW, MemoryCrewStore, type RunsPage } from '../../apps/demo/src/crews/crew-store.js';
import type { CrewRun } from '../../apps/demo/src/crews/crew.model.js';
import { RedisCrewStore } from '../../apps/demo/src/crews/redis-crew.store.js';
import { testRedisUrl } from '../harness/env.js';
import { uniquePrefix } from '../support/drivers.js';

/** The demo's two crew stores, each test on a fresh one (a unique key prefix on Redis). */
const STORES: Array<{ name: string; create(): CrewStore }> = [
  { name: 'memory', create: () => new MemoryCrewStore() },
  { name: 'redis', create: () => new RedisCrewStore({ redisUrl: testRedisUrl(), keyPrefix: uniquePrefix('demo-db') }) },
];

const at = (second: number) => new Date(Date.UTC(2030, 0, 1, 0, 0, second)).toISOString();
const run = (id: string, finishedAt: string, extra: Partial<CrewRun> = {}): CrewRun => ({ id, status: 'succeeded', startedAt: finishedAt, finishedAt, triggeredBy: 'u-ada', ...extra });

/** Every run of the crew, page after page of `limit`, each page after the last run of the one before. */
async function allPages(store: CrewStore, companyId: string, crewId: string, limit: number): Promise<CrewRun[]> {
  const runs: CrewRun[] = [];
  let page: RunsPage = { limit };
  // Bounded: a cursor that does not move on would page forever.
  for (let pages = 0; pages < 50; pages++) {
    const next = await store.runs(companyId, crewId, page);
    runs.push(...next);
    if (next.length < limit) return runs;
    const last = next[next.length - 1];
    page = { limit, after: { finishedMs: Date.parse(last.finishedAt!), id: last.id } };
  }
  throw new Error(`still paging after 50 pages of ${limit}: the cursor does not move on`);
}

describe.each(STORES)('demo crew store: run history ($name)', ({ create }) => {
  let store: CrewStore;

  beforeEach(() => {
    store = create();
  });

  afterEach(async () => {
    await (store as Partial<RedisCrewStore>).onApplicationShutdown?.();
  });

  it('keeps one record per run id: the same run saved again with different JSON replaces it', async () => {
    await store.saveRun('acme', 'support-triage', run('r-x', at(1)));
    // The same run projected again, its record built differently (more fields, another order).
    await store.saveRun('acme', 'support-triage', { fencingToken: 7, ...run('r-x', at(1), { triggeredBy: 'u-bob' }) });
    const runs = await store.runs('acme', 'support-triage', { limit: 10 });
    expect(runs).toEqual([{ ...run('r-x', at(1), { triggeredBy: 'u-bob' }), fencingToken: 7 }]);
  });

  it('moves a run whose finishedAt changed instead of keeping it twice', async () => {
    await store.saveRun('acme', 'support-triage', run('r-y', at(1)));
    await store.saveRun('acme', 'support-triage', run('r-z', at(2)));
    await store.saveRun('acme', 'support-triage', run('r-y', at(3)));
    expect((await store.runs('acme', 'support-triage', { limit: 10 })).map((r) => r.id)).toEqual(['r-y', 'r-z']);
  });

  it(`bounds the seeded history with the recorded runs: ${MAX_RUNS_PER_CREW} runs in all (acme/market-research)`, async () => {
    expect((await store.runs('acme', 'market-research', { limit: 10 })).map((r) => r.id)).toEqual(['r-1']);
    // Runs older than the seeded one (2025-01-06): the seed is the newest, and one of them is dropped.
    for (let i = 0; i < MAX_RUNS_PER_CREW; i++) await store.saveRun('acme', 'market-research', run(`old-${String(i).padStart(3, '0')}`, new Date(Date.UTC(2020, 0, 1, 0, 0, i)).toISOString()));
    const kept = await store.runs('acme', 'market-research', { limit: MAX_RUNS_PER_CREW + 10 });
    expect(kept).toHaveLength(MAX_RUNS_PER_CREW);
    expect(kept[0].id).toBe('r-1');
    expect(kept.map((r) => r.id)).not.toContain('old-000');
    // Newer runs push the seed out like any other run.
    for (let i = 0; i < MAX_RUNS_PER_CREW; i++) await store.saveRun('acme', 'market-research', run(`new-${i}`, at(i)));
    const newest = await store.runs('acme', 'market-research', { limit: MAX_RUNS_PER_CREW + 10 });
    expect(newest).toHaveLength(MAX_RUNS_PER_CREW);
    expect(newest.map((r) => r.id)).not.toContain('r-1');
  });

  it('pages through runs that finished in the same millisecond: each once, newest first, ties by id', async () => {
    const ids = ['t-c', 't-a', 't-e', 't-b', 't-d'];
    for (const id of ids) await store.saveRun('initech', 'tps-reports', run(id, at(5)));
    await store.saveRun('initech', 'tps-reports', run('t-newer', at(6)));
    await store.saveRun('initech', 'tps-reports', run('t-older', at(4)));

    const expected = ['t-newer', 't-e', 't-d', 't-c', 't-b', 't-a', 't-older'];
    expect((await store.runs('initech', 'tps-reports', { limit: 10 })).map((r) => r.id)).toEqual(expected);
    for (const limit of [1, 2, 3]) expect((await allPages(store, 'initech', 'tps-reports', limit)).map((r) => r.id)).toEqual(expected);
  });
});
