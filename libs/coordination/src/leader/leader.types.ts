/** Options of `LeaderService.campaign()`. Every field is optional. */
export interface CampaignOptions {
  /**
   * How long a term lasts without renewal, ms (renewed at a third of it). A leader that dies is
   * replaced within about this long. Default `leader.leaseMs` (10 s).
   */
  leaseMs?: number;
  /** Tenant of the role (each tenant has its own leaders); default the tenant of the current context (TenantRequiredError without one when tenancy is required). */
  tenant?: string;
  /** A fleet-wide role, outside every tenant (the shared namespace), also when tenancy is required. Not with `tenant`. */
  fleet?: boolean;
}

/** Options naming a role's tenant. */
export interface RoleOptions {
  /** Default the tenant of the current context (TenantRequiredError without one when tenancy is required). */
  tenant?: string;
  /** The fleet-wide role of that name (see CampaignOptions.fleet). */
  fleet?: boolean;
}

/** One term of this instance as leader of a role. */
export interface LeadershipTerm {
  readonly role: string;
  readonly tenant: string;
  /** Strictly higher than every earlier term's of the role (pass it to what the leader writes, and check it there). */
  readonly fencingToken: number;
  readonly electedAt: Date;
  /** Aborts when the term ends: lost or resigned (reason: LeaderLostError naming why), or at shutdown (LeaderShutdownError). */
  readonly signal: AbortSignal;
}

/** A change of this instance's leadership of a role, as `LeaderService.leadership()` emits it. */
export interface LeadershipChange {
  readonly role: string;
  readonly tenant: string;
  readonly leader: boolean;
  /** The term's token while leader; the ended term's when not (absent before the first term). */
  readonly fencingToken?: number;
  /** Why a term ended (with `leader: false` after a term). */
  readonly reason?: LeadershipLossReason;
}

/** Why a term ended: `resigned` (resign()), `expired` (renewal came too late or Redis was unreachable past the lease), `replaced` (another candidate holds the role), `shutdown` (the application shut down: the term was resigned). */
export type LeadershipLossReason = 'resigned' | 'expired' | 'replaced' | 'shutdown';

/** Who leads a role fleet-wide (`LeaderService.leader()`). */
export interface LeaderInfo {
  readonly role: string;
  readonly tenant: string;
  /** The `instanceId` of the leader's module. */
  readonly instanceId: string;
  /** Whether the leader is this module instance. */
  readonly self: boolean;
  readonly fencingToken: number;
  readonly electedAt: Date;
  /** When the lease ends unless renewed (the leader renews at a third of it). */
  readonly expiresAt: Date;
}

/** Payload of the `leader.elected` event (emitted under the role's tenant). */
export interface LeaderElectedEvent {
  role: string;
  instanceId: string;
  fencingToken: number;
}

/** Payload of the `leader.lost` event. */
export interface LeaderLostEvent {
  role: string;
  instanceId: string;
  fencingToken: number;
  reason: LeadershipLossReason;
}

/** Options of `@SingletonJob()`. */
export interface SingletonJobOptions {
  /**
   * How long one run holds the job without renewal, ms (renewed at a third of it while the handler
   * runs). Later ticks are skipped while a run holds it, on every instance; a run whose instance
   * died holds it this long. Default `leader.jobLeaseMs` (60 s).
   */
  leaseMs?: number;
}

/** What a `@SingletonJob` handler receives as its first argument: the tick it runs. */
export interface JobTick {
  readonly job: string;
  /** The scheduled time of this tick (the same on every instance). */
  readonly scheduledAt: Date;
  /** Strictly higher than every earlier run's of the job. */
  readonly fencingToken: number;
  /** Aborts when the run lease is lost (LeaderLostError: refused or not renewed by its local expiry) or the application shuts down (LeaderShutdownError). */
  readonly signal: AbortSignal;
}
