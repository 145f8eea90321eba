/**
 * The chaos soak: `npm run soak -- --minutes 2` (or `--seconds 30`).
 *
 * Starts its own redis-server and three instances of the built demo (`dist/apps/demo/src/main.js`,
 * each its own process with its PORT, REDIS_URL and COORD_INSTANCE_ID), drives the demo's flows
 * over HTTP as its seeded users would (sessions, crew runs with idempotency keys, crew edits, cached
 * reads, rate-limited calls, events), while a chaos loop SIGKILLs and restarts instances and pauses
 * Redis (SIGSTOP) for a second or two. Then it lets the fleet settle, reads back what it kept, and
 * checks that nothing acknowledged was lost (soak-checks.ts). Prints a summary, then one JSON line
 * (`{"kind":"soak-summary",...}`); exits 1 when a check failed, 2 when the soak could not run.
 */
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { SEED_USERS } from '../../apps/demo/src/companies/companies.seed.js';
import { SEED_CREWS } from '../../apps/demo/src/crews/crews.seed.js';
import { findFreePort, startRedisServer, type RedisServerHandle } from '../../test/harness/redis-server.js';
import { auditFleet, type AuditReader } from './soak-audit.js';
import { runChaos, type ChaosEvent } from './soak-chaos.js';
import {
  checkCrewExclusive, checkEdits, checkFloors, checkIdempotency, checkInstances, checkRateLimits, checkRss, checkRunsRecorded, checkServerErrors, checkSessions, checkTasks,
  rssMeasurable, type CheckResult, type RssRule,
} from './soak-checks.js';
import { FleetClient } from './soak-client.js';
import { DemoInstance } from './soak-fleet.js';
import { SoakLedger } from './soak-ledger.js';
import { parseSoakArgs, Random, SOAK_INSTANCES, type SoakOptions } from './soak-options.js';
import { renderSummary, summaryJson } from './soak-summary.js';
import { UserFlows, type SoakUser } from './soak-users.js';

const MAIN_JS = fileURLToPath(new URL('../../apps/demo/src/main.js', import.meta.url));

/** Everything the soak started, so that any exit stops it. */
interface Started {
  redis?: RedisServerHandle;
  instances: DemoInstance[];
}

/** Starts Redis and the three demo instances, and waits until each answers its health check. */
async function startFleet(logDir: string, started: Started): Promise<{ redis: RedisServerHandle; instances: DemoInstance[]; bootMs: number }> {
  const redis = await startRedisServer();
  started.redis = redis;
  const secret = randomBytes(36).toString('base64');
  for (let i = 1; i <= SOAK_INSTANCES; i++) {
    const port = await findFreePort();
    const name = `soak-${i}`;
    started.instances.push(new DemoInstance({
      name, port, mainPath: MAIN_JS, logPath: join(logDir, `${name}.log`),
      env: {
        ...process.env, PORT: String(port), REDIS_URL: redis.url, COORD_KEY_PREFIX: 'soak', COORD_INSTANCE_ID: name,
        SESSION_SECRET: secret, DEMO_REPORT_CRON: '*/10 * * * * *', NO_COLOR: '1',
      },
    }));
  }
  const bootStartedAt = Date.now();
  await Promise.all(started.instances.map((i) => i.start()));
  return { redis, instances: started.instances, bootMs: Date.now() - bootStartedAt };
}

async function soak(options: SoakOptions, started: Started): Promise<CheckResult[]> {
  const rng = new Random(options.seed);
  const logDir = options.logDir ?? mkdtempSync(join(tmpdir(), 'coord-soak-'));
  mkdirSync(logDir, { recursive: true });
  log(`soak: ${options.durationMs / 1000} s of chaos, seed ${options.seed}, logs in ${logDir}`);
  const sampler = setInterval(() => started.instances.forEach((i) => i.sampleRss()), 1_000);
  const { redis, instances, bootMs } = await startFleet(logDir, started);
  log(`soak: redis on ${redis.port}, instances on ${instances.map((i) => i.port).join(', ')}`);

  const ledger = new SoakLedger();
  const chaos: ChaosEvent[] = [];
  const load = new AbortController();
  const abandon = new AbortController();
  // Every flow and chaos loop waits on the first, every request in flight on the second.
  setMaxListeners(100, load.signal);
  setMaxListeners(1_000, abandon.signal);
  const ctx = { client: new FleetClient(instances, ledger, rng, abandon.signal), ledger, rng, signal: load.signal };
  const users: SoakUser[] = SEED_USERS.map((u, i) => ({
    id: u.id, companyId: u.companyId, role: u.role, address: `127.0.0.${11 + i}`, crews: SEED_CREWS.filter((c) => c.companyId === u.companyId),
  }));
  const editors = new Set(editorsOf(users));
  const loadStartedAt = Date.now();
  const flows = users.flatMap((user) => {
    const flow = new UserFlows(user, ctx);
    return [flow.sessions(), flow.runs(), flow.browse(), flow.watch(), ...(editors.has(user.id) ? [flow.edits()] : [])];
  });
  const progress = setInterval(() => log(progressLine(loadStartedAt, ledger, chaos)), 15_000);
  const rssRule: RssRule = { warmUpMs: options.warmUpMs, windowMs: options.rssWindowMs, loadStartedAt };
  // An instance is killed only once one of its incarnations can be measured: the RSS rule measures every instance name.
  const chaosDone = runChaos(instances, redis, rng, load.signal, chaos, undefined, (i) => i.incarnations.some((inc) => rssMeasurable(inc, rssRule)));
  await sleep(options.durationMs);
  load.abort();
  const loadEndedAt = Date.now();
  const deadline = loadEndedAt + options.drainMs;
  log('soak: load stopped; waiting for requests in flight and the chaos to end');
  // A run whose agent step was on a killed instance waits until the step is taken up again (up to
  // about a minute): waited for until the deadline, then given up on (its outcome unknown).
  const flowsDone = Promise.all(flows);
  const inTime = await Promise.race([flowsDone.then(() => true), sleep(Math.max(0, deadline - Date.now()), undefined, { ref: false }).then(() => false)]);
  if (!inTime) {
    log('soak: giving up on the requests still in flight');
    abandon.abort();
    await flowsDone;
  }
  await chaosDone;
  const tailMs = Date.now() - loadEndedAt;
  clearInterval(progress);
  redis.resume();
  await Promise.all(instances.filter((i) => !i.up).map((i) => i.start()));

  log('soak: settling (run history caught up, no task waiting or running), then reading back');
  const readers: AuditReader[] = [...new Set(users.map((u) => u.companyId))].map((companyId) => {
    const members = users.filter((u) => u.companyId === companyId);
    const reader = members.find((u) => u.role === 'owner') ?? members[0];
    return { userId: reader.id, companyId, crews: reader.crews.map((c) => c.id) };
  });
  const audit = await auditFleet(instances, readers, ledger, deadline);
  clearInterval(sampler);
  log('soak: read back; checking');
  const incarnations = instances.flatMap((i) => i.incarnations);
  const rss = checkRss(incarnations, { ...rssRule, instances: instances.map((i) => i.name) });
  const checks = [
    checkCrewExclusive(ledger.runs, audit.history, audit.tasks, loadStartedAt),
    checkRunsRecorded(ledger.runs, audit),
    checkTasks(ledger.runs, audit.tasks, audit.tasksReadAt),
    checkSessions(audit.sessions, ledger.sessionRefusals, ledger.sessions.length),
    checkIdempotency(ledger.runs),
    checkEdits(ledger.edits, ledger.staleReads, audit.crewNames, new Map(SEED_CREWS.map((c) => [`${c.companyId}/${c.id}`, c.name]))),
    checkRateLimits(ledger.admissions),
    rss.check,
    checkInstances(incarnations, chaos),
    checkServerErrors(ledger.serverErrors),
  ];
  checks.push(checkFloors(checks));
  const summary = summaryJson({ options, checks, ledger, chaos, rss: rss.levels, audit, loadStartedAt, loadEndedAt, logDir, bootMs, tailMs });
  writeFileSync(join(logDir, 'summary.json'), JSON.stringify(summary, null, 2));
  writeFileSync(join(logDir, 'ledger.json'), JSON.stringify({ runs: ledger.runs, edits: ledger.edits, chaos, statuses: Object.fromEntries(ledger.statuses) }, null, 2));
  writeFileSync(join(logDir, 'rss.json'), JSON.stringify(incarnations));
  process.stdout.write(renderSummary(summary));
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return checks;
}

/** The users who edit their company's crews: one per company that has an owner or operator (edits then never race each other). */
function editorsOf(users: readonly SoakUser[]): string[] {
  const byCompany = new Map<string, SoakUser>();
  for (const user of users) if (user.role !== 'viewer' && !byCompany.has(user.companyId)) byCompany.set(user.companyId, user);
  return [...byCompany.values()].map((u) => u.id);
}

function progressLine(startedAt: number, ledger: SoakLedger, chaos: readonly ChaosEvent[]): string {
  const requests = [...ledger.statuses.values()].reduce((a, b) => a + b, 0);
  const runs = ledger.runs.filter((r) => r.run).length;
  const kills = chaos.filter((e) => e.kind === 'kill').length;
  const pauses = chaos.filter((e) => e.kind === 'redis-pause').length;
  return `soak: +${Math.round((Date.now() - startedAt) / 1000)} s: ${requests} requests, ${runs} runs answered, ${ledger.sessions.length} logins, ${kills} kills, ${pauses} Redis pauses`;
}

const SOAK_STARTED_AT = Date.now();

function log(line: string): void {
  process.stderr.write(`[${((Date.now() - SOAK_STARTED_AT) / 1000).toFixed(1)} s] ${line}\n`);
}

async function stopAll(started: Started): Promise<void> {
  await Promise.allSettled(started.instances.map((i) => i.stop()));
  await started.redis?.stop();
  log('soak: fleet and Redis stopped');
}

async function main(): Promise<number> {
  let options: SoakOptions;
  try {
    options = parseSoakArgs(process.argv.slice(2));
  } catch (error) {
    log(`soak: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
  const started: Started = { instances: [] };
  const interrupt = (): void => {
    log('soak: interrupted, stopping the fleet');
    void stopAll(started).finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    const checks = await soak(options, started);
    return checks.every((c) => c.passed) ? 0 : 1;
  } catch (error) {
    log(`soak: could not run: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return 2;
  } finally {
    await stopAll(started);
  }
}

process.exitCode = await main();
