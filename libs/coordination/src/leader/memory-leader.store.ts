import type { Clock } from '../core/clock.js';
import type { CampaignReply, JobKeys, JobTickStore, LeaderKeys, LeaderRecord, LeaderStore, TickClaim } from './leader-store.interface.js';
import { JOB_STATE_RETENTION_MS } from './leader.scripts.js';

interface Lease { candidate: string; instanceId: string; fencingToken: number; electedAt: number; expiresAt: number }

interface JobState { last: number; holder?: string; fencingToken?: number; until?: number; expiresAt: number }

/**
 * As lua/fence.lua on Redis: the next token is the larger of the counter + 1 and the clock in
 * microseconds, so a new store (a restarted process) issues tokens above the ones issued before.
 */
function nextFence(counters: Map<string, number>, key: string, clock: Clock): number {
  const now = Math.max(1, Math.floor(clock.now() * 1_000));
  const next = Math.max((counters.get(key) ?? 0) + 1, now);
  counters.set(key, next);
  return next;
}

/**
 * Leader election in process memory, on the injected clock, with the semantics of the Lua
 * scripts (lua/campaign.lua, renew.lua, resign.lua, read.lua): one lease per role key, expired
 * once the clock reaches its end; fencing counters seeded from the clock in microseconds. Every
 * method reads and writes without an await in between, so concurrent calls are atomic.
 *
 * @example
 * const store = new MemoryLeaderStore(new ManualClock(0));
 * const reply = await store.campaign({ lease: 'l', fence: 'l:fence' }, 'node-a:x1', 'node-a', 10_000);
 */
export class MemoryLeaderStore implements LeaderStore {
  private readonly leases = new Map<string, Lease>();
  private readonly counters = new Map<string, number>();

  constructor(private readonly clock: Clock) {}

  async campaign(keys: LeaderKeys, candidate: string, instanceId: string, leaseMs: number): Promise<CampaignReply> {
    const now = this.clock.now();
    const held = this.live(keys.lease, now);
    if (held?.candidate === candidate) {
      held.expiresAt = now + leaseMs;
      return { elected: true, renewed: true, fencingToken: held.fencingToken, electedAt: held.electedAt, ttlMs: leaseMs };
    }
    if (held) return { elected: false, holder: recordOf(held, now) };
    const fencingToken = nextFence(this.counters, keys.fence, this.clock);
    this.leases.set(keys.lease, { candidate, instanceId, fencingToken, electedAt: now, expiresAt: now + leaseMs });
    return { elected: true, renewed: false, fencingToken, electedAt: now, ttlMs: leaseMs };
  }

  async renew(keys: LeaderKeys, candidate: string, fencingToken: number, leaseMs: number): Promise<boolean> {
    const now = this.clock.now();
    const held = this.live(keys.lease, now);
    if (held?.candidate !== candidate || held.fencingToken !== fencingToken) return false;
    held.expiresAt = now + leaseMs;
    return true;
  }

  async resign(keys: LeaderKeys, candidate: string, fencingToken: number): Promise<boolean> {
    const held = this.live(keys.lease, this.clock.now());
    if (held?.candidate !== candidate || held.fencingToken !== fencingToken) return false;
    this.leases.delete(keys.lease);
    return true;
  }

  async read(keys: LeaderKeys): Promise<LeaderRecord | null> {
    const now = this.clock.now();
    const held = this.live(keys.lease, now);
    return held ? recordOf(held, now) : null;
  }

  /** The lease of `key` unless it has expired (an expired one is dropped, as Redis drops the key). */
  private live(key: string, now: number): Lease | undefined {
    const lease = this.leases.get(key);
    if (lease && lease.expiresAt <= now) {
      this.leases.delete(key);
      return undefined;
    }
    return lease;
  }
}

/**
 * Once-per-fleet job ticks in process memory, on the injected clock, with the semantics of
 * lua/claim-tick.lua, renew-tick.lua and finish-tick.lua: monotonic ticks, no claim while a run
 * holds its lease, a state that lives JOB_STATE_RETENTION_MS after its latest claim.
 *
 * @example
 * const store = new MemoryJobTickStore(new ManualClock(0));
 * const claim = await store.claimTick({ state: 'j', fence: 'j:fence' }, 60_000, 'node-a:x1', 30_000);
 */
export class MemoryJobTickStore implements JobTickStore {
  private readonly states = new Map<string, JobState>();
  private readonly counters = new Map<string, number>();

  constructor(private readonly clock: Clock) {}

  async claimTick(keys: JobKeys, tickMs: number, owner: string, leaseMs: number): Promise<TickClaim> {
    const now = this.clock.now();
    const state = this.live(keys.state, now);
    if (state && state.last >= tickMs) return { claimed: false, reason: 'taken', lastTickMs: state.last };
    const expiresAt = now + Math.max(JOB_STATE_RETENTION_MS, leaseMs);
    if (state?.holder !== undefined && state.until !== undefined && state.until > now) {
      state.last = tickMs;
      state.expiresAt = expiresAt;
      return { claimed: false, reason: 'running', lastTickMs: tickMs };
    }
    const fencingToken = nextFence(this.counters, keys.fence, this.clock);
    this.states.set(keys.state, { last: tickMs, holder: owner, fencingToken, until: now + leaseMs, expiresAt });
    return { claimed: true, fencingToken };
  }

  async renewTick(keys: JobKeys, owner: string, fencingToken: number, leaseMs: number): Promise<boolean> {
    const now = this.clock.now();
    const state = this.running(keys.state, owner, fencingToken, now);
    if (!state) return false;
    state.until = now + leaseMs;
    state.expiresAt = Math.max(state.expiresAt, now + leaseMs);
    return true;
  }

  async finishTick(keys: JobKeys, owner: string, fencingToken: number): Promise<boolean> {
    const state = this.running(keys.state, owner, fencingToken, this.clock.now());
    if (!state) return false;
    state.holder = undefined;
    state.until = undefined;
    return true;
  }

  /** The state of `key` when `owner`'s run `fencingToken` holds a live lease. */
  private running(key: string, owner: string, fencingToken: number, now: number): JobState | undefined {
    const state = this.live(key, now);
    return state?.holder === owner && state.fencingToken === fencingToken && state.until !== undefined && state.until > now ? state : undefined;
  }

  private live(key: string, now: number): JobState | undefined {
    const state = this.states.get(key);
    if (state && state.expiresAt <= now) {
      this.states.delete(key);
      return undefined;
    }
    return state;
  }
}

function recordOf(lease: Lease, now: number): LeaderRecord {
  return { candidate: lease.candidate, instanceId: lease.instanceId, fencingToken: lease.fencingToken, electedAt: lease.electedAt, ttlMs: lease.expiresAt - now };
}
