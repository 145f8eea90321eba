import { DEFAULT_RATE_LIMIT_OPTIONS } from '@nest-coordination/core';
import type { DemoConfig } from '../demo.config.js';
import type { ResubscribeDelays } from './lasting-events.js';

/**
 * How the live dashboard refreshes.
 *
 * @example
 * providers: [{ provide: DASHBOARD_CONFIG, useValue: { ...DEFAULT_DASHBOARD_CONFIG, intervalMs: 5_000 } satisfies DashboardConfig }]
 */
export interface DashboardConfig {
  /** A new snapshot this often, besides the one each lock acquired or released triggers. */
  intervalMs: number;
  /**
   * A stream opened with a session (cookie or bearer token) checks this often that the session
   * is still live, and ends when it is not. It also ends at once on the session's end events;
   * the check catches what no event announces at once (an idle or absolute expiry: the
   * `session.expired` of the prune pass may come a minute later) and an event lost with the
   * subscription.
   */
  sessionCheckMs: number;
  /** When an event subscription that failed (lock events, session events) is made again. */
  resubscribe: ResubscribeDelays;
}

/** Injection token of the dashboard's `DashboardConfig`. */
export const DASHBOARD_CONFIG = Symbol('DASHBOARD_CONFIG');

/** A snapshot every second, the session checked every 5 s, a failed subscription made again after 1 s, 2 s, 4 s ... 30 s. */
export const DEFAULT_DASHBOARD_CONFIG: DashboardConfig = { intervalMs: 1_000, sessionCheckMs: 5_000, resubscribe: { firstMs: 1_000, maxMs: 30_000 } };

/**
 * What the dashboard takes from the demo's configuration (`dashboardLimits`).
 *
 * @example
 * const limits: DashboardLimits = { maxStreamsPerUser: 5, violationsKept: 1_000 };
 */
export interface DashboardLimits {
  /** Open `GET /dashboard/stream`s one user may hold on one instance (`streams.maxPerUser`, as for the crew event stream); the next gets 429. */
  maxStreamsPerUser: number;
  /**
   * Violations the library keeps per company (`rateLimit.violations.maxPerTenant`): when the
   * snapshot reads that many, older ones of the window were dropped and the counts are a floor.
   */
  violationsKept: number;
}

/** Injection token of the dashboard's `DashboardLimits`. */
export const DASHBOARD_LIMITS = Symbol('DASHBOARD_LIMITS');

/**
 * The dashboard's limits from the demo's configuration.
 *
 * @example
 * dashboardLimits(demoConfigFromEnv({})); // { maxStreamsPerUser: 5, violationsKept: 1_000 }
 */
export function dashboardLimits({ streams, coordination }: Pick<DemoConfig, 'streams' | 'coordination'>): DashboardLimits {
  return {
    maxStreamsPerUser: streams.maxPerUser,
    violationsKept: coordination.rateLimit?.violations?.maxPerTenant ?? DEFAULT_RATE_LIMIT_OPTIONS.violations.maxPerTenant,
  };
}
