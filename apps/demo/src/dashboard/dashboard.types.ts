import type { BreakerState, HealthStatus, Topology } from '@nest-coordination/core';

/**
 * A lock of the company as the dashboard lists it: a crew run's lock held anywhere in the fleet
 * (`LockService.inspect`), or any lock this instance holds for the company (`LockService.held`).
 *
 * @example
 * const lock: DashboardLock = { key: 'crew-run:market-research', fencingToken: 1795979105679001, owner: 'host-1-2:7', expiresInMs: 8_412, waiters: 0, local: true, renewals: 1, heldForMs: 3_105 };
 */
export interface DashboardLock {
  key: string;
  /** The holder's fencing token (strictly increasing per key). */
  fencingToken: number;
  /** Owner of the hold: `<instanceId>:<token>` unless the code that took it named one. */
  owner: string;
  /** Time left before the hold expires unless renewed, ms; absent when the store cannot tell. */
  expiresInMs?: number;
  /** Attempts queued for the lock. */
  waiters: number;
  /** Whether this instance holds it (else another instance of the fleet does). */
  local: boolean;
  /** Renewals so far (locks held by this instance only). */
  renewals?: number;
  /** How long it has been held, ms (locks held by this instance only). */
  heldForMs?: number;
}

/**
 * One minute of rate-limit decisions of this instance (every company: the library counts them
 * per instance, not per tenant).
 *
 * @example
 * const minute: DecisionMinute = { minute: '2026-01-05T10:41:00.000Z', allowed: 42, denied: 3 };
 */
export interface DecisionMinute {
  /** Start of the minute, ISO 8601. */
  minute: string;
  allowed: number;
  denied: number;
}

/**
 * One minute of the company's rate-limit violations, from its violation log (every instance's).
 *
 * @example
 * const minute: ViolationMinute = { minute: '2026-01-05T10:41:00.000Z', count: 3 };
 */
export interface ViolationMinute {
  minute: string;
  count: number;
}

/**
 * A recent violation as the dashboard shows it: when, which policy, which counter key.
 *
 * @example
 * const v: RecentViolation = { at: '2026-01-05T10:41:12.345Z', policy: 'agent-call-user', key: 'user:u-ada', scope: 'user' };
 */
export interface RecentViolation {
  at: string;
  policy: string;
  key: string;
  scope?: string;
}

/**
 * The cache of this instance (every company: the library counts per instance): since boot and
 * over the minutes the dashboard keeps.
 *
 * @example
 * const cache: DashboardCache = { hitRatio: 0.92, hits: 1_200, misses: 104, staleServes: 3, l1Entries: 57, recent: { hits: 40, misses: 2, hitRatio: 0.952 } };
 */
export interface DashboardCache {
  hitRatio: number;
  hits: number;
  misses: number;
  staleServes: number;
  l1Entries: number;
  /** The minutes the dashboard keeps (`DASHBOARD_MINUTES`); `hitRatio` is null before the first read. */
  recent: { hits: number; misses: number; hitRatio: number | null };
}

/**
 * A consumer group of one of the company's durable streams.
 *
 * @example
 * const group: DashboardStreamGroup = { stream: 'crew-events', group: 'crew-run-history', consumers: 2, pending: 0, lag: 0 };
 */
export interface DashboardStreamGroup {
  stream: string;
  group: string;
  consumers: number;
  /** Delivered, not acknowledged yet. */
  pending: number;
  /** Entries not delivered to the group yet; null when Redis cannot tell (after deletions). */
  lag: number | null;
}

/**
 * Redis as this instance's connection sees it (the memory driver is always `up`).
 *
 * @example
 * const redis: DashboardRedis = { driver: 'redis', status: 'up', breaker: 'closed', topology: 'standalone', pingLatencyMs: 0.4, reconnects: 0 };
 */
export interface DashboardRedis {
  driver: 'redis' | 'memory';
  status: HealthStatus;
  breaker?: BreakerState;
  topology?: Topology;
  pingLatencyMs?: number;
  reconnects?: number;
}

/** The parts of a snapshot read from the coordination layer, each of which may be unavailable on its own. */
export type DashboardPart = 'locks' | 'rateLimits' | 'sessions' | 'queues' | 'streams';

/**
 * What `GET /dashboard/snapshot` answers and `GET /dashboard/stream` pushes: the state of one
 * company (the caller's) at `at`. Locks, violations, sessions, queues and streams are the
 * company's across the fleet; rate-limit decisions and the cache are this instance's counters.
 * A part that could not be read (Redis down) is named in `unavailable` and left empty.
 *
 * @example
 * const snapshot = (await request(app).get('/dashboard/snapshot').set(ADA)).body as DashboardSnapshot;
 * snapshot.locks.find((lock) => lock.key === 'crew-run:market-research')?.fencingToken;
 */
export interface DashboardSnapshot {
  companyId: string;
  /** The instance that answered (its counters are the instance-wide figures). */
  instanceId: string;
  /** When the snapshot was taken, ISO 8601. */
  at: string;
  locks: DashboardLock[];
  rateLimits: {
    /** This instance's decisions per minute, oldest first (`DASHBOARD_MINUTES` of them). */
    decisions: DecisionMinute[];
    /** The company's violations per minute, oldest first. */
    violations: ViolationMinute[];
    /**
     * The company's violation log was full (the library keeps the newest
     * `rateLimit.violations.maxPerTenant`, 1 000 by default): older violations of the window
     * were dropped, so `violations` counts at least that many, maybe more.
     */
    violationsTruncated: boolean;
    /** The company's newest violations, newest first (at most `RECENT_VIOLATIONS`). */
    recent: RecentViolation[];
  };
  cache: DashboardCache;
  /** Live sessions of the company (every instance's); null when unavailable. */
  sessions: { active: number | null };
  /** Depth of each of the demo's task queues for the company (waiting, not started). */
  queues: Array<{ name: string; depth: number }>;
  streams: DashboardStreamGroup[];
  redis: DashboardRedis;
  unavailable: DashboardPart[];
}
