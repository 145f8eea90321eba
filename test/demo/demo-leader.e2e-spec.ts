import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { LeaderView } from '../../apps/demo/src/leader/demo-coordinator.service.js';
import { uniquePrefix } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { DEMO_BACKENDS, as, bootDemo } from './demo-test-app.js';

const ADA = as('u-ada', 'acme');
const HANK = as('u-hank', 'globex');

const leaderOf = async (app: INestApplication, headers = ADA): Promise<LeaderView> =>
  (await request(app.getHttpServer()).get('/leader').set(headers).expect(200)).body as LeaderView;

describe.each(DEMO_BACKENDS)('demo app: GET /leader, one instance ($name)', (driver) => {
  let app: INestApplication;

  beforeAll(async () => {
    ({ app } = await bootDemo(driver, { env: { COORD_INSTANCE_ID: 'demo-solo' } }));
  });

  afterAll(async () => {
    await app?.close();
  });

  it('campaigns for demo-coordinator at startup and, alone, leads it', async () => {
    const view = await until(async () => {
      const current = await leaderOf(app);
      return current.leader !== null && current;
    }, { timeoutMs: 15_000, message: 'the instance to be elected' });
    expect(view).toMatchObject({ role: 'demo-coordinator', instanceId: 'demo-solo', self: true });
    expect(view.leader).toMatchObject({ role: 'demo-coordinator', tenant: '_shared', instanceId: 'demo-solo', self: true });
    expect(view.leader!.fencingToken).toBeGreaterThan(0);
  });

  it('the role is fleet-wide: every company\'s users see the same leader and term', async () => {
    const acme = await until(async () => {
      const current = await leaderOf(app, ADA);
      return current.leader !== null && current;
    }, { timeoutMs: 15_000, message: 'the instance to be elected' });
    const globex = await leaderOf(app, HANK);
    // The same term (expiresAt moves with each renewal and each read's clock).
    const term = ({ role, tenant, instanceId, fencingToken, electedAt }: NonNullable<LeaderView['leader']>) => ({ role, tenant, instanceId, fencingToken, electedAt });
    expect(term(globex.leader!)).toEqual(term(acme.leader!));
  });

  it('needs a signed-in user like the other routes', async () => {
    await request(app.getHttpServer()).get('/leader').set({ 'x-company-id': 'acme' }).expect(401);
  });
});

describe('demo app: GET /leader across two instances on one Redis (standalone)', () => {
  const driver = DEMO_BACKENDS.find((d) => d.name === 'standalone')!;
  const prefix = uniquePrefix('demo');
  const apps = new Map<string, INestApplication>();

  beforeAll(async () => {
    for (const id of ['demo-a', 'demo-b']) {
      apps.set(id, (await bootDemo(driver, { prefix, env: { COORD_INSTANCE_ID: id } })).app);
    }
  });

  afterAll(async () => {
    await Promise.all([...apps.values()].map((app) => app.close()));
  });

  it('elects exactly one; both name it; closing it hands the role to the other with a higher fencing token', async () => {
    const views = await until(async () => {
      const all = await Promise.all([...apps.values()].map((app) => leaderOf(app)));
      return all.every((v) => v.leader !== null) && all;
    }, { timeoutMs: 15_000, message: 'both instances to see a leader' });
    expect(views.map((v) => v.instanceId)).toEqual(['demo-a', 'demo-b']);
    expect(views.filter((v) => v.self)).toHaveLength(1);
    const [first] = views.filter((v) => v.self);
    expect(views.map((v) => v.leader!.instanceId)).toEqual([first.instanceId, first.instanceId]);
    expect(views.map((v) => v.leader!.fencingToken)).toEqual([first.leader!.fencingToken, first.leader!.fencingToken]);
    expect(views.map((v) => v.leader!.self)).toEqual(views.map((v) => v.self));

    // The leader shuts down: it resigns its term, so the other takes over well within a lease (10 s).
    await apps.get(first.instanceId)!.close();
    apps.delete(first.instanceId);
    const [survivor] = [...apps.values()];
    const next = await until(async () => {
      const view = await leaderOf(survivor);
      return view.self && view;
    }, { timeoutMs: 15_000, message: 'the other instance to lead' });
    expect(next.leader).toMatchObject({ instanceId: next.instanceId, self: true });
    expect(next.instanceId).not.toBe(first.instanceId);
    expect(next.leader!.fencingToken).toBeGreaterThan(first.leader!.fencingToken);
  });
});
