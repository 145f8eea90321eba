import 'reflect-metadata';
import { EventBus, ManualClock, SessionService, type CoordinationEvent, type CoordinationModuleOptions } from '@nest-coordination/core';
// Internals of the sessions capability, for tests that reach below SessionService.
import { SessionKeys } from '../../libs/coordination/src/sessions/session-keys.js';
import { SessionPruner } from '../../libs/coordination/src/sessions/session-pruner.js';
import { SESSION_STORE, type SessionStore } from '../../libs/coordination/src/sessions/session-store.interface.js';
import { bootModule, type BootedModule } from '../support/boot.js';
import { uniquePrefix, type DriverCase } from '../support/drivers.js';
import type { CoordinationCore } from '../support/internals.js';
import { until } from '../support/wait.js';

/** Generous bound for what must happen (an event, a key expiring in Redis); nothing is timed. */
export const ARRIVAL_MS = 10_000;

/** The payload of every session event. */
export interface SessionEventPayload {
  handle: string;
  userId: string;
  reason?: string;
  companyId?: string;
  crewId?: string;
}

/** Session events of one tenant as they arrive. */
export interface EventLog {
  readonly events: CoordinationEvent<SessionEventPayload>[];
  /** Waits until `n` events of `channel` arrived; resolves with them. */
  received(channel: string, n: number): Promise<CoordinationEvent<SessionEventPayload>[]>;
  stop(): void;
}

/** One module instance with its SessionService. */
export interface SessionTestApp {
  readonly booted: BootedModule;
  readonly core: CoordinationCore;
  readonly sessions: SessionService;
  readonly store: SessionStore;
  readonly keys: SessionKeys;
  readonly pruner: SessionPruner;
  /** The module's clock (the memory store's time; Redis uses its own). */
  readonly clock: ManualClock;
  readonly prefix: string;
  /** Lets `ms` of store time pass: the ManualClock on memory; on Redis, waits until the server clock has moved that far. */
  elapse(ms: number): Promise<void>;
  /** Collects the `session.*` events of `tenant` (default: the shared namespace), subscribed before it resolves. */
  watch(tenant?: string): Promise<EventLog>;
  close(): Promise<void>;
}

/**
 * Boots a module on `driver` (a unique prefix unless given, health pings off, the background
 * pruner off unless `sessions.pruneIntervalMs` is given) on a ManualClock.
 *
 * @example
 * const app = await sessionApp(driver, { sessions: { maxPerUser: 2 } });
 * const session = await app.sessions.create('ada', {});
 */
export async function sessionApp(driver: DriverCase, options: CoordinationModuleOptions = {}): Promise<SessionTestApp> {
  const clock = new ManualClock(1_700_000_000_000);
  const prefix = options.prefix ?? uniquePrefix('sess');
  const booted = await bootModule({
    ...driver.options(), health: { pingIntervalMs: 0 }, clock, ...options, prefix, sessions: { pruneIntervalMs: 0, ...options.sessions },
  });
  const core = booted.core;
  const serverNow = async () => {
    const [seconds, micros] = await core.connection!.client.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  };
  return {
    booted,
    core,
    sessions: booted.get(SessionService),
    store: booted.get<SessionStore>(SESSION_STORE),
    keys: booted.get(SessionKeys),
    pruner: booted.get(SessionPruner),
    clock,
    prefix,
    async elapse(ms) {
      if (!core.connection) return clock.advance(ms);
      const target = (await serverNow()) + ms;
      await until(async () => (await serverNow()) >= target, { timeoutMs: ms + ARRIVAL_MS, intervalMs: Math.min(20, ms), message: `${ms} ms of server time` });
    },
    async watch(tenant) {
      const events: CoordinationEvent<SessionEventPayload>[] = [];
      const stream = booted.get(EventBus).on<SessionEventPayload>('session.*', tenant ? { tenant } : undefined);
      const subscription = stream.subscribe((event) => events.push(event));
      await stream.ready();
      return {
        events,
        received: async (channel, n) => {
          const of = () => events.filter((e) => e.channel === channel);
          await until(() => of().length >= n, { timeoutMs: ARRIVAL_MS, message: () => `${n} ${channel} events (got ${of().length})` });
          return of();
        },
        stop: () => subscription.unsubscribe(),
      };
    },
    close: () => booted.close(),
  };
}
