import { Injectable } from '@nestjs/common';
import {
  CacheService, CoordinationError, LeaderService, LockService, RateLimitService, SessionService, StreamService, TaskHandler, TaskService,
  type TaskId,
} from '@nest-coordination/core';
import type { BootedModule } from '../support/boot.js';
import { sleep } from '../support/wait.js';

export const TENANT = { tenant: 'acme' } as const;
export const TASK = 'ledger.post';
export const STREAM = 'ledger';
export const GROUP = 'billing';
export const LOCK = 'ledger';
export const ROLE = 'ledger-coordinator';
/** Generous: the load reaches it in every window, so the checks never run out of room. */
export const POLICY = { limit: 100_000, windowMs: 60_000, ...TENANT } as const;

/** Runs the tasks of the load (on the instance that provides it). */
@Injectable()
export class LedgerWorker {
  readonly done = new Set<number>();

  @TaskHandler(TASK, { concurrency: 4 })
  async post(payload: { n: number }): Promise<number> {
    this.done.add(payload.n);
    return payload.n;
  }
}

/** A lock grant: when it was asked for and when granted (test process clock), and its fencing token. */
export interface Grant {
  requestedAt: number;
  grantedAt: number;
  token: number;
}

/** What the load had acknowledged (resolved) so far, by capability; `n` numbers each write. */
export interface Acknowledged {
  grants: Grant[];
  /** Leader terms as emitted by `leadership$` (token, when). */
  terms: Array<{ token: number; at: number }>;
  entries: Map<string, number>;
  tasks: Map<TaskId, number>;
  sessions: Map<string, number>;
  cache: Map<string, number>;
  decisions: number;
}

const copy = (a: Acknowledged): Acknowledged => ({
  grants: [...a.grants], terms: [...a.terms], entries: new Map(a.entries), tasks: new Map(a.tasks),
  sessions: new Map(a.sessions), cache: new Map(a.cache), decisions: a.decisions,
});

/**
 * Continuous load on a fleet of module instances: each runs one loop per capability (a lock of
 * the fleet taken and released, a rate-limit check, a cache write, a session created, a stream
 * append, a task enqueued) and campaigns for one leader role. Every write that resolved is
 * recorded; failures are counted, and any failure that is not a CoordinationError is kept (the
 * library must fail with typed errors, whatever the failover does to its connections).
 *
 * @example
 * const load = new FleetLoad([a, b]);
 * await load.flowing(20);
 * const before = load.snapshot();
 */
export class FleetLoad {
  readonly acked: Acknowledged = { grants: [], terms: [], entries: new Map(), tasks: new Map(), sessions: new Map(), cache: new Map(), decisions: 0 };
  readonly untyped: unknown[] = [];
  failures = 0;
  lastFailure = '';
  private running = true;
  private n = 0;
  private readonly loops: Array<Promise<void>>;
  private readonly subscriptions: Array<{ unsubscribe(): void }> = [];

  constructor(apps: readonly BootedModule[]) {
    this.loops = apps.flatMap((app, i) => this.start(app, i));
  }

  /** A copy of what was acknowledged so far. */
  snapshot(): Acknowledged {
    return copy(this.acked);
  }

  /** Number of acknowledged writes per capability, for `until` messages. */
  counts(): string {
    const a = this.acked;
    return `grants ${a.grants.length}, terms ${a.terms.length}, decisions ${a.decisions}, entries ${a.entries.size}, tasks ${a.tasks.size}, sessions ${a.sessions.size}, cache ${a.cache.size}; failures ${this.failures} (last: ${this.lastFailure})`;
  }

  /** True once every loop acknowledged at least `min` more writes than in `since` (terms aside: a term may last). */
  grew(since: Acknowledged, min: number): boolean {
    const a = this.acked;
    return a.grants.length >= since.grants.length + min && a.decisions >= since.decisions + min
      && a.entries.size >= since.entries.size + min && a.tasks.size >= since.tasks.size + min
      && a.sessions.size >= since.sessions.size + min && a.cache.size >= since.cache.size + min;
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const s of this.subscriptions) s.unsubscribe();
    await Promise.all(this.loops);
  }

  private start(app: BootedModule, i: number): Array<Promise<void>> {
    const locks = app.get(LockService);
    const rateLimits = app.get(RateLimitService);
    const cache = app.get(CacheService);
    const sessions = app.get(SessionService);
    const streams = app.get(StreamService);
    const tasks = app.get(TaskService);
    const campaign = app.get(LeaderService).campaign(ROLE, { leaseMs: 1_500, ...TENANT });
    this.subscriptions.push(campaign.leadership$.subscribe(({ leader, fencingToken }) => {
      if (leader && fencingToken !== undefined) this.acked.terms.push({ token: fencingToken, at: Date.now() });
    }));
    const a = this.acked;
    return [
      this.loop(async () => {
        const requestedAt = Date.now();
        const lock = await locks.acquire(LOCK, { ttlMs: 2_000, waitMs: 1_000, ...TENANT });
        a.grants.push({ requestedAt, grantedAt: Date.now(), token: lock.fencingToken });
        await lock.release().catch(() => undefined); // a release lost to the failover: the lock expires
      }),
      this.loop(async () => {
        if ((await rateLimits.consume(`rl-${i}`, POLICY)).source === 'redis') a.decisions += 1;
      }),
      this.loop(async (n) => {
        await cache.set(`entry-${n}`, n, { ttlMs: 600_000, ...TENANT });
        a.cache.set(`entry-${n}`, n);
      }),
      this.loop(async (n) => {
        a.sessions.set((await sessions.create(`user-${n}`, { n }, TENANT)).id, n);
      }),
      this.loop(async (n) => {
        a.entries.set(await streams.append(STREAM, { n }, TENANT), n);
      }),
      this.loop(async (n) => {
        a.tasks.set((await tasks.enqueue(TASK, { n }, TENANT)).id, n);
      }),
    ];
  }

  /** Runs `step` until stopped, paced so that the sentinels and servers keep a share of the machine. */
  private async loop(step: (n: number) => Promise<void>): Promise<void> {
    while (this.running) {
      try {
        await step(++this.n);
        await sleep(10); // pacing of a load loop, not a wait for a condition
      } catch (error) {
        this.failures += 1;
        this.lastFailure = error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error);
        if (!(error instanceof CoordinationError)) this.untyped.push(error);
        await sleep(20); // a failing loop is not a busy loop
      }
    }
  }
}
