import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  CacheService, CoordinationCore, LockService, RateLimitService, SessionService, StreamService, TaskService, type HeldLockInfo, type LockInspection,
  type RateLimitViolation,
} from '@nest-coordination/core';
import { CREW_RUN_EVENTS } from '../crews/crew-run-events.js';
import { crewRunLockKey } from '../crews/crew-runner.service.js';
import { CrewsService } from '../crews/crews.service.js';
import { DEMO_TASKS } from '../tasks/tasks.controller.js';
import { DASHBOARD_LIMITS, type DashboardLimits } from './dashboard.config.js';
import type {
  DashboardCache, DashboardLock, DashboardPart, DashboardRedis, DashboardSnapshot, DashboardStreamGroup, RecentViolation, ViolationMinute,
} from './dashboard.types.js';
import { DASHBOARD_MINUTES, InstanceHistory } from './instance-history.js';
import { minuteOf } from './minute-counters.js';

/** Newest violations a snapshot lists. */
export const RECENT_VIOLATIONS = 5;

/**
 * How long the costly parts of a company's snapshot are reused: its live sessions (a SCAN of
 * every master), its crews (which locks to inspect) and its violation log (up to 1 000 entries).
 */
export const SLOW_REFRESH_MS = 5_000;

/** A part that keeps failing (Redis down) is logged once per this long, not once a second. */
const WARN_EVERY_MS = 30_000;

const MINUTE_MS = 60_000;

/** What is reused for `SLOW_REFRESH_MS` per company. */
interface SlowParts {
  readAt: number;
  crewIds: Promise<string[]>;
  sessions: Promise<number>;
  /** The window's violations, newest first: at most `violationsKept`. */
  violations: Promise<RateLimitViolation[]>;
}

/**
 * The state of one company for the dashboard (`DashboardSnapshot`), read from the coordination
 * layer with the tenant given explicitly (a snapshot is taken from a timer, outside any request):
 * - locks: each crew's run lock `crew-run:<crewId>` as the fleet sees it (`LockService.inspect`),
 *   and every lock this instance holds for the company (`LockService.held()`);
 * - rate limits: this instance's decisions per minute (`InstanceHistory`), the company's
 *   violations per minute and the newest ones (`RateLimitService.getViolations`, read at most
 *   every `SLOW_REFRESH_MS`; `violationsTruncated` when the log was full);
 * - the cache hit ratio (`CacheService.stats()`, this instance), live sessions
 *   (`SessionService.countForTenant`), queue depths (`TaskService.depth` of the demo's tasks),
 *   stream lag and pending (`StreamService.groups` of the crew event stream), Redis health and
 *   breaker state (this instance's connection).
 *
 * Every part is read on its own: one that fails (Redis unreachable) is named in `unavailable`
 * and left empty, the rest is still shown. The costly parts are kept per company for
 * `SLOW_REFRESH_MS`, and dropped once older (or when the company's feed stops: `forget`).
 *
 * @example
 * const snapshot = await dashboard.snapshot('acme');
 * for (const lock of snapshot.locks) console.log(lock.key, lock.fencingToken, lock.local ? 'here' : 'elsewhere');
 */
@Injectable()
export class DashboardService {
  private readonly logger = new Logger('Dashboard');
  private readonly slow = new Map<string, SlowParts>();
  private sweptAt = -Infinity;
  private readonly warnedAt = new Map<DashboardPart, number>();

  constructor(
    private readonly core: CoordinationCore,
    private readonly locks: LockService,
    private readonly rateLimits: RateLimitService,
    private readonly cache: CacheService,
    private readonly sessions: SessionService,
    private readonly tasks: TaskService,
    private readonly streams: StreamService,
    private readonly crews: CrewsService,
    private readonly history: InstanceHistory,
    @Inject(DASHBOARD_LIMITS) private readonly limits: DashboardLimits,
  ) {}

  /** The company's state now; never rejects (a part that cannot be read is listed in `unavailable`). */
  async snapshot(companyId: string): Promise<DashboardSnapshot> {
    const now = Date.now();
    const slow = this.slowParts(companyId, now);
    const unavailable: DashboardPart[] = [];
    const read = <T>(part: DashboardPart, work: () => Promise<T>, empty: T): Promise<T> =>
      work().catch((error: unknown) => {
        unavailable.push(part);
        this.warn(part, companyId, error, now);
        return empty;
      });
    const [locks, violations, sessions, queues, streams] = await Promise.all([
      read('locks', async () => this.lockRows(companyId, await slow.crewIds, now), []),
      read('rateLimits', () => slow.violations, []),
      read('sessions', () => slow.sessions, null),
      read('queues', () => Promise.all(DEMO_TASKS.map(async ({ name }) => ({ name, depth: await this.tasks.depth(name, { tenant: companyId }) }))), []),
      read('streams', () => this.streamGroups(companyId), []),
    ]);
    const minutes = this.history.minutes(now);
    return {
      companyId,
      instanceId: this.core.instanceId,
      at: new Date(now).toISOString(),
      locks,
      rateLimits: {
        decisions: minutes.map(({ minuteMs, allowed, denied }) => ({ minute: new Date(minuteMs).toISOString(), allowed, denied })),
        violations: perMinute(violations, now),
        // The log keeps the newest `violationsKept`: with that many in the window, older ones of it were dropped.
        violationsTruncated: violations.length >= this.limits.violationsKept,
        recent: violations.slice(0, RECENT_VIOLATIONS).map((v): RecentViolation => ({
          at: new Date(v.at).toISOString(), policy: v.policy, key: v.key, ...(v.scope === undefined ? {} : { scope: v.scope }),
        })),
      },
      cache: this.cacheView(minutes),
      sessions: { active: sessions },
      queues,
      streams,
      redis: this.redis(),
      unavailable: unavailable.sort(),
    };
  }

  /** Drops what is kept of the company (its feed stopped: nobody watches it here now). */
  forget(companyId: string): void {
    this.slow.delete(companyId);
  }

  /** The companies whose costly parts are kept now (for tests and diagnostics). */
  cachedCompanies(): string[] {
    return [...this.slow.keys()];
  }

  /**
   * The crews' run locks held anywhere in the fleet (`inspect`), and whatever else this instance
   * holds for the company (crew edits, ...), by key. For an inspected key the fleet's view
   * decides: right after a release this instance's list may still show the lock (it is dropped
   * once the release's answer is back, and `lock.released` may arrive first).
   */
  private async lockRows(companyId: string, crewIds: string[], now: number): Promise<DashboardLock[]> {
    const local = this.locks.held().filter((lock) => lock.tenant === companyId);
    const inspections = await Promise.all(crewIds.map((id) => this.locks.inspect(crewRunLockKey(id), { tenant: companyId })));
    const inspected = new Set(inspections.map((inspection) => inspection.key));
    const rows: DashboardLock[] = [];
    for (const inspection of inspections) {
      if (!inspection.held || inspection.fencingToken === undefined) continue;
      const mine = local.find((lock) => lock.key === inspection.key && lock.fencingToken === inspection.fencingToken);
      rows.push(fromInspection(inspection, mine, now));
    }
    for (const lock of local) if (!inspected.has(lock.key)) rows.push(fromLocal(lock, now));
    return rows.sort((a, b) => a.key.localeCompare(b.key) || a.fencingToken - b.fencingToken);
  }

  private async streamGroups(companyId: string): Promise<DashboardStreamGroup[]> {
    const groups = await this.streams.groups(CREW_RUN_EVENTS, { tenant: companyId });
    return groups.map(({ group, consumers, pending, lag }) => ({ stream: CREW_RUN_EVENTS.name, group, consumers, pending, lag }));
  }

  private cacheView(minutes: ReturnType<InstanceHistory['minutes']>): DashboardCache {
    const stats = this.cache.stats();
    let hits = 0;
    let misses = 0;
    for (const minute of minutes) {
      hits += minute.cacheHits;
      misses += minute.cacheMisses;
    }
    return {
      hitRatio: stats.hitRatio, hits: stats.hits, misses: stats.misses, staleServes: stats.staleServes, l1Entries: stats.l1Entries,
      recent: { hits, misses, hitRatio: hits + misses === 0 ? null : hits / (hits + misses) },
    };
  }

  private redis(): DashboardRedis {
    const connection = this.core.connection;
    if (!connection) return { driver: 'memory', status: 'up' };
    const health = connection.health();
    return {
      driver: 'redis', status: health.status, breaker: health.breaker, topology: health.topology, reconnects: health.reconnectCount,
      ...(health.pingLatencyMs === undefined ? {} : { pingLatencyMs: health.pingLatencyMs }),
    };
  }

  /** The company's crews, live sessions and violations, read again once `SLOW_REFRESH_MS` old (a failed read too). */
  private slowParts(companyId: string, now: number): SlowParts {
    const kept = this.slow.get(companyId);
    if (kept && now - kept.readAt < SLOW_REFRESH_MS) return kept;
    this.sweep(now);
    const parts: SlowParts = {
      readAt: now,
      crewIds: this.crews.crewIds(companyId),
      sessions: this.sessions.countForTenant({ tenant: companyId }),
      violations: this.rateLimits.getViolations({ tenant: companyId, since: windowStart(now), limit: this.limits.violationsKept }),
    };
    // Awaited by the snapshot's parts; a rejection here is theirs to report.
    parts.crewIds.catch(() => undefined);
    parts.sessions.catch(() => undefined);
    parts.violations.catch(() => undefined);
    this.slow.set(companyId, parts);
    return parts;
  }

  /** Drops the parts too old to be used again (companies read once by `GET /dashboard/snapshot`), at most once per `SLOW_REFRESH_MS`. */
  private sweep(now: number): void {
    if (now - this.sweptAt < SLOW_REFRESH_MS) return;
    this.sweptAt = now;
    for (const [companyId, parts] of this.slow) if (now - parts.readAt >= SLOW_REFRESH_MS) this.slow.delete(companyId);
  }

  private warn(part: DashboardPart, companyId: string, error: unknown, now: number): void {
    if (now - (this.warnedAt.get(part) ?? -Infinity) < WARN_EVERY_MS) return;
    this.warnedAt.set(part, now);
    this.logger.warn(`Dashboard: could not read ${part} of company "${companyId}": ${error instanceof Error ? error.message : String(error)}`);
  }
}

function fromInspection(inspection: LockInspection, mine: HeldLockInfo | undefined, now: number): DashboardLock {
  return {
    key: inspection.key,
    fencingToken: inspection.fencingToken!,
    owner: inspection.owner ?? mine?.owner ?? '',
    ...(inspection.expiresInMs === undefined ? {} : { expiresInMs: inspection.expiresInMs }),
    waiters: inspection.waiters,
    local: mine !== undefined,
    ...(mine ? { renewals: mine.renewals, heldForMs: Math.max(0, now - mine.acquiredAt.getTime()) } : {}),
  };
}

/** A lock only this instance's list shows (not inspected): its waiters are not known, 0 is shown. */
function fromLocal(lock: HeldLockInfo, now: number): DashboardLock {
  return {
    key: lock.key,
    fencingToken: lock.fencingToken,
    owner: lock.owner,
    expiresInMs: Math.max(0, lock.expiresAt.getTime() - now),
    waiters: 0,
    local: true,
    renewals: lock.renewals,
    heldForMs: Math.max(0, now - lock.acquiredAt.getTime()),
  };
}

/** Start of the oldest minute the dashboard shows. */
function windowStart(now: number): number {
  return minuteOf(now) - (DASHBOARD_MINUTES - 1) * MINUTE_MS;
}

/** The violations per minute of the dashboard's window, oldest first. */
function perMinute(violations: ReadonlyArray<{ at: number }>, now: number): ViolationMinute[] {
  const first = windowStart(now);
  const counts = new Array<number>(DASHBOARD_MINUTES).fill(0);
  for (const { at } of violations) {
    const index = Math.floor((at - first) / MINUTE_MS);
    if (index >= 0 && index < DASHBOARD_MINUTES) counts[index] += 1;
  }
  return counts.map((count, i) => ({ minute: new Date(first + i * MINUTE_MS).toISOString(), count }));
}
