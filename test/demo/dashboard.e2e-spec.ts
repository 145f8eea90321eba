import type { AddressInfo } from 'node:net';
import { jest } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { CoordinationCore, EventBus, LockService, RateLimitService, SessionService, type CoordinationEvent } from '@nest-coordination/core';
import { Redis } from 'ioredis';
import request from 'supertest';
import { AppModule } from '../../apps/demo/src/app.module.js';
import { CrewsService } from '../../apps/demo/src/crews/crews.service.js';
import { DashboardFeed } from '../../apps/demo/src/dashboard/dashboard-feed.service.js';
import { DASHBOARD_CONFIG, DEFAULT_DASHBOARD_CONFIG, type DashboardConfig } from '../../apps/demo/src/dashboard/dashboard.config.js';
import { DashboardService } from '../../apps/demo/src/dashboard/dashboard.service.js';
import type { DashboardSnapshot } from '../../apps/demo/src/dashboard/dashboard.types.js';
import { DASHBOARD_MINUTES, InstanceHistory } from '../../apps/demo/src/dashboard/instance-history.js';
import { DEFAULT_STREAMS_CONFIG, SESSION_COOKIE, demoConfigFromEnv, type DemoConfig } from '../../apps/demo/src/demo.config.js';
import { testRedisUrl } from '../harness/env.js';
import { bootApp } from '../support/boot.js';
import { REDIS_DRIVERS, uniquePrefix, type DriverCase } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { DEMO_BACKENDS, SseClient, as, type SseMessage } from './demo-test-app.js';

// Per-user quotas (5 runs a minute) are shared by the whole file: each test acts as its own users where it can.
const ADA = as('u-ada', 'acme');
const BOB = as('u-bob', 'acme');
const CLEO = as('u-cleo', 'acme');
const HANK = as('u-hank', 'globex');
const PETER = as('u-peter', 'initech');

/**
 * No snapshot from the timer within a test: what arrives after the first one was pushed by a
 * lock change (or by the lock-event subscription's confirmation). No session check either: a
 * stream that ends with its session was ended by the session's events.
 */
const LOCK_CHANGES_ONLY: DashboardConfig = { ...DEFAULT_DASHBOARD_CONFIG, intervalMs: 600_000, sessionCheckMs: 600_000 };

const STREAM = '/dashboard/stream';

/** The last message of a stream whose session ended. */
const SESSION_ENDED: SseMessage = { type: 'session-ended', data: { code: 'E_SESSION_ENDED', detail: expect.stringContaining('log in again') } };

/** What a test changes in the demo it boots, besides the dashboard's settings. */
interface DashboardBootOptions {
  /** Default: a unique one. */
  prefix?: string;
  /** Redis to use instead of the test server (an ACL user in the URL); ignored on memory. */
  redisUrl?: string;
  configure?(config: DemoConfig): DemoConfig;
}

/** Boots the demo like `bootDemo`, with the dashboard's refresh settings replaced. */
async function bootDashboardDemo(
  driver: DriverCase, dashboard: DashboardConfig, options: DashboardBootOptions = {},
): Promise<{ app: INestApplication; port: number }> {
  const env = driver.name === 'memory' ? {} : { REDIS_URL: options.redisUrl ?? testRedisUrl() };
  const fromEnv = demoConfigFromEnv({ ...env, COORD_KEY_PREFIX: options.prefix ?? uniquePrefix('dash') });
  const config = options.configure?.(fromEnv) ?? fromEnv;
  const { app } = await bootApp(null, {
    imports: [AppModule.register(config)],
    overrides: [{ token: DASHBOARD_CONFIG, factory: () => dashboard }],
  });
  await app.listen(0, '127.0.0.1');
  return { app, port: (app.getHttpServer().address() as AddressInfo).port };
}

function snapshots(sse: SseClient): DashboardSnapshot[] {
  return sse.typed.filter((message) => message.type === 'snapshot').map((message) => message.data as DashboardSnapshot);
}

function latest(sse: SseClient): DashboardSnapshot | undefined {
  return snapshots(sse).at(-1);
}

function lockKeys(snapshot: DashboardSnapshot | undefined): string[] {
  return snapshot?.locks.map((lock) => lock.key) ?? [];
}

const sum = <T>(items: readonly T[], of: (item: T) => number): number => items.reduce((total, item) => total + of(item), 0);

/** The session cookie `POST /auth/login` set, as a `cookie` header. */
function sessionCookie(login: request.Response): Record<string, string> {
  const setCookie = ([] as string[]).concat(login.headers['set-cookie'] ?? []);
  const cookie = setCookie.map((line) => line.split(';')[0]).find((pair) => pair.startsWith(`${SESSION_COOKIE}=`));
  if (cookie === undefined) throw new Error(`POST /auth/login set no ${SESSION_COOKIE} cookie: ${JSON.stringify(setCookie)}`);
  return { cookie };
}

describe.each(DEMO_BACKENDS)('demo dashboard: snapshot and live stream ($name)', (driver) => {
  let app: INestApplication;
  let port: number;
  const open: SseClient[] = [];

  beforeAll(async () => {
    ({ app, port } = await bootDashboardDemo(driver, LOCK_CHANGES_ONLY));
  });

  afterEach(() => {
    for (const sse of open.splice(0)) sse.close();
  });

  afterAll(async () => {
    await app?.close();
  });

  const server = () => app.getHttpServer();
  const stream = async (headers: Record<string, string>): Promise<SseClient> => {
    const sse = await SseClient.open(port, headers, STREAM);
    open.push(sse);
    return sse;
  };
  const firstSnapshot = (sse: SseClient, who: string) =>
    until(() => latest(sse), { timeoutMs: 10_000, message: `the first snapshot of ${who}'s stream` });
  // A feed reads a snapshot when it starts and again once its lock-event subscription is confirmed:
  // from the second one on, every lock change of the company is pushed.
  const subscribed = (sse: SseClient, who: string) =>
    until(() => snapshots(sse).length >= 2, { timeoutMs: 10_000, message: `${who}'s feed to be subscribed to the lock events` });
  const run = (headers: Record<string, string>, crewId: string, durationMs: number) =>
    request(server()).post(`/crews/${crewId}/runs?durationMs=${durationMs}`).set(headers).then((res) => {
      expect(res.status).toBe(201);
      return res.body as { fencingToken: number };
    });

  it('serves the page, its script and its stylesheet to anyone, the page with a content security policy', async () => {
    const page = await request(server()).get('/dashboard').expect(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.text).toContain('<h1>Coordination dashboard</h1>');
    expect(page.text).toContain('<script src="/dashboard/dashboard.js" defer></script>');

    const script = await request(server()).get('/dashboard/dashboard.js').expect(200);
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.text).toContain("new EventSource('/dashboard/stream')");
    // Data reaches the page as text only.
    expect(script.text).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
    const styles = await request(server()).get('/dashboard/dashboard.css').expect(200);
    expect(styles.headers['content-type']).toBe('text/css; charset=utf-8');
    for (const file of [page, script, styles]) {
      expect(file.headers['cache-control']).toBe('no-cache');
      expect(file.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('refuses the snapshot and the stream without a valid session, and starts no feed for them', async () => {
    const forged = { cookie: `${SESSION_COOKIE}=s%3Aacme.forged.c2lnbmF0dXJl` };
    await request(server()).get('/dashboard/snapshot').expect(400); // no company, no user: E_TENANT_REQUIRED
    await request(server()).get('/dashboard/snapshot').set({ 'x-company-id': 'acme' }).expect(401);
    await request(server()).get('/dashboard/snapshot').set(forged).expect(401);

    for (const [headers, status] of [[{}, 400], [{ 'x-company-id': 'acme' }, 401], [forged, 401]] as const) {
      const sse = await stream(headers);
      expect(sse.status).toBe(status);
      expect(sse.contentType).not.toContain('text/event-stream');
      await sse.whenEnded();
      expect(snapshots(sse)).toEqual([]);
    }
    expect(app.get(DashboardFeed).runningFeeds()).toBe(0);
  });

  it("shows the caller's company: Redis health, queue depths, stream lag, live sessions, cache hit ratio, rate-limit decisions and violations", async () => {
    // A session, as the page has it (the cookie).
    const browser = request.agent(server());
    await browser.post('/auth/login').send({ userId: 'u-bob', companyId: 'acme' }).expect(201);
    // Cleo's agent calls: a burst of 5 passes, then one is denied (and recorded as a violation);
    // the bucket refills 2 a second, so more may pass on a slow machine before one is denied.
    const calls: number[] = [];
    while (!calls.includes(429) && calls.length < 50) calls.push((await request(server()).post('/crews/market-research/agents/a-1/calls').set(CLEO)).status);
    expect(calls.slice(0, 5)).toEqual([201, 201, 201, 201, 201]);
    expect(calls.at(-1)).toBe(429);
    // A cached response read twice: a miss, then a hit.
    await request(server()).get('/crews/support-triage').set(BOB).expect(200);
    await request(server()).get('/crews/support-triage').set(BOB).expect(200);
    await run(BOB, 'support-triage', 0);
    // The counters are sampled every second; sample now rather than wait for it. The sample reads
    // the two counters it needs, not a copy of every series with its quantiles.
    const copied = jest.spyOn(app.get(CoordinationCore).metrics, 'snapshot');
    try {
      app.get(InstanceHistory).sample(Date.now());
      expect(copied).not.toHaveBeenCalled();
    } finally {
      copied.mockRestore();
    }

    const snapshot = (await browser.get('/dashboard/snapshot').expect(200)).body as DashboardSnapshot;
    expect(snapshot).toMatchObject({ companyId: 'acme', locks: [], unavailable: [] });
    expect(snapshot.redis).toEqual(driver.name === 'memory'
      ? { driver: 'memory', status: 'up' }
      : expect.objectContaining({ driver: 'redis', status: 'up', breaker: 'closed', topology: 'standalone', reconnects: 0 }));
    expect(snapshot.queues).toEqual([{ name: 'crew.agent-step', depth: expect.any(Number) }]);
    expect(snapshot.streams).toContainEqual(expect.objectContaining({ stream: 'crew-events', group: 'crew-run-history', pending: expect.any(Number) }));
    expect(snapshot.sessions.active).toBeGreaterThanOrEqual(1);
    expect(snapshot.cache.hits).toBeGreaterThanOrEqual(1);
    expect(snapshot.cache.recent.hits).toBeGreaterThanOrEqual(1);
    expect(snapshot.cache.recent.hitRatio).toBeGreaterThan(0);

    const { decisions, violations, recent } = snapshot.rateLimits;
    expect(decisions).toHaveLength(DASHBOARD_MINUTES);
    expect(violations).toHaveLength(DASHBOARD_MINUTES);
    expect(sum(decisions, (m) => m.allowed)).toBeGreaterThanOrEqual(5);
    expect(sum(decisions, (m) => m.denied)).toBeGreaterThanOrEqual(1);
    expect(sum(violations, (m) => m.count)).toBeGreaterThanOrEqual(1);
    expect(snapshot.rateLimits.violationsTruncated).toBe(false);
    expect(recent[0]).toMatchObject({ policy: 'agent-call-user', key: 'user:u-cleo', scope: 'user' });

    // Another company sees none of Acme's violations.
    const globex = (await request(server()).get('/dashboard/snapshot').set(HANK).expect(200)).body as DashboardSnapshot;
    expect(globex.companyId).toBe('globex');
    expect(sum(globex.rateLimits.violations, (m) => m.count)).toBe(0);
    expect(globex.rateLimits.recent).toEqual([]);
  });

  it("pushes a crew run as a held lock of its own company only, on the lock events (not the timer), and drops it when the run ends", async () => {
    const acme = await stream(ADA);
    const globex = await stream(HANK);
    await subscribed(acme, 'Acme');
    await subscribed(globex, 'Globex');

    // Globex runs its crew called market-research (Acme has one of the same name) and release-notes.
    const globexRuns = Promise.all([run(HANK, 'market-research', 2_000), run(HANK, 'release-notes', 2_000)]);
    await until(() => lockKeys(latest(globex)).length === 2, { timeoutMs: 10_000, message: "Globex's two run locks on its stream" });
    expect(lockKeys(latest(globex))).toEqual(['crew-run:market-research', 'crew-run:release-notes']);
    // Read now, while Globex holds both: nothing of it in Acme's snapshot.
    const acmeMeanwhile = (await request(server()).get('/dashboard/snapshot').set(ADA).expect(200)).body as DashboardSnapshot;
    expect(acmeMeanwhile.locks).toEqual([]);

    const acmeRun = run(ADA, 'market-research', 1_000);
    const shown = await until(() => latest(acme)?.locks.find((lock) => lock.key === 'crew-run:market-research'), {
      timeoutMs: 10_000, message: "Acme's run lock on Acme's stream",
    });
    const { fencingToken } = await acmeRun;
    expect(shown).toMatchObject({ fencingToken, waiters: 0 });
    await globexRuns;

    await until(() => latest(acme)?.locks.length === 0 && latest(globex)?.locks.length === 0, {
      timeoutMs: 10_000, message: 'both streams to show the locks released',
    });
    for (const snapshot of snapshots(acme)) {
      expect(snapshot.companyId).toBe('acme');
      expect(lockKeys(snapshot).every((key) => key === 'crew-run:market-research')).toBe(true);
      for (const lock of snapshot.locks) expect(lock.fencingToken).toBe(fencingToken);
    }
    expect(snapshots(globex).every((snapshot) => snapshot.companyId === 'globex')).toBe(true);
  });

  it("shows an attempt queued for a crew's run lock as a waiter of the holder's lock (LockService.inspect), and none once it took the lock", async () => {
    const locks = app.get(LockService);
    const metrics = app.get(CoordinationCore).metrics;
    const key = 'crew-run:support-triage';
    const shownLock = async () => {
      const snapshot = (await request(server()).get('/dashboard/snapshot').set(BOB).expect(200)).body as DashboardSnapshot;
      return snapshot.locks.filter((lock) => lock.key === key);
    };
    const contendedBefore = metrics.counter('lock_contended_total', { kind: 'mutex' });
    const holder = await locks.acquire(key, { tenant: 'acme' });
    // Fair waiting: the second attempt joins the lock's queue (each attempt is its own owner).
    const giveUp = new AbortController();
    const waiting = locks.acquire(key, { tenant: 'acme', waitMs: 30_000, signal: giveUp.signal });
    waiting.catch(() => undefined);
    try {
      await until(() => metrics.counter('lock_contended_total', { kind: 'mutex' }) > contendedBefore, {
        timeoutMs: 10_000, message: 'the second attempt to join the queue',
      });
      expect(await shownLock()).toEqual([expect.objectContaining({ fencingToken: holder.fencingToken, waiters: 1, local: true })]);

      await holder.release();
      const handedOver = await waiting;
      expect(handedOver.fencingToken).toBeGreaterThan(holder.fencingToken);
      expect(await shownLock()).toEqual([expect.objectContaining({ fencingToken: handedOver.fencingToken, waiters: 0 })]);
      await handedOver.release();
      expect(await shownLock()).toEqual([]);
    } finally {
      // Nothing left waiting or held when an assertion failed first (no-ops otherwise).
      giveUp.abort();
      await holder.release().catch(() => undefined);
      await (await waiting.catch(() => null))?.release().catch(() => undefined);
    }
  });

  it('shares one feed between the clients of a company and stops it when the last one leaves: no snapshot is read for it after', async () => {
    const feed = app.get(DashboardFeed);
    // The clients of the tests before have gone (their sockets closed as each test ended).
    await until(() => feed.runningFeeds() === 0, { timeoutMs: 5_000, message: 'the feeds of the tests before to stop' });
    const read = jest.spyOn(app.get(DashboardService), 'snapshot');
    try {
      const first = await stream(BOB);
      const second = await stream(ADA);
      await firstSnapshot(first, 'Bob');
      await firstSnapshot(second, 'Ada');
      expect(feed.watching('acme')).toBe(2);
      expect(feed.runningFeeds()).toBe(1);

      first.close();
      await until(() => feed.watching('acme') === 1, { timeoutMs: 5_000, message: "the server to see Bob's client leave" });
      expect(feed.runningFeeds()).toBe(1);
      second.close();
      await until(() => feed.watching('acme') === 0 && feed.runningFeeds() === 0, { timeoutMs: 5_000, message: 'the feed to stop' });

      // A lock change in Acme, seen by a listener of our own: the stopped feed reads no snapshot for it.
      const calls = read.mock.calls.length;
      const released: CoordinationEvent[] = [];
      const events = app.get(EventBus).on('lock.released', { tenant: 'acme' });
      const subscription = events.subscribe((event) => released.push(event));
      try {
        await events.ready();
        await run(BOB, 'market-research', 0);
        await until(() => released.length > 0, { timeoutMs: 10_000, message: 'lock.released of the run' });
      } finally {
        subscription.unsubscribe();
      }
      expect(read.mock.calls.length).toBe(calls);
    } finally {
      read.mockRestore();
    }
  });

  it("ends a stream opened with a session when that session ends (logout, logout everywhere; cookie or bearer token), not one of the x-user-id header", async () => {
    const login = (query = '') => request(server()).post(`/auth/login${query}`).send({ userId: 'u-hank', companyId: 'globex' }).expect(201);
    const laptop = sessionCookie(await login());
    const phone = sessionCookie(await login());
    const script = { authorization: `Bearer ${(await login('?token=true')).body.token as string}` };
    // The laptop's is the first client of Globex's feed (the clients of the tests before have gone): it sees the feed subscribed.
    await until(() => app.get(DashboardFeed).runningFeeds() === 0, { timeoutMs: 5_000, message: 'the feeds of the tests before to stop' });
    const byLaptop = await stream(laptop);
    const byPhone = await stream(phone);
    const byScript = await stream(script);
    const byHeader = await stream(HANK);
    for (const [sse, who] of [[byLaptop, 'the laptop'], [byPhone, 'the phone'], [byScript, 'the script'], [byHeader, 'the header']] as const) {
      expect(sse.status).toBe(200);
      await firstSnapshot(sse, who);
    }

    // Logging out on the laptop ends the laptop's stream only.
    await request(server()).post('/auth/logout').set(laptop).expect(204);
    await byLaptop.whenEnded("the laptop's stream to end with its session");
    expect(byLaptop.typed.at(-1)).toEqual(SESSION_ENDED);
    expect(byPhone.ended || byScript.ended || byHeader.ended).toBe(false);

    // Logging out everywhere (from the phone) ends the phone's and the script's streams.
    await request(server()).post('/auth/logout-everywhere').set(phone).expect(200, { ended: 2 });
    await byPhone.whenEnded("the phone's stream to end with its session");
    await byScript.whenEnded("the bearer token's stream to end with its session");
    expect(byPhone.typed.at(-1)).toEqual(SESSION_ENDED);
    expect(byScript.typed.at(-1)).toEqual(SESSION_ENDED);

    // The header's stream has no session: Globex's next lock change still reaches it.
    await subscribed(byLaptop, "Globex's");
    const before = snapshots(byHeader).length;
    await run(HANK, 'release-notes', 0);
    await until(() => snapshots(byHeader).length > before, { timeoutMs: 10_000, message: "a snapshot on the header's stream after the run" });
    expect(byHeader.ended).toBe(false);
    expect(byHeader.typed.filter((message) => message.type !== 'snapshot')).toEqual([]);
  });

  it('holds a user to streams.maxPerUser open streams on this instance (429 beyond), counted apart from their crew event streams', async () => {
    const feed = app.get(DashboardFeed);
    const max = DEFAULT_STREAMS_CONFIG.maxPerUser;
    const held: SseClient[] = [];
    for (let i = 0; i < max; i++) held.push(await stream(CLEO));
    expect(held.map((sse) => sse.status)).toEqual(new Array(max).fill(200));
    expect(feed.openStreams('u-cleo')).toBe(max);

    const refused = await stream(CLEO);
    expect(refused.status).toBe(429);
    await refused.whenEnded();
    expect(JSON.parse(refused.body)).toMatchObject({ statusCode: 429, message: expect.stringContaining(`${max} open dashboard streams`) });
    // Another user, and the same user's crew event stream, have their own slots.
    expect((await stream(BOB)).status).toBe(200);
    const events = await SseClient.open(port, CLEO);
    open.push(events);
    expect(events.status).toBe(200);

    // A stream that ends frees its slot.
    held[0].close();
    await until(() => feed.openStreams('u-cleo') === max - 1, { timeoutMs: 5_000, message: "the server to free the slot of Cleo's closed stream" });
    expect((await stream(CLEO)).status).toBe(200);
  });

  it("reads a company's violations, crews and sessions at most every 5 s, and drops them when its feed stops", async () => {
    const dashboard = app.get(DashboardService);
    const feed = app.get(DashboardFeed);
    // Initech has not been read by the tests before.
    expect(dashboard.cachedCompanies()).not.toContain('initech');
    const violations = jest.spyOn(app.get(RateLimitService), 'getViolations');
    const crews = jest.spyOn(app.get(CrewsService), 'crewIds');
    try {
      await request(server()).get('/dashboard/snapshot').set(PETER).expect(200);
      await request(server()).get('/dashboard/snapshot').set(PETER).expect(200);
      expect(violations.mock.calls.filter(([query]) => query?.tenant === 'initech')).toHaveLength(1);
      expect(crews.mock.calls.filter(([companyId]) => companyId === 'initech')).toHaveLength(1);
    } finally {
      violations.mockRestore();
      crews.mockRestore();
    }

    const sse = await stream(PETER);
    await firstSnapshot(sse, 'Peter');
    expect(dashboard.cachedCompanies()).toContain('initech');
    sse.close();
    await until(() => feed.runningFeeds() === 0, { timeoutMs: 5_000, message: "Initech's feed to stop" });
    expect(dashboard.cachedCompanies()).not.toContain('initech');
  });
});

describe.each(DEMO_BACKENDS)('demo dashboard: the stream over the application lifetime ($name)', (driver) => {
  it('sends a snapshot every interval without any lock change, and ends the open streams at shutdown', async () => {
    const { app, port } = await bootDashboardDemo(driver, DEFAULT_DASHBOARD_CONFIG);
    let closed = false;
    const sse = await SseClient.open(port, BOB, STREAM);
    try {
      expect(sse.status).toBe(200);
      expect(sse.contentType).toContain('text/event-stream');
      // The first, the one when the lock events are subscribed, then the timer's.
      await until(() => snapshots(sse).length >= 3, { timeoutMs: 10_000, message: 'a snapshot from the timer' });
      await app.close();
      closed = true;
      await sse.whenEnded('the stream to end at shutdown');
    } finally {
      sse.close();
      if (!closed) await app.close();
    }
  });
});

describe.each(DEMO_BACKENDS)('demo dashboard: a stream and its session ($name)', (driver) => {
  it('ends a stream whose session expired, found by the periodic check (no event announces an expiry at once)', async () => {
    const { app, port } = await bootDashboardDemo(driver, { ...LOCK_CHANGES_ONLY, sessionCheckMs: 100 });
    const session = await app.get(SessionService).create('u-ada', {}, { tenant: 'acme', companyId: 'acme', ttlMs: 1_000 });
    const sse = await SseClient.open(port, { authorization: `Bearer ${session.id}` }, STREAM);
    try {
      expect(sse.status).toBe(200);
      await sse.whenEnded('the stream to end once its session expired');
      expect(sse.typed.at(-1)).toEqual(SESSION_ENDED);
      expect(await app.get(SessionService).get(session.id, { touch: false })).toBeNull();
    } finally {
      sse.close();
      await app.close();
    }
  });
});

describe.each(DEMO_BACKENDS)('demo dashboard: a stream subscribed to after shutdown began ($name)', (driver) => {
  it('ends at once, starting no feed', async () => {
    const { app } = await bootDashboardDemo(driver, DEFAULT_DASHBOARD_CONFIG);
    const feed = app.get(DashboardFeed);
    // What the handler returned; Nest subscribes to it after that, here once the application has closed.
    const late = feed.open({ id: 'u-ada', companyId: 'acme', role: 'owner' }, undefined, new AbortController().signal);
    await app.close();
    let completed = false;
    const seen: unknown[] = [];
    const subscription = late.subscribe({ next: (message) => seen.push(message), complete: () => (completed = true) });
    try {
      expect(completed).toBe(true);
      expect(seen).toEqual([]);
      expect(feed.runningFeeds()).toBe(0);
    } finally {
      subscription.unsubscribe();
    }
  });
});

describe.each(DEMO_BACKENDS)('demo dashboard: a full violation log ($name)', (driver) => {
  it('marks the violations as truncated once the log holds as many as the library keeps', async () => {
    const kept = 3;
    const { app } = await bootDashboardDemo(driver, DEFAULT_DASHBOARD_CONFIG, {
      configure: (config) => ({ ...config, coordination: { ...config.coordination, rateLimit: { violations: { maxPerTenant: kept } } } }),
    });
    try {
      const snapshotOf = async () => (await request(app.getHttpServer()).get('/dashboard/snapshot').set(ADA).expect(200)).body as DashboardSnapshot;
      // A burst of 5 agent calls passes, then each is denied and recorded, until one more than the log keeps.
      let denied = 0;
      for (let i = 0; i < 60 && denied <= kept; i++) {
        if ((await request(app.getHttpServer()).post('/crews/market-research/agents/a-1/calls').set(ADA)).status === 429) denied += 1;
      }
      expect(denied).toBe(kept + 1);
      const snapshot = await snapshotOf();
      expect(sum(snapshot.rateLimits.violations, (m) => m.count)).toBe(kept);
      expect(snapshot.rateLimits.violationsTruncated).toBe(true);
    } finally {
      await app.close();
    }
  });
});

describe.each(REDIS_DRIVERS.filter((d) => d.name === 'standalone'))('demo dashboard: lock events whose subscription failed ($name)', (driver) => {
  const user = uniquePrefix('dashacl');
  const prefix = uniquePrefix('dash');
  let admin: Redis;

  beforeAll(() => {
    admin = new Redis(testRedisUrl());
  });

  afterAll(async () => {
    await admin?.call('ACL', 'DELUSER', user);
    admin?.disconnect();
  });

  /** Whether the server refused `user` a subscription to `channel` (its ACL log). */
  const refused = async (channel: string): Promise<boolean> => {
    const entries = (await admin.call('ACL', 'LOG', '100')) as unknown[][];
    return entries.some((entry) => {
      const fields = new Map<unknown, unknown>();
      for (let i = 0; i + 1 < entry.length; i += 2) fields.set(entry[i], entry[i + 1]);
      return fields.get('username') === user && fields.get('reason') === 'channel' && fields.get('object') === channel;
    });
  };

  it('subscribes again after a bounded delay, reads the snapshot once it holds, then pushes lock changes at once again', async () => {
    // Pattern subscriptions are refused (NOPERM) until the test allows them: the feed's PSUBSCRIBE
    // of the lock events fails on the real server, as it would when not restored after a reconnect.
    await admin.call('ACL', 'SETUSER', user, 'on', '>secret', '~*', 'resetchannels', `&${prefix}:*`, '+@all');
    const url = new URL(testRedisUrl());
    url.username = user;
    url.password = 'secret';
    const { app, port } = await bootDashboardDemo(driver, { ...LOCK_CHANGES_ONLY, resubscribe: { firstMs: 100, maxMs: 400 } }, { prefix, redisUrl: url.toString() });
    const sse = await SseClient.open(port, ADA, STREAM);
    try {
      expect(sse.status).toBe(200);
      await until(() => refused(`${prefix}:acme:events:lock.*`), { timeoutMs: 10_000, message: "the server to refuse the feed's lock-event subscription" });
      await until(() => latest(sse), { timeoutMs: 10_000, message: 'the first snapshot' });
      const before = snapshots(sse).length;
      await admin.call('ACL', 'SETUSER', user, 'allchannels');
      // The timer ticks every 10 minutes: the next snapshot is the one read when the new subscription was confirmed.
      await until(() => snapshots(sse).length > before, { timeoutMs: 10_000, message: 'the snapshot read once the subscription made again held' });
      const running = run(app, 'market-research', 1_000);
      const shown = await until(() => latest(sse)?.locks.find((lock) => lock.key === 'crew-run:market-research'), {
        timeoutMs: 10_000, message: 'the run lock pushed by its lock event',
      });
      expect(shown.fencingToken).toBe((await running).fencingToken);
    } finally {
      sse.close();
      await app.close();
    }
  });

  function run(app: INestApplication, crewId: string, durationMs: number): Promise<{ fencingToken: number }> {
    return request(app.getHttpServer()).post(`/crews/${crewId}/runs?durationMs=${durationMs}`).set(ADA).then((res) => {
      expect(res.status).toBe(201);
      return res.body as { fencingToken: number };
    });
  }
});

describe('demo dashboard: locks of the whole fleet (standalone)', () => {
  const driver = DEMO_BACKENDS.find((d) => d.name === 'standalone')!;

  it('shows a run lock another instance holds, with its fencing token (LockService.inspect)', async () => {
    const prefix = uniquePrefix('dashfleet');
    const viewer = await bootDashboardDemo(driver, DEFAULT_DASHBOARD_CONFIG, { prefix });
    const runner = await bootDashboardDemo(driver, DEFAULT_DASHBOARD_CONFIG, { prefix });
    try {
      const snapshotOf = async (app: INestApplication) => (await request(app.getHttpServer()).get('/dashboard/snapshot').set(CLEO).expect(200)).body as DashboardSnapshot;
      // `then` sends it (a supertest request is lazy); awaited once the viewer has seen its lock.
      const running = request(runner.app.getHttpServer()).post('/crews/support-triage/runs?durationMs=2000').set(CLEO).then((res) => res);
      const seen = await until(async () => (await snapshotOf(viewer.app)).locks.find((lock) => lock.key === 'crew-run:support-triage'), {
        timeoutMs: 10_000, message: 'the viewer instance to show the run lock of the other instance',
      });
      const done = await running;
      expect(done.status).toBe(201);
      expect(seen).toMatchObject({ fencingToken: done.body.fencingToken, local: false, waiters: 0 });
      expect(seen.expiresInMs).toBeGreaterThan(0);
      await until(async () => (await snapshotOf(viewer.app)).locks.length === 0, { timeoutMs: 10_000, message: 'the lock to be gone on the viewer' });
    } finally {
      await runner.app.close();
      await viewer.app.close();
    }
  });
});
