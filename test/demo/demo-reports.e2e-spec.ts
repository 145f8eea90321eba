import type { INestApplication } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CoordinationCore, EventBus, type CoordinationEvent } from '@nest-coordination/core';
import request from 'supertest';
import { NIGHTLY_REPORT_CRON, demoConfigFromEnv } from '../../apps/demo/src/demo.config.js';
import { REPORT_GENERATED, type CompanyReport } from '../../apps/demo/src/reports/company-report.model.js';
import { NIGHTLY_REPORT_JOB } from '../../apps/demo/src/reports/nightly-report.job.js';
import { uniquePrefix } from '../support/drivers.js';
import { until } from '../support/wait.js';
import { DEMO_BACKENDS, as, bootDemo, recordedRun } from './demo-test-app.js';

const ADA = as('u-ada', 'acme');
const HANK = as('u-hank', 'globex');
const COMPANIES = ['acme', 'globex', 'initech'];
const EVERY_SECOND = '* * * * * *';

/** Ticks a report covers fully observed: every tick but the first seen (it may have started before the subscriptions) and the last (its reports may still be arriving). */
/** How often the instance's scheduler fired the job, run or skipped (another instance had the tick, or was running one). */
const firings = (app: INestApplication): number => {
  const { metrics } = app.get(CoordinationCore);
  const job = NIGHTLY_REPORT_JOB;
  return metrics.counter('singleton_job_runs_total', { job, outcome: 'completed' }) + metrics.counter('singleton_job_runs_total', { job, outcome: 'failed' })
    + (['taken', 'running', 'late'] as const).reduce((n, reason) => n + metrics.counter('singleton_job_skips_total', { job, reason }), 0);
};

const settledTicks = (reports: CompanyReport[]): string[] => [...new Set(reports.map((r) => r.scheduledAt))].sort().slice(1, -1);

describe('demo app: DEMO_REPORT_CRON', () => {
  it('sets when the nightly report runs; unset, it runs at 02:00', async () => {
    expect(demoConfigFromEnv({ DEMO_REPORT_CRON: ` ${EVERY_SECOND} ` }).reports).toEqual({ cron: EVERY_SECOND });
    expect(demoConfigFromEnv({}).reports).toEqual({});
    expect(NIGHTLY_REPORT_CRON).toBe('0 0 2 * * *');
    expect(() => demoConfigFromEnv({ DEMO_REPORT_CRON: 'nightly' })).toThrow(/DEMO_REPORT_CRON must be a cron expression/);
  });

  it('schedules the job with the nightly default when unset', async () => {
    const { app } = await bootDemo(DEMO_BACKENDS[0]);
    try {
      const job = app.get(SchedulerRegistry).getCronJob(NIGHTLY_REPORT_JOB);
      expect(job.cronTime.source).toBe(NIGHTLY_REPORT_CRON);
    } finally {
      await app.close();
    }
  });
});

describe.each(DEMO_BACKENDS)('demo app: the nightly report, every second ($name)', (driver) => {
  // Two instances of one deployment on Redis; the memory driver is one process.
  const instances = driver.name === 'memory' ? ['demo-a'] : ['demo-a', 'demo-b'];
  const prefix = uniquePrefix('demo');
  const apps: INestApplication[] = [];
  const received = new Map<string, CompanyReport[]>(COMPANIES.map((c) => [c, []]));
  const unsubscribe: Array<() => void> = [];

  beforeAll(async () => {
    for (const id of instances) {
      apps.push((await bootDemo(driver, { prefix, env: { COORD_INSTANCE_ID: id, DEMO_REPORT_CRON: EVERY_SECOND } })).app);
    }
    // Every company's reports, from whichever instance ran the tick, as one subscriber of the fleet sees them.
    const bus = apps[0].get(EventBus);
    for (const company of COMPANIES) {
      const stream = bus.on<CompanyReport>(REPORT_GENERATED, { tenant: company });
      const subscription = stream.subscribe((event: CoordinationEvent<CompanyReport>) => received.get(company)!.push(event.payload));
      unsubscribe.push(() => subscription.unsubscribe());
      await stream.ready();
    }
  });

  afterAll(async () => {
    for (const stop of unsubscribe) stop();
    await Promise.all(apps.map((app) => app.close()));
  });

  it(`publishes report.generated once per tick per company, across ${instances.length} instance(s)`, async () => {
    await until(() => settledTicks(received.get('acme')!).length >= 4, { timeoutMs: 20_000, message: 'four settled ticks of acme reports' });
    const ticks = settledTicks(received.get('acme')!).slice(0, 4);
    const tokens: number[] = [];
    for (const tick of ticks) {
      const perCompany = COMPANIES.map((company) => received.get(company)!.filter((r) => r.scheduledAt === tick));
      // Once per tick per company: every instance's scheduler fired, one of them ran the tick.
      expect(perCompany.map((reports) => reports.length)).toEqual([1, 1, 1]);
      const [acme, globex, initech] = perCompany.map(([report]) => report);
      expect([acme.companyId, globex.companyId, initech.companyId]).toEqual(COMPANIES);
      // One run of the job per tick: the same fencing token and instance for every company.
      expect(new Set([acme, globex, initech].map((r) => `${r.fencingToken} ${r.instanceId}`)).size).toBe(1);
      expect(instances).toContain(acme.instanceId);
      expect(new Date(tick).getUTCMilliseconds()).toBe(0);
      expect(Date.parse(acme.from)).toBe(Date.parse(tick) - 86_400_000);
      tokens.push(acme.fencingToken);
    }
    expect(tokens).toEqual([...tokens].sort((a, b) => a - b));
    expect(new Set(tokens).size).toBe(tokens.length);
    // Not one instance ticking alone: every instance's scheduler fired the job.
    for (const app of apps) {
      expect(app.get(SchedulerRegistry).getCronJob(NIGHTLY_REPORT_JOB).cronTime.source).toBe(EVERY_SECOND);
      expect(firings(app)).toBeGreaterThan(0);
    }
  });

  it('counts the company\'s runs of the last day, per crew', async () => {
    const run = await request(apps[0].getHttpServer()).post('/crews/market-research/runs?durationMs=0').set(ADA).expect(201);
    const recorded = await recordedRun(apps[0], ADA, 'market-research', run.body.id);
    const report = await until(
      () => received.get('acme')!.find((r) => Date.parse(r.scheduledAt) >= Date.parse(recorded.finishedAt!)),
      { timeoutMs: 10_000, message: 'a report of acme after the run' },
    );
    expect(report).toMatchObject({ companyId: 'acme', runs: 1, succeeded: 1, failed: 0, aborted: 0 });
    // The seeded runs finished long before the day reported.
    expect(report.crews).toEqual([
      { crewId: 'market-research', runs: 1, succeeded: 1, failed: 0, aborted: 0 },
      { crewId: 'support-triage', runs: 0, succeeded: 0, failed: 0, aborted: 0 },
    ]);
    // The tick's reports of the other companies follow acme's.
    const globex = await until(() => received.get('globex')!.find((r) => r.scheduledAt === report.scheduledAt), {
      timeoutMs: 5_000, message: 'the globex report of the same tick',
    });
    expect(globex).toMatchObject({ companyId: 'globex', runs: 0, fencingToken: report.fencingToken });
  });

  it('GET /reports/latest answers the company\'s latest report on every instance', async () => {
    for (const app of apps) {
      for (const [headers, company] of [[ADA, 'acme'], [HANK, 'globex']] as const) {
        // The latest is one of the reports published (a newer one may be published meanwhile: poll).
        const latest = await until(async () => {
          const res = await request(app.getHttpServer()).get('/reports/latest').set(headers).expect(200);
          const report = res.body as CompanyReport;
          return received.get(company)!.some((r) => r.scheduledAt === report.scheduledAt && r.fencingToken === report.fencingToken) && report;
        }, { timeoutMs: 10_000, message: `the latest report of ${company} among those published` });
        expect(latest.companyId).toBe(company);
        expect(received.get(company)!.find((r) => r.scheduledAt === latest.scheduledAt)).toEqual(latest);
      }
    }
  });
});

describe('demo app: GET /reports/latest before any report', () => {
  let app: INestApplication;

  beforeAll(async () => {
    ({ app } = await bootDemo(DEMO_BACKENDS[0]));
  });

  afterAll(async () => {
    await app?.close();
  });

  it('is 404 until the first report, and needs a signed-in user', async () => {
    const res = await request(app.getHttpServer()).get('/reports/latest').set(ADA).expect(404);
    expect(res.body.message).toContain('No report yet');
    await request(app.getHttpServer()).get('/reports/latest').set({ 'x-company-id': 'acme' }).expect(401);
  });
});
