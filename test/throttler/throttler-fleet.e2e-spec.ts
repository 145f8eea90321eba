import 'reflect-metadata';
import type { BootedApp } from '../support/boot.js';
import { REDIS_DRIVERS, uniquePrefix } from '../support/drivers.js';
import { scanKeys } from '../support/scan-keys.js';
import { coordinatedApp, get } from './throttler-apps.js';

// Several instances of one app on one Redis (each its own connections, so their scripts
// interleave on the server), on the server clock: a limit holds for the fleet, not per instance;
// tenants count apart.

const LIMIT = 5;
const ONE_THROTTLER = [{ name: 'default', ttl: 60_000, limit: LIMIT }];

describe.each(REDIS_DRIVERS)('CoordinationThrottlerStorage across instances ($name)', (driver) => {
  const apps: BootedApp[] = [];
  const prefix = uniquePrefix('thrf');
  beforeAll(async () => {
    for (let i = 0; i < 3; i++) apps.push(await coordinatedApp({ ...driver.options(), prefix }, undefined, ONE_THROTTLER));
  });
  afterAll(() => Promise.all(apps.map((a) => a.close())));

  it('holds the limit for requests alternating between two instances: exactly `limit` admitted', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await get(apps[i % 2], 'page', 'alternating')).status);
    expect(statuses).toEqual([...Array(LIMIT).fill(200), ...Array(12 - LIMIT).fill(429)]);
  });

  it('admits exactly `limit` of many parallel requests spread over three instances', async () => {
    const answers = await Promise.all(Array.from({ length: 90 }, (_, i) => get(apps[i % 3], 'page', 'parallel')));
    const admitted = answers.filter((a) => a.status === 200);
    expect(admitted).toHaveLength(LIMIT);
    expect(answers.filter((a) => a.status === 429)).toHaveLength(90 - LIMIT);
    // Every admitted request saw a different count: the script counted them one at a time.
    expect(admitted.map((a) => Number(a.headers['x-ratelimit-remaining'])).sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('counts each tenant apart, under its own namespace', async () => {
    const acme: number[] = [];
    const globex: number[] = [];
    for (let i = 0; i < LIMIT + 1; i++) {
      acme.push((await get(apps[0], 'page', 'same-client', 'acme')).status);
      globex.push((await get(apps[1], 'page', 'same-client', 'globex')).status);
    }
    const expected = [...Array(LIMIT).fill(200), 429];
    expect({ acme, globex }).toEqual({ acme: expected, globex: expected });
    for (const tenant of ['acme', 'globex']) {
      expect(await scanKeys(apps[0].core, `${prefix}:${tenant}:rl:*`)).toEqual([expect.stringMatching(new RegExp(`^${prefix}:${tenant}:rl:\\{[0-9a-f]{64}\\}:thr:default$`))]);
    }
  });
});

describe('CoordinationThrottlerStorage under tenancy.required', () => {
  let app: BootedApp;
  beforeAll(async () => {
    app = await coordinatedApp({ driver: 'memory', tenancy: { required: true } }, undefined, ONE_THROTTLER);
  });
  afterAll(() => app.close());

  it('answers 400 to a request without a tenant (never counts it in a shared namespace), and counts one with a tenant', async () => {
    expect((await get(app, 'page', 'no-tenant')).status).toBe(400);
    expect((await get(app, 'page', 'with-tenant', 'acme')).status).toBe(200);
  });
});
