import {
  CacheService, EventBus, HTTP_STATUS_BY_CODE, IdempotencyService, LockService, RateLimitService, RedisUnavailableError, SessionService,
  StreamService, TaskService,
} from '@nest-coordination/core';
import type { BootedModule } from '../support/boot.js';
import { rejectionOf, until } from '../support/wait.js';
import { RECOVERY_MS } from './partition-pair.js';

/** The services of one module instance that the partition tests drive. */
export interface Services {
  readonly locks: LockService;
  readonly rateLimits: RateLimitService;
  readonly cache: CacheService;
  readonly events: EventBus;
  readonly streams: StreamService;
  readonly tasks: TaskService;
  readonly sessions: SessionService;
  readonly idempotency: IdempotencyService;
}

export function servicesOf(app: BootedModule): Services {
  return {
    locks: app.get(LockService),
    rateLimits: app.get(RateLimitService),
    cache: app.get(CacheService),
    events: app.get(EventBus),
    streams: app.get(StreamService),
    tasks: app.get(TaskService),
    sessions: app.get(SessionService),
    idempotency: app.get(IdempotencyService),
  };
}

export const TENANT = { tenant: 'acme' } as const;
export const POLICY = { limit: 100, windowMs: 60_000, ...TENANT } as const;

/**
 * The operation a call was refused with when it failed as Redis being unreachable
 * (CircuitOpenError included), an error the HTTP layer answers with 503; fails the test otherwise.
 */
export async function unavailable(call: Promise<unknown>): Promise<string> {
  const error = await rejectionOf(call);
  if (!(error instanceof RedisUnavailableError)) throw new Error(`expected a RedisUnavailableError, got ${String(error)}`);
  const status = HTTP_STATUS_BY_CODE[error.code];
  if (status !== 503) throw new Error(`expected ${error.code} to be answered with 503 over HTTP, got ${status}`);
  return error.operation ?? '';
}

/**
 * One round of every capability on `s`, each checked for what a healthy instance answers: the
 * lock taken and released, the rate limit decided by Redis, a cache write read back, an event
 * published, a stream entry, a task and a session stored.
 */
export async function worksFully(s: Services, label: string): Promise<void> {
  const lock = await s.locks.acquire(`${label}:lock`, { ttlMs: 5_000, waitMs: 2_000, ...TENANT });
  await lock.release();
  // After an outage the local limiter keeps answering until three probes in a row got a reply in
  // time (README, rate limits): poll until Redis decides again.
  let source = '';
  await until(async () => {
    const decision = await s.rateLimits.consume(`${label}:rl`, POLICY);
    source = decision.source;
    return decision.source === 'redis' && decision.allowed;
  }, { timeoutMs: RECOVERY_MS, intervalMs: 100, message: () => `${label}: rate limits decided by Redis (last answer from ${source})` });
  await s.cache.set(`${label}:cache`, { label }, TENANT);
  const read = await s.cache.get<{ label: string }>(`${label}:cache`, TENANT);
  if (read?.label !== label) throw new Error(`${label}: cache read back ${JSON.stringify(read)}`);
  await s.events.publish('probe.ping', { label }, TENANT);
  await s.streams.append('probe', { label }, TENANT);
  await s.tasks.enqueue('probe.task', { label }, TENANT);
  await s.sessions.create(`${label}-user`, { label }, TENANT);
}
