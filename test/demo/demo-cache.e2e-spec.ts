import type { INestApplication } from '@nestjs/common';
import { CacheService, type CacheStats } from '@nest-coordination/core';
import request, { type Response } from 'supertest';
import type { CrewDefinition } from '../../apps/demo/src/crews/crew.model.js';
import { REDIS_DRIVERS, uniquePrefix } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { DEMO_BACKENDS, as, bootDemo } from './demo-test-app.js';

const ADA = as('u-ada', 'acme');
const BOB = as('u-bob', 'acme');
const HANK = as('u-hank', 'globex');
const PETER = as('u-peter', 'initech');

const xCache = (res: Response): unknown => res.headers['x-cache'];

/**
 * Whether a 400 names `field`: the `argument` of an E_INVALID_ARGUMENT, or a ValidationPipe message
 * about it (`agents.0.model must be a string`, `agents.0.property budget should not exist`).
 */
function names(res: Response, field: string): boolean {
  if (res.body.argument !== undefined) return res.body.argument === field;
  const dot = field.lastIndexOf('.');
  const unknown = `${field.slice(0, dot + 1)}property ${field.slice(dot + 1)} should not exist`;
  return [res.body.message].flat().some((text: string) => text.startsWith(`${field} `) || text === unknown);
}

function client(app: INestApplication) {
  const http = () => request(app.getHttpServer());
  return {
    crew: (headers: Record<string, string>, crewId: string) => http().get(`/crews/${crewId}`).set(headers),
    patch: (headers: Record<string, string>, crewId: string, body: unknown) => http().patch(`/crews/${crewId}`).set(headers).send(body as object),
    list: async (headers: Record<string, string>): Promise<CrewDefinition[]> => (await http().get('/crews').set(headers).expect(200)).body,
    stats: async (): Promise<CacheStats> => (await http().get('/cache/stats').set(ADA).expect(200)).body,
    callAgent: (headers: Record<string, string>, crewId: string, agentId: string) => http().post(`/crews/${crewId}/agents/${agentId}/calls`).set(headers),
  };
}

describe.each(DEMO_BACKENDS)('demo app: cached crews and companies ($name)', (driver) => {
  let app: INestApplication;
  let api: ReturnType<typeof client>;

  beforeAll(async () => {
    ({ app } = await bootDemo(driver));
    api = client(app);
  });

  afterAll(async () => {
    await app?.close();
  });

  it('answers GET /crews/:crewId with X-Cache MISS, then HIT without running the handler; /cache/stats counts both', async () => {
    const before = await api.stats();
    const miss = await api.crew(ADA, 'market-research').expect(200);
    expect(xCache(miss)).toBe('MISS');
    expect(miss.body).toMatchObject({ id: 'market-research', companyId: 'acme', name: 'Market research', agents: [{ id: 'a-1' }, { id: 'a-2' }] });
    expect(miss.body.runs).toBeUndefined();
    const afterMiss = await api.stats();
    // The response and the crew's definition were each loaded once (the handler, then the store).
    expect(afterMiss.loaderCalls - before.loaderCalls).toBe(2);
    expect(afterMiss.misses - before.misses).toBe(2);

    const hit = await api.crew(ADA, 'market-research').expect(200);
    expect(xCache(hit)).toBe('HIT');
    expect(hit.body).toEqual(miss.body);
    const afterHit = await api.stats();
    expect(afterHit.hits - afterMiss.hits).toBe(1);
    expect(afterHit.l1Hits + afterHit.l2Hits - (afterMiss.l1Hits + afterMiss.l2Hits)).toBe(1);
    expect(afterHit.misses).toBe(afterMiss.misses);
    expect(afterHit.loaderCalls).toBe(afterMiss.loaderCalls);
    expect(afterHit.hitRatio).toBeCloseTo(afterHit.hits / (afterHit.hits + afterHit.misses), 10);
    expect(afterHit.l1Entries).toBeGreaterThan(0);
  });

  it("keeps companies apart: Globex's market-research is its own entry, and Acme's edit leaves it cached", async () => {
    await api.crew(ADA, 'market-research').expect(200);
    expect(xCache(await api.crew(ADA, 'market-research').expect(200))).toBe('HIT');

    const globex = await api.crew(HANK, 'market-research').expect(200);
    expect(xCache(globex)).toBe('MISS');
    expect(globex.body).toMatchObject({ companyId: 'globex', name: 'Competitor watch', agents: [{ id: 'a-8' }] });
    expect(xCache(await api.crew(HANK, 'market-research').expect(200))).toBe('HIT');

    await api.patch(ADA, 'market-research', { name: 'Market research (EU)' }).expect(200);
    const stillGlobex = await api.crew(HANK, 'market-research').expect(200);
    expect(xCache(stillGlobex)).toBe('HIT');
    expect(stillGlobex.body).toEqual(globex.body);
    const acme = await api.crew(ADA, 'market-research').expect(200);
    expect(xCache(acme)).toBe('MISS');
    expect(acme.body).toMatchObject({ companyId: 'acme', name: 'Market research (EU)' });
  });

  it('PATCH /crews/:crewId saves the edit and invalidates the crew: the next read is a MISS with it, on every route that reads the crew', async () => {
    await api.crew(BOB, 'support-triage').expect(200);
    expect(xCache(await api.crew(BOB, 'support-triage').expect(200))).toBe('HIT');
    expect((await api.callAgent(BOB, 'support-triage', 'a-3').expect(201)).body.model).toBe('gpt-4o-mini');
    expect((await api.list(BOB)).find((c) => c.id === 'support-triage')?.name).toBe('Support triage');

    const patch = { name: 'Support triage (24/7)', agents: [{ id: 'a-3', model: 'claude-sonnet', goal: 'Route tickets by urgency' }], config: { temperature: 0.1 } };
    const edited = await api.patch(BOB, 'support-triage', patch).expect(200);
    expect(edited.body).toEqual({
      id: 'support-triage', companyId: 'acme', name: 'Support triage (24/7)',
      agents: [
        { id: 'a-3', role: 'triager', goal: 'Route tickets by urgency', model: 'claude-sonnet' },
        { id: 'a-4', role: 'reviewer', goal: 'Check facts and tone before publishing', model: 'gpt-4o' },
      ],
      config: { process: 'hierarchical', maxIterations: 3, temperature: 0.1 },
    });

    const reread = await api.crew(BOB, 'support-triage').expect(200);
    expect(xCache(reread)).toBe('MISS');
    expect(reread.body).toEqual(edited.body);
    expect(xCache(await api.crew(ADA, 'support-triage').expect(200))).toBe('HIT');
    // The cached definition behind the other routes was invalidated too.
    expect((await api.callAgent(BOB, 'support-triage', 'a-3').expect(201)).body.model).toBe('claude-sonnet');
    const listed = (await api.list(BOB)).find((c) => c.id === 'support-triage');
    expect(listed).toMatchObject({ name: 'Support triage (24/7)', config: { temperature: 0.1 } });
  });

  it('answers 404 for a crew of another company, reading or editing it, and caches nothing for it', async () => {
    const cache = app.get(CacheService);
    await api.crew(ADA, 'support-triage').expect(200);
    const acmeBefore = await api.crew(ADA, 'support-triage').expect(200);
    expect(xCache(acmeBefore)).toBe('HIT');

    const before = await api.stats();
    for (let i = 0; i < 2; i++) {
      const res = await api.crew(HANK, 'support-triage').expect(404);
      expect(xCache(res)).toBe('MISS');
    }
    // Both requests ran the handler (the second was not served from a cache).
    expect((await api.stats()).loaderErrors - before.loaderErrors).toBe(2);
    // The keys CacheInterceptor and @Cacheable use: Acme's entries are there, Globex's never were.
    const responseKey = 'http:/crews/support-triage#CrewsController.crew';
    expect(await cache.has(responseKey, { tenant: 'acme' })).toBe(true);
    expect(await cache.has('crew:acme:support-triage', { tenant: 'acme' })).toBe(true);
    expect(await cache.has(responseKey, { tenant: 'globex' })).toBe(false);
    expect(await cache.has('crew:globex:support-triage', { tenant: 'globex' })).toBe(false);

    await api.patch(HANK, 'support-triage', { name: 'Hijacked' }).expect(404);
    const acmeAfter = await api.crew(ADA, 'support-triage').expect(200);
    expect(xCache(acmeAfter)).toBe('HIT');
    expect(acmeAfter.body).toEqual(acmeBefore.body);
  });

  it('refuses an invalid PATCH with 400 naming the field, and changes and invalidates nothing', async () => {
    await api.crew(HANK, 'release-notes').expect(200);
    const cached = await api.crew(HANK, 'release-notes').expect(200);
    expect(xCache(cached)).toBe('HIT');

    const cases: Array<[unknown, string]> = [
      [{}, 'body'],
      [{ name: '' }, 'name'],
      [{ name: 'x'.repeat(101) }, 'name'],
      [{ name: 42 }, 'name'],
      [{ agents: 'a-5' }, 'agents'],
      [{ agents: [] }, 'agents'],
      [{ agents: [{ model: 'gpt-4o' }] }, 'agents.0.id'],
      [{ agents: [{ id: 'a-5', model: 7 }] }, 'agents.0.model'],
      [{ agents: [{ id: 'a-5', budget: 10 }] }, 'agents.0.budget'],
      [{ agents: [{ id: 'a-1' }] }, 'agents.0.id'], // Acme's agent: not in this crew
      [{ agents: [{ id: 'a-5' }, { id: 'a-5', goal: 'twice' }] }, 'agents.1.id'],
      [{ config: 'fast' }, 'config'],
      [{ config: { temperature: 5 } }, 'config.temperature'],
      [{ config: { process: 'parallel' } }, 'config.process'],
      [{ config: { maxIterations: 1.5 } }, 'config.maxIterations'],
      [{ name: 'Fine', owner: 'u-ada' }, 'owner'],
    ];
    for (const [body, field] of cases) {
      const res = await api.patch(HANK, 'release-notes', body);
      expect({ body, status: res.status, named: names(res, field) }).toEqual({ body, status: 400, named: true });
    }

    const after = await api.crew(HANK, 'release-notes').expect(200);
    expect(xCache(after)).toBe('HIT');
    expect(after.body).toEqual(cached.body);
    expect((await api.list(HANK)).find((c) => c.id === 'release-notes')?.name).toBe('Release notes');
  });

  it('lets owners and operators edit a crew, not viewers', async () => {
    const res = await api.patch(PETER, 'tps-reports', { name: 'TPS reports (new cover sheet)' }).expect(403);
    expect(res.body.message).toContain('viewer');
    expect((await api.crew(PETER, 'tps-reports').expect(200)).body.name).toBe('TPS reports');
  });

  it('reads GET /company through the cache, per company', async () => {
    const cache = app.get(CacheService);
    const acme = await request(app.getHttpServer()).get('/company').set(ADA).expect(200);
    expect(acme.body).toMatchObject({ id: 'acme', name: 'Acme Corp', plan: 'enterprise' });
    expect(acme.body.members.map((m: { id: string }) => m.id)).toEqual(['u-ada', 'u-bob', 'u-cleo']);
    expect(await cache.get('company:acme', { tenant: 'acme' })).toEqual(acme.body);
    expect(await cache.has('company:acme', { tenant: 'globex' })).toBe(false);

    const before = await api.stats();
    await request(app.getHttpServer()).get('/company').set(BOB).expect(200, acme.body);
    const after = await api.stats();
    expect(after.hits - before.hits).toBe(1);
    expect(after.loaderCalls).toBe(before.loaderCalls);

    const globex = await request(app.getHttpServer()).get('/company').set(HANK).expect(200);
    expect(globex.body).toMatchObject({ id: 'globex', members: [{ id: 'u-hank', role: 'owner' }] });
  });
});

describe.each(REDIS_DRIVERS.filter((d) => d.name === 'standalone'))('demo app: two instances, one cache ($name)', (driver) => {
  let first: INestApplication;
  let second: INestApplication;

  beforeAll(async () => {
    const prefix = uniquePrefix('demo');
    first = (await bootDemo(driver, { prefix })).app;
    second = (await bootDemo(driver, { prefix })).app;
  });

  afterAll(async () => {
    await first?.close();
    await second?.close();
  });

  it('a PATCH on one instance invalidates what the other serves: its next read is a MISS with the edit', async () => {
    const one = client(first);
    const two = client(second);
    expect(xCache(await two.crew(ADA, 'market-research').expect(200))).toBe('MISS');
    expect(xCache(await two.crew(ADA, 'market-research').expect(200))).toBe('HIT');
    // The first instance is served the second's entry from Redis.
    const before = await one.stats();
    const shared = await one.crew(ADA, 'market-research').expect(200);
    expect(xCache(shared)).toBe('HIT');
    expect(shared.body.name).toBe('Market research');
    expect((await one.stats()).l2Hits - before.l2Hits).toBe(1);

    const edited = await one.patch(ADA, 'market-research', { name: 'Market research (EU)', agents: [{ id: 'a-1', model: 'gpt-4o' }] }).expect(200);
    expect(edited.body).toMatchObject({ name: 'Market research (EU)', agents: [{ id: 'a-1', model: 'gpt-4o' }, { id: 'a-2' }] });

    // Until the invalidation reaches it over the bus, the second instance may still serve its L1 copy.
    const fresh = await until(async () => {
      const res = await two.crew(ADA, 'market-research').expect(200);
      return res.body.name === 'Market research (EU)' ? res : undefined;
    }, { timeoutMs: 5_000, message: 'the second instance to serve the edited crew' });
    expect(xCache(fresh)).toBe('MISS');
    expect(fresh.body).toEqual(edited.body);
    expect(xCache(await two.crew(ADA, 'market-research').expect(200))).toBe('HIT');
    const fromTwo = await one.crew(ADA, 'market-research').expect(200);
    expect(xCache(fromTwo)).toBe('HIT');
    expect(fromTwo.body).toEqual(edited.body);

    // The crew's cached definition was dropped on the second instance by the same message.
    expect((await two.callAgent(ADA, 'market-research', 'a-1').expect(201)).body.model).toBe('gpt-4o');
    expect((await two.list(ADA)).find((c) => c.id === 'market-research')?.name).toBe('Market research (EU)');
  });
});
