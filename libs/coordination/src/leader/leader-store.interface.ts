/** Keys of one leadership role: the lease (a hash) and its fencing counter, one hash tag. */
export interface LeaderKeys {
  /** `<prefix>:<tenant>:leader:{<role>}`: hash { candidate, instance, token, since }, PEXPIRE = the lease. */
  readonly lease: string;
  /** `<prefix>:<tenant>:leader:{<role>}:fence`: the role's fencing counter (as locks': tokens follow the server clock in microseconds, the counter expires 7 days after its seed). */
  readonly fence: string;
}

/** Who leads a role, as the store holds it. */
export interface LeaderRecord {
  /** The campaign's own id (`<instanceId>:<random>`): one instance may campaign twice for a role in two module instances. */
  candidate: string;
  /** Instance id of the leader's module (`instanceId` option). */
  instanceId: string;
  fencingToken: number;
  /** When this term began, by the store's clock (Redis server time; the injected clock in memory). */
  electedAt: number;
  /** How long the lease lives unless renewed, ms. */
  ttlMs: number;
}

/** Reply of `campaign`. */
export type CampaignReply =
  /** `candidate` leads: a new term (a new, higher fencing token) or its own term renewed (`renewed`, same token). */
  | { elected: true; renewed: boolean; fencingToken: number; electedAt: number; ttlMs: number }
  /** Someone else leads for `holder.ttlMs` more unless renewed. */
  | { elected: false; holder: LeaderRecord };

/**
 * Atomic primitives of leader election (Lua on Redis, one round trip each; the same contract in
 * memory). One lease per role; a term is one uninterrupted lease with one fencing token, strictly
 * higher than every earlier term's of the role.
 *
 * @example
 * const reply = await store.campaign(keys, 'node-a:x1', 'node-a', 10_000);
 * if (reply.elected) setInterval(() => store.renew(keys, 'node-a:x1', reply.fencingToken, 10_000), 3_333);
 */
export interface LeaderStore {
  /** Takes the lease if free (new term) or renews it if `candidate` holds it; else names the holder. */
  campaign(keys: LeaderKeys, candidate: string, instanceId: string, leaseMs: number): Promise<CampaignReply>;
  /** Extends the lease of `candidate`'s term `fencingToken`; false when that term is over (expired or another leads). */
  renew(keys: LeaderKeys, candidate: string, fencingToken: number, leaseMs: number): Promise<boolean>;
  /** Ends `candidate`'s term `fencingToken` now (deletes the lease); false when that term was already over. */
  resign(keys: LeaderKeys, candidate: string, fencingToken: number): Promise<boolean>;
  /** The current leader, or null when the role has none. */
  read(keys: LeaderKeys): Promise<LeaderRecord | null>;
}

/** Keys of one singleton job (tenant `_shared`): state hash and fencing counter, one hash tag. */
export interface JobKeys {
  /** `<prefix>:_shared:jobs:{<name>}`: hash { last (tick ms), holder, token, until (server ms) }. */
  readonly state: string;
  /** `<prefix>:_shared:jobs:{<name>}:fence`: fencing counter, as for leaders. */
  readonly fence: string;
}

/** Reply of `claimTick`. */
export type TickClaim =
  /** The caller runs tick `tickMs`, holding the run lease (`leaseMs`) with `fencingToken`. */
  | { claimed: true; fencingToken: number }
  /**
   * Not the caller's: 'taken' (an instance claimed this tick or a later one: `lastTickMs`), or
   * 'running' (an earlier tick's run still holds the lease; this tick is marked taken and skipped).
   */
  | { claimed: false; reason: 'taken' | 'running'; lastTickMs: number };

/**
 * Atomic primitives of once-per-fleet jobs. A tick (the scheduled time, ms since the epoch, as
 * computed by every instance from the same schedule) is claimed at most once: a claim succeeds
 * only for a tick later than the last claimed one, and only when no earlier run still holds the
 * run lease (no claim while a run's lease lives; a run that outlives its lease is for its holder
 * to stop, through the signal the runner aborts at its local expiry).
 *
 * @example
 * const claim = await store.claimTick(keys, Date.parse('2026-11-30T02:00:00Z'), 'node-a:x1', 60_000);
 * if (claim.claimed) try { await job(claim.fencingToken); } finally { await store.finishTick(keys, 'node-a:x1', claim.fencingToken); }
 */
export interface JobTickStore {
  claimTick(keys: JobKeys, tickMs: number, owner: string, leaseMs: number): Promise<TickClaim>;
  /** Extends the run lease of `owner`'s run `fencingToken`; false when it is over (expired, finished). */
  renewTick(keys: JobKeys, owner: string, fencingToken: number, leaseMs: number): Promise<boolean>;
  /** Frees the run lease of `owner`'s run `fencingToken`; false when it had already expired. */
  finishTick(keys: JobKeys, owner: string, fencingToken: number): Promise<boolean>;
}

/** Injection tokens of the stores chosen from the driver. */
export const LEADER_STORE = Symbol('LEADER_STORE');
export const JOB_TICK_STORE = Symbol('JOB_TICK_STORE');
